"""Assert that the kernel's output equals the brute-force reference, field by field."""

from __future__ import annotations

import numpy as np

from crayfis.coincidence.kernel import CoincidenceResult, TriggeredWindows
from tests.reference.brute import BruteResult


def assert_windows_equal(tw: TriggeredWindows, ref: BruteResult, only=None):
    expected = ref.triggered if only is None else [a for a in ref.triggered if only[a]]
    assert tw.anchors.tolist() == expected
    for i, a in enumerate(tw.anchors.tolist()):
        got = tw.members[tw.member_offsets[i]:tw.member_offsets[i + 1]].tolist()
        assert got == ref.windows[a], f"window of anchor {a}"
        assert tw.window_sizes[i] == len(ref.windows[a])
        assert tw.window_devices[i] == ref.window_devices[a]


def assert_result_equal(res: CoincidenceResult, ref: BruteResult, t, dev):
    assert_windows_equal(res.windows, ref)
    assert res.triggered.tolist() == ref.triggered
    got = [res.candidate_members(i).tolist() for i in range(res.n_candidates)]
    assert got == ref.candidates
    assert res.cand_first_anchor.tolist() == ref.first_anchors
    for i, anchors in enumerate(ref.candidate_anchors):
        a = res.cand_anchors[res.cand_anchor_offsets[i]:res.cand_anchor_offsets[i + 1]]
        assert a.tolist() == anchors
        members = ref.candidates[i]
        assert res.cand_n_devices[i] == len(set(dev[members].tolist()))
        assert res.cand_n_hits[i] == len(members)
        assert res.cand_t_start_ms[i] == min(t[members])
        assert res.cand_t_end_ms[i] == max(t[members])
        assert res.cand_multiplicity[i] == max(ref.window_devices[x] for x in anchors)
    assert np.all(np.abs(res.cand_lat) <= 90) and np.all(np.abs(res.cand_lon) <= 180)

"""Windows from time-slab partitions (core anchors + a tau halo), merged globally, give the
same candidates as one search over everything: what the Spark job relies on."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.coincidence.kernel import find_coincidences, triggered_windows
from crayfis.coincidence.merge import merge_windows

from .scenes import scenes


@settings(max_examples=60, deadline=None, derandomize=True)
@given(scene=scenes(), n_slabs=st.integers(1, 5))
def test_partitioned_search_equals_global_search(scene, n_slabs):
    t = scene.t
    whole = find_coincidences(*scene.args())
    if len(t) == 0:
        return
    edges = np.linspace(t.min(), t.max() + 1, n_slabs + 1).astype(np.int64)
    anchors, offsets, members = [], [0], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        part = np.flatnonzero((t >= lo) & (t < hi + scene.tau))  # core plus the tau halo
        core = t[part] < hi
        tw = triggered_windows(t[part], scene.lat[part], scene.lon[part], scene.dev[part],
                               scene.tau, scene.radius, scene.k, anchor_mask=core)
        anchors.append(part[tw.anchors])  # local -> global ids
        members.append(part[tw.members])
        offsets.extend((tw.member_offsets[1:] + offsets[-1]).tolist())
    anchors, members = np.concatenate(anchors), np.concatenate(members)
    merged = merge_windows(anchors, np.array(offsets), members, anchor_t=t[anchors], member_t=t[members])
    assert sorted(anchors.tolist()) == whole.triggered.tolist()
    assert np.array_equal(merged.offsets, whole.cand_offsets)
    assert np.array_equal(merged.members, whole.cand_members)
    assert np.array_equal(merged.first_anchor, whole.cand_first_anchor)

"""Merging windows into candidates, as the Spark job and the continuous search use it."""

from __future__ import annotations

import numpy as np

from crayfis.coincidence.merge import candidate_id, candidate_ids, merge_windows


def test_windows_sharing_a_hit_merge_transitively_with_global_ids():
    # windows: 100 -> {100, 7}, 300 -> {300, 50}, 200 -> {200, 7, 300} links the first two
    anchors = np.array([100, 300, 200, 900])
    offsets = np.array([0, 2, 4, 7, 8])
    members = np.array([100, 7, 300, 50, 200, 7, 300, 900])
    t = {100: 5, 7: 6, 300: 9, 50: 10, 200: 8, 900: 1}
    mc = merge_windows(anchors, offsets, members,
                       anchor_t=[t[a] for a in anchors], member_t=[t[m] for m in members])
    assert mc.n_candidates == 2
    assert mc.first_anchor.tolist() == [900, 100]  # ordered by first anchor time
    assert mc.members[mc.offsets[0]:mc.offsets[1]].tolist() == [900]
    assert mc.members[mc.offsets[1]:mc.offsets[2]].tolist() == [100, 7, 200, 300, 50]  # by time
    assert mc.anchors[mc.anchor_offsets[1]:mc.anchor_offsets[2]].tolist() == [100, 200, 300]
    assert mc.n_triggered_anchors.tolist() == [1, 3]


def test_duplicate_windows_from_overlapping_partitions_change_nothing():
    anchors = np.array([5, 9])
    offsets = np.array([0, 2, 4])
    members = np.array([5, 6, 9, 10])
    once = merge_windows(anchors, offsets, members)
    twice = merge_windows(np.r_[anchors, anchors], np.array([0, 2, 4, 6, 8]), np.r_[members, members])
    for field in ("offsets", "members", "anchor_offsets", "anchors", "first_anchor"):
        assert np.array_equal(getattr(once, field), getattr(twice, field))
    assert once.first_anchor.tolist() == [5, 9]


def test_no_windows():
    mc = merge_windows(np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64))
    assert mc.n_candidates == 0 and mc.offsets.tolist() == [0]


def test_candidate_id_is_stable_and_distinct():
    assert candidate_id("hit-1") == candidate_id("hit-1")
    assert candidate_id("hit-1") != candidate_id("hit-2")
    assert candidate_id("hit-1").startswith("c") and len(candidate_id("hit-1")) == 17
    assert candidate_id("abc") == "ca9993e364706816a"  # sha1("abc") = a9993e36 4706816a ...


def test_candidate_ids_take_str_or_utf8_bytes_alike():
    names = ["abc", "h-é-1", "", 42]
    expected = [candidate_id(h) for h in names]
    assert candidate_ids(names) == expected
    assert candidate_ids([str(h).encode("utf-8") for h in names]) == expected

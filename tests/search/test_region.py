"""The re-search region: anchors of touched buckets plus the tau halo, closed under candidate overlap."""
from __future__ import annotations

import numpy as np

from search.region import anchor_intervals, close_region, contains, hit_ranges, merge_intervals


def test_merge_joins_overlapping_and_touching_intervals_only():
    assert merge_intervals([(5, 9), (0, 3), (4, 4), (20, 30), (25, 26), (32, 40)]) == \
        [(0, 9), (20, 30), (32, 40)]
    assert merge_intervals([(3, 2)]) == []


def test_anchors_of_a_bucket_start_tau_before_it():
    # a hit at the bucket start b is in the windows of anchors in [b - tau, b]
    assert anchor_intervals([60_000, 120_000], 60_000, 100) == [(59_900, 179_999)]
    assert anchor_intervals([60_000, 240_000], 60_000, 100) == [(59_900, 119_999), (239_900, 299_999)]
    assert hit_ranges([(59_900, 119_999)], 100) == [(59_900, 120_099)]


def test_contains_is_inclusive_at_both_ends():
    got = contains([(10, 20), (30, 30)], np.array([9, 10, 20, 21, 29, 30, 31]))
    assert got.tolist() == [False, True, True, False, False, True, False]


def test_closure_follows_chains_of_candidates_until_nothing_changes():
    # candidates as spans; one chain reaches from 50 to 900 through overlaps with hit ranges
    spans = [(50, 120), (180, 400), (390, 900), (2000, 2100)]
    asked = []

    def overlapping(ranges):
        asked.append(ranges)
        return [s for s in spans if any(s[0] <= hi and s[1] >= lo for lo, hi in ranges)]

    region = close_region([(100, 150)], 40, overlapping)
    # (100,150) reads up to 190: meets (50,120) and (180,400); then (390,900) via 400+40.
    # Anchors 151..179 are not re-evaluated: their windows saw nothing new.
    assert region == [(50, 150), (180, 900)]
    assert all(not (2000 <= hi and lo <= 2100) for lo, hi in hit_ranges(region, 40))
    assert len(asked) == 3  # two rounds that grow, one that confirms

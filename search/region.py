"""Which part of the time axis a re-search must cover so that its result stays exact.

New hits at time t change the windows of anchors with t_a in [t - tau, t] and nothing else. So
for touched buckets [b, b + width) the anchors to re-evaluate are [b - tau, b + width - 1], and
their windows read hits up to tau later. That is not enough on its own: a candidate is a chain
of windows, and a re-evaluated window may join a chain whose other anchors lie outside. The
region is therefore closed under candidate overlap: every existing (active) candidate whose
time span meets the hits the region reads has its whole span added to the anchors, until
nothing changes. Then no triggered window of an anchor outside the region shares a hit with one
inside (it would belong to an overlapping candidate, whose span is inside), so the components
found for anchors inside are exactly the global ones, and the existing candidates they replace
are exactly those that overlap.

Intervals are inclusive integer-ms pairs (lo, hi), kept sorted and disjoint.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

Interval = tuple[int, int]


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint union of inclusive intervals (touching ones, like [1,2] [3,4], join)."""
    out: list[list[int]] = []
    for lo, hi in sorted((int(a), int(b)) for a, b in intervals):
        if hi < lo:
            continue
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(a, b) for a, b in out]


def anchor_intervals(bucket_starts: Iterable[int], bucket_ms: int, tau_ms: int) -> list[Interval]:
    """Anchors whose windows can see a hit in one of the buckets [b, b + bucket_ms)."""
    return merge_intervals((int(b) - tau_ms, int(b) + bucket_ms - 1) for b in bucket_starts)


def hit_ranges(anchors: Sequence[Interval], tau_ms: int) -> list[Interval]:
    """The hits that windows of these anchors can hold: each interval extended by tau."""
    return merge_intervals((lo, hi + tau_ms) for lo, hi in anchors)


def contains(intervals: Sequence[Interval], t) -> object:
    """Boolean mask (numpy) or bool: which times lie in one of the intervals."""
    t_arr = np.asarray(t, dtype=np.int64)
    if not intervals:
        return np.zeros(t_arr.shape, dtype=bool)
    lo = np.array([a for a, _ in intervals], dtype=np.int64)
    hi = np.array([b for _, b in intervals], dtype=np.int64)
    i = np.searchsorted(lo, t_arr, side="right") - 1
    ok = i >= 0
    return ok & (t_arr <= hi[np.clip(i, 0, None)])


def close_region(anchors: Sequence[Interval], tau_ms: int,
                 spans_overlapping: Callable[[list[Interval]], Iterable[Interval]],
                 max_rounds: int = 1000) -> list[Interval]:
    """Grow the anchor intervals until every candidate span meeting their hit ranges is inside.

    ``spans_overlapping(ranges)`` returns the (t_start, t_end) spans of the active candidates
    that overlap any of the inclusive ``ranges``. Each round only grows the region, and spans
    are finite, so this ends; ``max_rounds`` guards a store that keeps inventing spans.
    """
    region = merge_intervals(anchors)
    for _ in range(max_rounds):
        spans = list(spans_overlapping(hit_ranges(region, tau_ms)))
        grown = merge_intervals([*region, *spans])
        if grown == region:
            return region
        region = grown
    raise RuntimeError("candidate closure did not converge")

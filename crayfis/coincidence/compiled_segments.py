"""Compiled (numba) lookup of each anchor's background segment (significance.SegmentModel).

Why: the segment of an anchor is the number of its device's edge times at or before it. As one
numpy search over all devices' edges that is a random-access search per anchor into an array
of millions. Anchors in time order (the usual case) are
instead swept together with all edges in time order, keeping each device's current segment
in a small array: one increment per edge and one lookup per anchor, no search. Anchors in any
other order get a binary search among their own device's edges.
"""

from __future__ import annotations

import numpy as np

from .compiled import compiled
from .compiled_checks import is_time_ordered


@compiled
def _segment_ids(dev_idx, t, edge_offsets, edge_times, out):
    for i in range(len(dev_idx)):
        d = dev_idx[i]
        lo, hi = edge_offsets[d], edge_offsets[d + 1]
        ti = t[i]
        while lo < hi:  # first edge of d greater than t: edges <= t come before the segment
            mid = (lo + hi) >> 1
            if edge_times[mid] <= ti:
                lo = mid + 1
            else:
                hi = mid
        out[i] = lo + d  # d's segments are numbered from edge_offsets[d] + d


@compiled
def _sweep(dev_idx, t, edge_offsets, sweep_dev, sweep_time, out):
    """Anchors with non-decreasing t; edges (device, time) sorted by time."""
    current = edge_offsets[:-1] + np.arange(len(edge_offsets) - 1)  # each device's segment 0
    p, n_edges = 0, len(sweep_time)
    for i in range(len(dev_idx)):
        ti = t[i]
        while p < n_edges and sweep_time[p] <= ti:
            current[sweep_dev[p]] += 1
            p += 1
        out[i] = current[dev_idx[i]]


def segment_ids(dev_idx: np.ndarray, t: np.ndarray, edge_offsets: np.ndarray,
                edge_times: np.ndarray, sweep_dev: np.ndarray | None = None,
                sweep_time: np.ndarray | None = None) -> np.ndarray:
    """Global segment number of each (device index, time); see SegmentModel.

    ``sweep_dev``/``sweep_time``: every edge as (device, time) in time order, which enables
    the sweep for anchors in time order."""
    dev_idx = np.ascontiguousarray(dev_idx, dtype=np.int64)
    t = np.ascontiguousarray(t, dtype=np.int64)
    if len(dev_idx) and (dev_idx.min() < 0 or dev_idx.max() >= len(edge_offsets) - 1):
        raise IndexError("device index outside the segment model")
    out = np.empty(len(dev_idx), dtype=np.int64)
    if sweep_dev is not None and is_time_ordered(t):
        _sweep(dev_idx, t, np.ascontiguousarray(edge_offsets, dtype=np.int64), sweep_dev,
               sweep_time, out)
        return out
    _segment_ids(dev_idx, t, np.ascontiguousarray(edge_offsets, dtype=np.int64),
                 np.ascontiguousarray(edge_times, dtype=np.int64), out)
    return out

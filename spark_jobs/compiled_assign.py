"""Partition assignment, compiled, with each task's copies side by side: the general path's
copy stage.

The rule is defined in Python: ``PartitionPlan.assign`` (partitioning.py), with its home slab
(``PartitionPlan.slab_of``), home tile (``TileGrid.home_tile``) and tiles within reach
(``TileGrid.tiles_within_reach``). A hit goes to every (slab, tile) whose core may hold an
anchor with the hit in its window: the slabs of t - tau .. t and the tiles within reach (R,
padded) of it. This module restates that rule as one compiled pass per batch of hits (numpy's
version makes a dozen temporary arrays per hit and costs about ten times as much), and puts
the copies bound for one task next to each other, in input order, so the stage can hand each
task its copies as one block. tests/spark/test_compiled_assign.py pins the two together, copy
for copy, on hits at tile, band, slab and antimeridian edges and at the poles: change the rule
there first.

Exactness does not hang on the trigonometry matching numpy's to the last bit: the home slab
and tile use only +, -, *, /, floor and mod (exact IEEE operations, in the order Python
writes them), and the reach is padded by ~1 cm (``tiles.PAD_DEG``), far more than a last-bit
difference in cos or arcsin.
"""
from __future__ import annotations

import numpy as np

from crayfis.coincidence.compiled import compiled
from spark_jobs.partitioning import PartitionPlan
from spark_jobs.tiles import PAD_DEG


@compiled(inline=True)
def _slab_of(bounds, t):
    """Number of slab cut points <= t (``PartitionPlan.slab_of``)."""
    lo, hi = 0, len(bounds)
    while lo < hi:
        mid = (lo + hi) >> 1
        if bounds[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo


@compiled(inline=True)
def _band_of(lat, band_deg, n_bands):
    b = np.int64(np.floor((lat + 90.0) / band_deg))
    return min(max(b, 0), n_bands - 1)


@compiled
def _copies(t, lat, lon, window_ms, bounds, band_deg, per_band, offset, reach, sin_reach, pad,
            task_of_slab, fill, half_lon, cursor, out_idx, out_key, out_home):
    """One pass over the hits. ``fill`` False: count each task's copies into ``cursor`` and
    each hit's longitude reach into ``half_lon``. ``fill`` True: ``cursor`` holds each task's
    first slot; write every copy there, in hit order (hit index, partition key, is home)."""
    n_bands = len(per_band)
    n_tiles = offset[n_bands - 1] + per_band[n_bands - 1]
    for i in range(len(t)):
        h_lat, h_lon = lat[i], lon[i]
        s0 = _slab_of(bounds, t[i] - window_ms)
        s1 = _slab_of(bounds, t[i])
        hb = _band_of(h_lat, band_deg, n_bands)
        hn = per_band[hb]
        x = (h_lon + 180.0) % 360.0
        home_tile = offset[hb] + min(np.int64(np.floor(x * hn / 360.0)), hn - 1)
        lat_lo, lat_hi = h_lat - reach, h_lat + reach
        if fill:
            half = half_lon[i]
        else:  # the bounding box of the cap of radius R: a cap over a pole takes every longitude
            half = 180.0
            if not (lat_hi >= 90.0 or lat_lo <= -90.0):
                ratio = sin_reach / np.cos(np.radians(h_lat))
                if ratio < 1.0:
                    half = np.degrees(np.arcsin(min(max(ratio, 0.0), 1.0))) + pad
            half_lon[i] = half
        full = half >= 180.0
        b0 = _band_of(lat_lo, band_deg, n_bands)
        b1 = _band_of(lat_hi, band_deg, n_bands)
        for slab in range(s0, s1 + 1):
            task = task_of_slab[slab]
            for band in range(b0, b1 + 1):
                n = per_band[band]
                if full:
                    i0, count = 0, n
                else:
                    width = 360.0 / n
                    i0 = np.int64(np.floor((h_lon - half + 180.0) / width))
                    i1 = np.int64(np.floor((h_lon + half + 180.0) / width))
                    count = min(i1 - i0 + 1, n)
                if not fill:
                    cursor[task] += count
                    continue
                for j in range(count):
                    tile = offset[band] + (i0 + j) % n
                    at = cursor[task]
                    out_idx[at] = i
                    out_key[at] = slab * n_tiles + tile
                    out_home[at] = slab == s1 and tile == home_tile
                    cursor[task] = at + 1


def copies_by_task(plan: PartitionPlan, task_of_slab: np.ndarray, n_tasks: int, t, lat, lon):
    """(task offsets, hit index, partition key, is home) of every copy of every hit, task by
    task (``offsets[j]:offsets[j + 1]`` are task j's), in hit order within a task; the copies
    are those of ``plan.assign``."""
    t = np.ascontiguousarray(t, dtype=np.int64)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    grid = plan.grid
    per_band, offset = grid.band_arrays()
    bounds = np.asarray(plan.slab_bounds, dtype=np.int64)
    task_of_slab = np.ascontiguousarray(task_of_slab, dtype=np.int64)
    reach = grid.reach_deg
    sin_reach = float(np.sin(np.radians(reach)))  # numpy's, as tiles_within_reach computes it
    args = (t, lat, lon, np.int64(plan.window_ms), bounds, float(grid.band_deg), per_band, offset,
            reach, sin_reach, PAD_DEG, task_of_slab)
    counts = np.zeros(n_tasks, dtype=np.int64)
    half_lon = np.empty(len(t), dtype=np.float64)
    empty_i, empty_b = np.zeros(0, np.int64), np.zeros(0, np.bool_)
    _copies(*args, False, half_lon, counts, empty_i, empty_i, empty_b)
    offsets = np.zeros(n_tasks + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    idx = np.empty(offsets[-1], dtype=np.int64)
    key = np.empty(offsets[-1], dtype=np.int64)
    home = np.empty(offsets[-1], dtype=np.bool_)
    _copies(*args, True, half_lon, offsets[:-1].copy(), idx, key, home)
    return offsets, idx, key, home

"""Which partitions each hit goes to: time slabs x spatial tiles, with a halo of tau and R.

A partition is one (slab, tile). Its core is the slab's time interval times the tile's area;
each hit has exactly one home partition (the core that holds it) and is copied into every
partition whose core holds an anchor that could have the hit in its window: anchors a with
t_h - tau <= t_a <= t_h within R of h. So every window of a core anchor is complete inside that
partition, and evaluating only core anchors there gives each triggered window exactly once.

Slabs are cut at evenly spaced times (``uniform_cuts``: as many slabs as the hits need, so a
dense city's hits spread over many slabs instead of one task) or at the multiples of a fixed
length (``aligned_cuts``). This module is the definition of the assignment; the copy stage
restates it compiled (compiled_assign.py, pinned to this copy for copy). Pure numpy: no Spark
here, so it is testable on its own.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spark_jobs.tiles import TileGrid, expand_ranges

MAX_ALIGNED_SLABS = 100_000


def uniform_cuts(t_min: int, t_max: int, n_slabs: int, window_ms: int) -> np.ndarray:
    """Cut points that split [t_min, t_max] into ``n_slabs`` equal slabs (each wider than tau).

    A dense city still spreads over many tasks, since its hits spread over all slabs in time.
    """
    span = int(t_max) - int(t_min) + 1
    if n_slabs <= 1 or span <= 1:
        return np.zeros(0, dtype=np.int64)
    width = max(int(window_ms) + 1, -(-span // int(n_slabs)))
    return np.arange(int(t_min) + width, int(t_max) + 1, width, dtype=np.int64)


def aligned_cuts(t_min: int, t_max: int, slab_ms: int) -> np.ndarray:
    """Cut points at the multiples of ``slab_ms`` inside (t_min, t_max]: fixed, reproducible slabs."""
    first = -(-t_min // slab_ms) * slab_ms
    if first <= t_min:
        first += slab_ms
    if (t_max - first) // slab_ms + 1 > MAX_ALIGNED_SLABS:
        raise ValueError(f"slabs of {slab_ms} ms would make more than {MAX_ALIGNED_SLABS} slabs")
    return np.arange(first, t_max + 1, slab_ms, dtype=np.int64)


@dataclass(frozen=True)
class PartitionPlan:
    """Slab boundaries (sorted interior cut points, ms) and the tile grid."""

    slab_bounds: tuple[int, ...]
    grid: TileGrid
    window_ms: int

    @classmethod
    def build(cls, cuts, window_ms: int, tile_deg: float, radius_m: float) -> PartitionPlan:
        """A plan from sorted slab cut points (``uniform_cuts``, ``aligned_cuts``) and the tile size.

        Cuts closer together than the window are dropped: a slab narrower than tau would only
        copy hits into more partitions.
        """
        kept: list[int] = []
        for c in np.unique(np.asarray(cuts, dtype=np.int64)).tolist():
            if not kept or c - kept[-1] > window_ms:
                kept.append(int(c))
        return cls(slab_bounds=tuple(kept), grid=TileGrid.build(tile_deg, radius_m),
                   window_ms=int(window_ms))

    @property
    def n_slabs(self) -> int:
        return len(self.slab_bounds) + 1

    @property
    def n_partitions(self) -> int:
        return self.n_slabs * self.grid.n_tiles

    def slab_of(self, t_ms: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.slab_bounds, dtype=np.int64), t_ms, side="right")

    def home(self, t_ms: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Each hit's home partition key."""
        return self.slab_of(t_ms) * self.grid.n_tiles + self.grid.home_tile(lat, lon)

    def assign(self, t_ms: np.ndarray, lat: np.ndarray, lon: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hit index, partition key, is home) for every copy of every hit."""
        t_ms = np.asarray(t_ms, dtype=np.int64)
        hit, tile = self.grid.tiles_within_reach(lat, lon)
        s0 = self.slab_of(t_ms - self.window_ms)
        s1 = self.slab_of(t_ms)
        row, step = expand_ranges((s1 - s0 + 1)[hit])
        idx = hit[row]
        slab = s0[idx] + step
        key = slab * self.grid.n_tiles + tile[row]
        home = key == self.home(t_ms, lat, lon)[idx]
        return idx, key, home

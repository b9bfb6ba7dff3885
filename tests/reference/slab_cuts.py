"""Count-balanced slab cut points: the job cuts even slabs (``partitioning.uniform_cuts``) so
that Spark finds a hit's slab with one division; this alternative is kept with its test."""
from __future__ import annotations

import numpy as np


def balanced_cuts(edges: np.ndarray, counts: np.ndarray, n_slabs: int) -> np.ndarray:
    """Cut points (histogram bin edges) that split the counted hits into ~equal slabs.

    ``counts[i]`` hits lie in [edges[i], edges[i+1]). A bin denser than one slab stays whole,
    so the balance is as fine as the histogram.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if n_slabs <= 1 or total == 0:
        return np.zeros(0, dtype=np.int64)
    cum = np.cumsum(counts)
    targets = total * np.arange(1, n_slabs) / n_slabs
    bins = np.unique(np.searchsorted(cum, targets, side="left"))
    bins = bins[bins < len(counts) - 1]
    return np.asarray(edges, dtype=np.int64)[bins + 1]

"""The implementations the tests hold to the brute force, by name: the package's kernel with
its default grid choice ("auto": the uniform grid where the region allows it), the package's
kernel with the general grid everywhere ("block", so ``compiled_scan`` is tested on the regions
where the fast path would otherwise take over), and the vectorised reference engine ("numpy",
tests/reference/numpy_engine.py)."""

from __future__ import annotations

from crayfis.coincidence import kernel
from tests.reference import numpy_engine

VARIANTS = ("auto", "block", "numpy")


def find_coincidences(variant: str, *args, chunk_size=None, pair_budget=None):
    """``find_coincidences`` of the named implementation; ``pair_budget`` tunes only numpy."""
    if variant == "numpy":
        return numpy_engine.find_coincidences(*args, **_numpy_tuning(chunk_size, pair_budget))
    return kernel.find_coincidences(*args, grid=variant, chunk_size=chunk_size)


def triggered_windows(variant: str, *args, anchor_mask=None, chunk_size=None, pair_budget=None):
    """``triggered_windows`` of the named implementation."""
    if variant == "numpy":
        return numpy_engine.triggered_windows(*args, anchor_mask=anchor_mask,
                                              **_numpy_tuning(chunk_size, pair_budget))
    return kernel.triggered_windows(*args, anchor_mask=anchor_mask, grid=variant, chunk_size=chunk_size)


def _numpy_tuning(chunk_size, pair_budget) -> dict:
    return {k: v for k, v in (("chunk_size", chunk_size), ("pair_budget", pair_budget)) if v is not None}

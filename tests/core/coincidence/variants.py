"""The kernel's implementations as the tests name them: both engines, and the compiled engine
with its uniform-grid fast path turned off, so the general scan (``block_grid``) is tested on
the regions where the fast path would otherwise take over."""

from __future__ import annotations

from contextlib import contextmanager

from crayfis.coincidence import numba_engine

VARIANTS = ("numba", "numba-banded", "numpy")


@contextmanager
def engine_variant(variant: str):
    """Yields the ``engine`` argument for ``variant``; for numba-banded the uniform grid is off
    while the block lasts."""
    old = numba_engine.UNIFORM_GRID
    numba_engine.UNIFORM_GRID = variant != "numba-banded"
    try:
        yield "numba" if variant == "numba-banded" else variant
    finally:
        numba_engine.UNIFORM_GRID = old

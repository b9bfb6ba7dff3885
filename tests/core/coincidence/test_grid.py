"""Every point's R-disc lies in its cell of its central grid, wherever on Earth it is."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.coincidence.block_grid import BlockGrid
from crayfis.coincidence.distance import pair_distance_m
from tests.reference.shifted_grids import ShiftedGrids

from .scenes import REGIONS, offset_points


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), region=st.sampled_from(sorted(REGIONS)),
       radius=st.sampled_from([1.0, 100.0, 1000.0, 50_000.0, 3_000_000.0]))
def test_neighbours_share_the_central_cell(seed, region, radius):
    rng = np.random.default_rng(seed)
    lat0, lon0 = REGIONS[region]
    lat, lon = offset_points(lat0, lon0, rng.uniform(-3, 3, 400) * radius, rng.uniform(-3, 3, 400) * radius)
    if region != "mid":
        lat[:40], lon[:40] = rng.uniform(-90, 90, 40), rng.uniform(-180, 180, 40)
    grids = ShiftedGrids.for_radius(radius)
    cells, central = grids.cells(lat, lon)
    stacked = np.stack(cells)  # [grid, point]
    near = pair_distance_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) <= radius
    own = stacked[central]  # [a, h]: cell of h in a's central grid
    same = own == own[np.arange(len(lat)), np.arange(len(lat))][:, None]
    bad = np.argwhere(near & ~same)
    assert len(bad) == 0, [(lat[a], lon[a], lat[h], lon[h]) for a, h in bad[:3]]
    assert near.sum() > len(lat)  # the scene does have neighbours to check


def test_cells_wrap_at_the_antimeridian_and_close_at_the_poles():
    grids = ShiftedGrids.for_radius(1000.0)
    cells, _ = grids.cells(np.array([10.0, 10.0, 90.0, 90.0]), np.array([180.0, -180.0, 0.0, 135.0]))
    for c in cells:
        assert c[0] == c[1]  # +180 and -180 are one meridian
    shifted_cap = cells[2]  # band set 1 has a cap around each pole
    assert shifted_cap[2] == shifted_cap[3]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(radius=st.sampled_from([0.0, 1.0, 30.0, 100.0, 1000.0, 50_000.0, 3_000_000.0, 3e7]))
def test_block_grid_reach_is_under_half_a_cell(radius):
    """The compiled scan looks at the 3 x 3 quadrants around an anchor's own: that needs the
    reach of R to be under half a band and half a cell, in every band with more than one cell."""
    g = BlockGrid.for_radius(radius)
    assert g.n_bands == 1 or g.reach_bands < 0.5
    multi = g.lon_cells > 1
    assert np.all(g.reach_cells[multi] < 0.5)
    assert g.lon_cells[0] == 1 and g.lon_cells[-1] == 1  # the polar caps are one cell
    assert np.array_equal(g.offsets[1:], np.cumsum(g.lon_cells)[:-1])

"""The uniform grid of the compiled engine's fast path: where it serves, every point within R
of a hit lies in the 3 x 3 quadrants around the hit's own, by the scan's own expressions; and
it declines where one longitude width cannot serve (poles, the antimeridian, wide latitudes)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.coincidence.distance import EARTH_RADIUS_M, pair_distance_m
from crayfis.coincidence.uniform_grid import uniform_grid

from .scenes import offset_points


def _quadrants(g, lat, lon):
    """The scan's expressions (compiled_uniform_scan), in the same float operations."""
    qy = ((lat - g.lat0) * g.inv_qh).astype(np.int64) + 1
    qx = ((lon - g.lon0) * g.inv_qw).astype(np.int64) + 1
    return qy, qx


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), lat0=st.sampled_from([-60.0, -33.9, 0.0, 0.4, 34.05, 51.5, 70.0]),
       lon0=st.sampled_from([-179.0, -118.25, 0.0, 16.4, 178.5]),
       radius=st.sampled_from([0.5, 30.0, 100.0, 1000.0, 20_000.0]),
       spread=st.sampled_from([3.0, 10.0, 30.0]))  # in R (30 R: under 4096 quadrants), capped at 200 km
def test_points_within_r_are_in_neighbouring_quadrants(seed, lat0, lon0, radius, spread):
    rng = np.random.default_rng(seed)
    n = 400
    lat, lon = offset_points(lat0, lon0, *(rng.uniform(-1, 1, (2, n)) * min(spread * radius, 2e5)))
    # partners at distances up to and a little past R, in every direction
    d = radius * rng.uniform(0.0, 1.001, n) ** 0.5
    ang = rng.uniform(0, 2 * np.pi, n)
    plat = lat + np.degrees(d * np.sin(ang) / EARTH_RADIUS_M)
    plon = lon + np.degrees(d * np.cos(ang) / (EARTH_RADIUS_M * np.cos(np.radians(lat))))
    plon = (plon + 180.0) % 360.0 - 180.0
    all_lat, all_lon = np.concatenate((lat, plat)), np.concatenate((lon, plon))
    g = uniform_grid(all_lat.min(), all_lat.max(), all_lon.min(), all_lon.max(), radius, 2 * n)
    if all_lon.max() - all_lon.min() > 300:  # wrapped across the antimeridian: the general scan's
        assert g is None
        return
    assert g is not None
    within = pair_distance_m(lat, lon, plat, plon) <= radius
    assert within.sum() > n // 2
    qy, qx = _quadrants(g, lat, lon)
    py, px = _quadrants(g, plat, plon)
    assert np.all(np.abs(qy - py)[within] <= 1) and np.all(np.abs(qx - px)[within] <= 1)
    assert np.all(np.abs(lat - plat)[within] <= g.lat_reach_deg)  # the box test keeps them
    assert np.all(np.abs(lon - plon)[within] <= g.lon_reach_deg)
    for y, x in ((qy, qx), (py, px)):  # the 3 x 3 block stays inside the grid
        assert y.min() >= 1 and y.max() <= g.rows - 2 and x.min() >= 1 and x.max() <= g.cols - 2


def test_serves_a_metro_region_with_quadrants_of_r():
    g = uniform_grid(33.6, 34.5, -118.8, -117.7, 1000.0, 1_000_000)
    assert g is not None
    assert 1.0 < 1 / (g.inv_qh * g.lat_reach_deg) < 1.0001  # quadrant height just over the reach
    assert 1.0 < 1 / (g.inv_qw * g.lon_reach_deg) < 1.0001
    assert g.rows * g.cols <= 2_000_000


@pytest.mark.parametrize("bounds, radius", [
    ((89.0, 89.99, 0.0, 10.0), 1000.0),         # within R of a pole
    ((-16.6, -16.4, -179.9, 179.9), 100.0),     # across the antimeridian (span + reach >= 360)
    ((-16.6, -16.4, -179.999, 179.999), 100.0),  # a gap wider than R there, but hits spread thin
    ((10.0, 65.0, 0.0, 1.0), 1000.0),           # one width would be far too wide at 10 degrees
])
def test_declines_where_one_width_cannot_serve(bounds, radius):
    assert uniform_grid(*bounds, radius, 10_000) is None


def test_few_hits_get_coarser_quadrants_not_a_huge_grid():
    g = uniform_grid(34.0, 34.2, -118.0, -117.8, 100.0, 1000)
    assert g is not None and g.rows * g.cols <= 2 * 4096
    assert 1 / g.inv_qh > 1.5 * g.lat_reach_deg and 1 / g.inv_qw > 1.5 * g.lon_reach_deg

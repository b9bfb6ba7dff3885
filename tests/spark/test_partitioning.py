"""The halo rule: every window of a core anchor is complete inside the anchor's home partition."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.definition import EARTH_RADIUS_M
from spark_jobs.partitioning import PartitionPlan
from spark_jobs.tiles import TileGrid
from tests.reference.slab_cuts import balanced_cuts


def haversine_m(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def check_windows_complete(plan, t, lat, lon, radius_m):
    idx, key, home = plan.assign(t, lat, lon)
    # exactly one home copy per hit, and it is the hit's home partition
    assert np.array_equal(np.bincount(idx[home], minlength=t.size), np.ones(t.size, dtype=np.int64))
    home_key = plan.home(t, lat, lon)
    assert np.array_equal(key[home][np.argsort(idx[home])], home_key)
    # no hit is copied twice into one partition
    assert np.unique(np.stack([idx, key]), axis=1).shape[1] == idx.size
    copies = set(zip(idx.tolist(), key.tolist()))
    dt = t[None, :] - t[:, None]
    dist = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    a_idx, h_idx = np.nonzero((dt >= 0) & (dt <= plan.window_ms) & (dist <= radius_m))
    missing = [(a, h) for a, h in zip(a_idx.tolist(), h_idx.tolist())
               if (h, int(home_key[a])) not in copies]
    assert not missing


def test_grid_is_wide_near_poles_and_covers_the_sphere():
    grid = TileGrid.build(tile_deg=2.0, radius_m=1000.0)
    assert grid.tiles_per_band[0] == grid.tiles_per_band[-1] == 1
    assert max(grid.tiles_per_band) == 179  # floor(360 cos(2 deg) / 2)
    lat = np.array([-90.0, 90.0, 0.0, 0.0, 45.0])
    lon = np.array([0.0, 180.0, -180.0, 180.0, 179.999])
    tiles = grid.home_tile(lat, lon)
    assert tiles[2] == tiles[3]  # -180 and 180 are the same meridian
    assert 0 <= tiles.min() and tiles.max() < grid.n_tiles


def test_antimeridian_hit_reaches_the_other_side():
    grid = TileGrid.build(tile_deg=1.0, radius_m=500.0)
    hit, tile = grid.tiles_within_reach(np.array([10.0]), np.array([179.9999]))
    assert grid.home_tile(np.array([10.0]), np.array([-179.9999]))[0] in set(tile.tolist())


def test_slabs_balance_skewed_times():
    rng = np.random.default_rng(1)
    t = np.sort(np.concatenate([rng.integers(0, 10_000, 90_000), rng.integers(0, 3_600_000, 10_000)]))
    edges = np.linspace(0, 3_600_001, 4097).astype(np.int64)
    hist = np.histogram(t, edges)[0]
    plan = PartitionPlan.build(balanced_cuts(edges, hist, 8), 5, 1.0, 100.0)
    counts = np.bincount(plan.slab_of(t), minlength=plan.n_slabs)
    assert plan.n_slabs == 8 and counts.max() < 1.5 * t.size / 8


places = st.sampled_from([(0.0, 0.0), (0.0, 180.0), (89.99, 0.0), (-89.995, 120.0), (30.0, 1.0),
                          (60.0, -179.99), (1.0, 1.0)])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), place=places, n=st.integers(2, 120),
       radius_m=st.sampled_from([50.0, 1000.0, 20_000.0]), window_ms=st.sampled_from([0, 1, 7, 1000]),
       tile_deg=st.sampled_from([0.01, 0.2, 1.0, 5.0]), n_slabs=st.integers(1, 9))
def test_every_window_is_complete_in_the_anchor_home_partition(seed, place, n, radius_m, window_ms,
                                                               tile_deg, n_slabs):
    rng = np.random.default_rng(seed)
    spread = 3 * radius_m / 111_000
    lat = np.clip(place[0] + rng.normal(0, spread, n), -90, 90)
    lon = (place[1] + rng.normal(0, spread / max(np.cos(np.radians(place[0])), 1e-3), n) + 180) % 360 - 180
    t = rng.integers(0, 3 * window_ms + 5, n).astype(np.int64)
    # some hits exactly tau apart and exactly at the edge of a tile
    t[: n // 4] = t[n // 4: 2 * (n // 4)] + window_ms
    if n > 3:
        lat[-1] = np.round(lat[-1] / tile_deg) * tile_deg
    cuts = np.sort(t)[np.linspace(0, n - 1, n_slabs + 1).astype(int)[1:-1]]
    plan = PartitionPlan.build(cuts, window_ms, tile_deg, radius_m)
    check_windows_complete(plan, t, lat, lon, radius_m)

"""The compiled per-device pass equals the same statistics in plain numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.coincidence.device_stats import device_sums
from crayfis.coincidence.distance import unit_vectors


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 400), n_dev=st.integers(1, 12), seed=st.integers(0, 2**31 - 1))
def test_device_sums_equal_numpy(n, n_dev, seed):
    rng = np.random.default_rng(seed)
    dev = rng.integers(-1, n_dev, n)  # -1: a row without a device
    valid = (rng.random(n) < 0.8) & (dev >= 0)
    t = rng.integers(-10**12, 10**12, n)
    lat = np.where(valid, rng.uniform(-90, 90, n), np.nan)  # invalid rows may hold anything
    lon = np.where(valid, rng.choice([-180.0, 180.0, 0.0, 179.999], n) * (rng.random(n) < 0.2)
                   + rng.uniform(-180, 180, n) * (rng.random(n) >= 0.2), np.nan)
    lon = np.clip(lon, -180, 180)
    got = device_sums(dev, valid, t, lat, lon, n_dev)

    has = dev >= 0
    assert np.array_equal(got.n_rows, np.bincount(dev[has], minlength=n_dev))
    d, tv = dev[valid], t[valid]
    assert np.array_equal(got.n_hits, np.bincount(d, minlength=n_dev))
    for k in range(n_dev):
        mine = tv[d == k]
        if len(mine):
            assert got.t_min[k] == mine.min() and got.t_max[k] == mine.max()
        else:
            assert got.t_min[k] > got.t_max[k]
    x, y, z = unit_vectors(lat[valid], lon[valid])
    for have, want in zip((got.x, got.y, got.z), (x, y, z)):
        assert np.array_equal(have, np.bincount(d, weights=want, minlength=n_dev))  # bit for bit

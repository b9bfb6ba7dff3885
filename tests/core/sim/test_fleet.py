"""Fleet: ids, positions, rates, clock offsets, GPS accuracy drawn as configured."""
import re

import numpy as np
import pytest

from crayfis.sim.config import FleetConfig
from crayfis.sim.fleet import make_fleet
from crayfis.sim.projection import latlon_to_enu


def fleet(seed=1, **kw):
    return make_fleet(FleetConfig(**kw), np.random.default_rng(seed))


def test_device_ids_are_distinct_16_char_lowercase_hex():
    f = fleet(n_phones=5000)
    assert all(re.fullmatch(r"[0-9a-f]{16}", d) for d in f.device_id)
    assert len(set(f.device_id)) == 5000


def test_positions_fill_the_square_around_the_centre():
    f = fleet(n_phones=20000, area_km=2.0, center_lat=-33.9, center_lon=151.2)
    assert np.abs(f.east_m).max() <= 1000 and np.abs(f.north_m).max() <= 1000
    # Uniform on [-1000, 1000]: mean 0 +- 5 sigma, variance 1000^2/3.
    assert abs(f.east_m.mean()) < 5 * 1000 / np.sqrt(3 * 20000)
    assert f.east_m.var() == pytest.approx(1000**2 / 3, rel=0.05)
    east, north = latlon_to_enu(f.lat, f.lon, -33.9, 151.2)
    np.testing.assert_allclose(east, f.east_m, atol=1e-6)
    np.testing.assert_allclose(north, f.north_m, atol=1e-6)


def test_cluster_puts_its_share_in_a_gaussian_hot_spot():
    f = fleet(n_phones=20000, area_km=10.0, cluster_fraction=0.4, cluster_sigma_km=0.2,
              cluster_offset_km=(2.0, -1.0))
    near = np.hypot(f.east_m - 2000, f.north_m + 1000) < 600  # 3 sigma
    # 40 % clustered (98.9 % of them within 3 sigma) + uniform phones that fall in the circle.
    expected = 0.4 * 0.989 + 0.6 * np.pi * 0.6**2 / 100
    assert near.mean() == pytest.approx(expected, abs=5 * np.sqrt(expected / 20000))


def test_rates_log_normal_around_the_median_with_hot_devices():
    f = fleet(n_phones=50000, rate_per_min=20.0, rate_sigma=0.3, hot_fraction=0.01)
    normal = f.rate_hz[~f.hot]
    logs = np.log(normal * 60 / 20.0)
    assert abs(logs.mean()) < 5 * 0.3 / np.sqrt(normal.size)
    assert logs.std() == pytest.approx(0.3, rel=0.02)
    assert f.hot.mean() == pytest.approx(0.01, abs=5 * np.sqrt(0.01 / 50000))
    ratio = f.rate_hz[f.hot] * 60 / 20.0
    assert np.median(ratio) > 4.0  # 5-10x on top of the log-normal spread


def test_clock_offsets_core_and_heavy_tail():
    f = fleet(n_phones=100000, clock_sigma_ms=30.0, clock_tail_fraction=0.05,
              clock_tail_sigma_ms=1000.0)
    off = np.abs(f.clock_offset_ms)
    # Median |offset|: mostly the core N(0, 30 ms), whose median |x| is 0.6745 * 30 = 20.2 ms.
    assert 19.0 < np.median(off) < 23.0
    # Beyond 200 ms: only tail phones (P(|N(0,1 s)| > 0.2 s) = 0.841) -> 4.2 %.
    assert (off > 200).mean() == pytest.approx(0.05 * 0.8415, abs=0.003)
    assert np.quantile(off, 0.99) > 1000  # heavy tail reaches seconds


def test_gps_accuracy_and_frame_phase_ranges():
    f = fleet(n_phones=10000)
    assert f.gps_accuracy_m.min() >= 5 and f.gps_accuracy_m.max() <= 50
    assert np.median(f.gps_accuracy_m) == pytest.approx(np.sqrt(5 * 50), rel=0.05)  # log-uniform
    assert f.frame_ms == pytest.approx(1000 / 30)
    assert (f.frame_phase_ms >= 0).all() and (f.frame_phase_ms < f.frame_ms).all()


def test_same_seed_same_fleet_other_seed_other_fleet():
    a, b, c = fleet(7), fleet(7), fleet(8)
    assert list(a.device_id) == list(b.device_id)
    np.testing.assert_array_equal(a.clock_offset_ms, b.clock_offset_ms)
    assert list(a.device_id) != list(c.device_id)


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        FleetConfig(n_phones=0)
    with pytest.raises(ValueError):
        FleetConfig(duty_cycle="sometimes")
    with pytest.raises(ValueError):
        FleetConfig(rate_per_min=200, hot_factor=(5.0, 10.0))

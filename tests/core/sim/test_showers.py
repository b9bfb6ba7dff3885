"""Showers: direction sampling, NKG lateral distribution, and which phones fire."""
import numpy as np
import pytest
from scipy import integrate, stats
from scipy.spatial import cKDTree

from crayfis.definition import HOUR_MS
from crayfis.sim.config import FleetConfig, ShowerConfig
from crayfis.sim.fleet import make_fleet
from crayfis.sim.live import LiveIntervals
from crayfis.sim.showers import (
    expected_particles,
    n_muons,
    n_photons,
    nkg_density,
    phone_response,
    plane_distance,
    sample_showers,
    sample_zenith,
    shower_age,
    shower_hits,
)

T0 = 1_767_304_800_000


def test_zenith_follows_sin_cos_up_to_the_cut():
    tmax = np.radians(65)
    z = sample_zenith(50000, tmax, np.random.default_rng(1))
    assert z.max() <= tmax
    ks = stats.kstest(z, lambda t: np.sin(np.minimum(t, tmax)) ** 2 / np.sin(tmax) ** 2)
    assert ks.pvalue > 1e-5


def test_sampled_showers_direction_core_and_ids():
    live = LiveIntervals.from_arrays([0], [T0], [T0 + HOUR_MS])
    cfg = ShowerConfig(natural=False, forced=20000, zenith_max_deg=60)
    s = sample_showers(cfg, 2.0, 46.2, 6.1, T0, T0 + HOUR_MS, live, np.random.default_rng(2))
    assert len(s) == 20000 and s.forced.all()
    tmax = np.radians(60)
    ks = stats.kstest(np.radians(s.zenith_deg), lambda t: np.sin(t) ** 2 / np.sin(tmax) ** 2)
    assert ks.pvalue > 1e-5
    assert stats.kstest(s.azimuth_deg / 360.0, "uniform").pvalue > 1e-5
    assert np.abs(s.core_east_m).max() <= 1000 and np.abs(s.core_north_m).max() <= 1000
    assert (s.energy_eV >= cfg.forced_energy_min_eV).all()
    assert (np.diff(s.t_ms) >= 0).all() and (s.shower_id == np.arange(20000)).all()
    assert ((s.t_ms >= T0) & (s.t_ms < T0 + HOUR_MS)).all()


def test_natural_shower_count_follows_the_flux():
    live = LiveIntervals.from_arrays([0], [T0], [T0 + 8766 * HOUR_MS])
    cfg = ShowerConfig(natural=True, margin_m=0.0, energy_min_eV=1e19)
    # 10 x 10 km for a year above 10 EeV: 0.90 per km^2 per year -> about 90.
    counts = [len(sample_showers(cfg, 10.0, 0.0, 0.0, T0, T0 + 8766 * HOUR_MS, live,
                                 np.random.default_rng(seed))) for seed in range(40)]
    mean = np.mean(counts)
    assert abs(mean - 90.4) < 5 * np.sqrt(90.4 / 40)


@pytest.mark.parametrize("age", [1.2, 1.5, 1.9])
def test_nkg_integrates_to_the_particle_number(age):
    def f(lr):
        return nkg_density(np.exp(lr), 1e6, age) * 2 * np.pi * np.exp(lr) ** 2
    total, _ = integrate.quad(f, np.log(1e-3), np.log(1e12), limit=400)
    assert total == pytest.approx(1e6, rel=1e-3)


def test_particle_numbers_and_age():
    assert n_muons(1e19) == pytest.approx(0.028 * 1e10**0.93)
    assert n_photons(1e19) == pytest.approx(0.094 * 1e10**1.15)
    assert shower_age(1e19, 0.0) == pytest.approx(1.2)  # young vertical shower (clipped)
    assert 1.6 < shower_age(1e19, np.radians(60)) < 1.8


def test_plane_distance_projects_along_the_axis():
    zen, az = np.radians(60), np.radians(90)  # coming from the east
    r, along = plane_distance(np.array([100.0, 0.0]), np.array([0.0, 100.0]), zen, az)
    assert r[0] == pytest.approx(50.0) and along[0] == pytest.approx(100 * np.sin(zen))
    assert r[1] == pytest.approx(100.0) and along[1] == pytest.approx(0.0, abs=1e-9)


def dense_network(seed=3, n=20000, n_showers=30):
    rng = np.random.default_rng(seed)
    fcfg = FleetConfig(n_phones=n, area_km=1.0, duty_cycle="always")
    fleet = make_fleet(fcfg, rng)
    live = LiveIntervals.from_arrays(np.arange(n), np.full(n, T0), np.full(n, T0 + HOUR_MS))
    scfg = ShowerConfig(natural=False, forced=n_showers, response="optimistic",
                        forced_energies_eV=(1e20,) * n_showers)
    showers = sample_showers(scfg, 1.0, 46.2, 6.1, T0, T0 + HOUR_MS, live, rng)
    hits = shower_hits(showers, fleet, live, T0, scfg, rng)
    return fleet, live, scfg, showers, hits


def test_hit_probability_versus_distance_follows_the_ldf():
    fleet, live, scfg, showers, hits = dense_network()
    tree = cKDTree(np.column_stack([fleet.east_m, fleet.north_m]))
    edges = np.array([0, 10, 20, 40, 80, 160, 320, 640, 5000.0])
    observed = np.zeros(len(edges) - 1)
    expected = np.zeros_like(observed)
    variance = np.zeros_like(observed)
    phones = np.zeros_like(observed)
    for i in range(len(showers)):
        resp = phone_response(showers, i, fleet, tree, scfg)
        p = -np.expm1(-resp["mu"])
        fired = np.isin(resp["device"], hits.device[hits.shower_id == i])
        b = np.digitize(resp["r"], edges) - 1
        observed += np.bincount(b, weights=fired, minlength=len(edges) - 1)[:len(edges) - 1]
        expected += np.bincount(b, weights=p, minlength=len(edges) - 1)[:len(edges) - 1]
        variance += np.bincount(b, weights=p * (1 - p), minlength=len(edges) - 1)[:len(edges) - 1]
        phones += np.bincount(b, minlength=len(edges) - 1)[:len(edges) - 1]
        assert showers.n_hit_devices[i] == fired.sum()
        assert showers.expected_hit_devices[i] == pytest.approx(p.sum())
    assert expected.min() > 20  # every bin tested with real statistics
    z = (observed - expected) / np.sqrt(variance)
    assert np.abs(z).max() < 5, z
    # The test has teeth: the hit fraction falls steeply with distance (near core vs 320 m+).
    fraction = observed / phones
    assert fraction[0] > 20 * fraction[6]


def test_shower_hit_times_are_clock_offset_plus_front_plus_frame():
    fleet, live, scfg, showers, hits = dense_network(seed=4, n=5000, n_showers=10)
    s = hits.shower_id
    d = hits.device
    de = fleet.east_m[d] - showers.core_east_m[s]
    dn = fleet.north_m[d] - showers.core_north_m[s]
    _, along = plane_distance(de, dn, np.radians(showers.zenith_deg[s]),
                              np.radians(showers.azimuth_deg[s]))
    arrival = showers.t_ms[s] + fleet.clock_offset_ms[d] - along / 299_792.458
    lag = hits.t_ms - arrival
    assert (lag > -1.0).all() and (lag < fleet.frame_ms + 1.0).all()
    assert len(hits.t_ms) > 50


def test_only_live_phones_fire():
    rng = np.random.default_rng(5)
    n = 4000
    fleet = make_fleet(FleetConfig(n_phones=n, area_km=0.5), rng)
    half = n // 2  # half the phones are off at the shower time
    live = LiveIntervals.from_arrays(np.arange(half), np.full(half, T0), np.full(half, T0 + HOUR_MS))
    scfg = ShowerConfig(natural=False, forced=5, response="optimistic",
                        forced_energies_eV=(3e20,) * 5,
                        forced_times_ms=tuple(T0 + 600_000 * (i + 1) for i in range(5)))
    showers = sample_showers(scfg, 0.5, 46.2, 6.1, T0, T0 + HOUR_MS, live, rng)
    hits = shower_hits(showers, fleet, live, T0, scfg, rng)
    assert len(hits.device) > 20
    assert (hits.device < half).all()


def test_expected_particles_grow_with_response():
    mod = ShowerConfig(response="moderate")
    opt = ShowerConfig(response="optimistic")
    r = np.array([10.0, 100.0])
    ratio = expected_particles(r, 1e20, 1.5, opt) / expected_particles(r, 1e20, 1.5, mod)
    assert (ratio > 4.5).all() and (ratio < 5.0).all()  # photons add a little to both

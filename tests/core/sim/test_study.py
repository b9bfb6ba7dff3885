"""The closed-loop study's yardsticks: matching to truth, accidental counts, intervals, report."""
import json

import numpy as np
import pytest

from crayfis.coincidence import find_coincidences
from crayfis.coincidence.distance import haversine_m
from crayfis.coincidence.significance import estimate_background
from crayfis.sim.config import FleetConfig, ShowerConfig, SimConfig
from crayfis.sim.network import simulate_network
from crayfis.sim.study import AccidentalSpec, StudyPlan, hit_columns
from crayfis.sim.study_match import binomial_interval, count_accidentals, match_showers, naive_poisson_expectation

TAU, R, K = 100, 300.0, 3
T0 = 1_767_304_800_000


def _deg(metres):  # metres north -> degrees of latitude on the search's sphere
    return np.degrees(metres / 6371008.8)


# ----------------------------------------------------------------------------- hand-made hits


def test_matching_on_hand_made_hits():
    # shower 0: devices 1-4 within 100 m and 60 ms (device 4 twice) -> found, purity 5/6
    # shower 1: 3 hits from only 2 devices; a noise hit of device 10 makes their candidate
    #   -> in a candidate with 2 of its devices, not found; the candidate is accidental
    # shower 2: 3 devices but spread over 500 ms -> in no candidate
    # noise hit of device 9 inside shower 0's window; noise far away in time
    t = np.array([0, 10, 30, 50, 60, 40, 10_000, 10_010, 10_020, 10_005, 20_000, 20_250, 20_500,
                  90_000])
    north = np.array([0, 20, 50, 80, 80, 60, 0, 10, 10, 5, 0, 10, 20, 0], dtype=float)
    dev = np.array([1, 2, 3, 4, 4, 9, 5, 6, 6, 10, 7, 8, 9, 3])
    sid = np.array([0, 0, 0, 0, 0, -1, 1, 1, 1, -1, 2, 2, 2, -1])
    res = find_coincidences(T0 + t, 46.0 + _deg(north), np.full(len(t), 6.0), dev, TAU, R, K)
    m = match_showers(res, sid, dev, 3)
    assert res.n_candidates == 2
    assert m.detected.tolist() == [True, False, False]
    assert m.found_devices.tolist() == [4, 2, 0]
    assert m.n_candidates.tolist() == [1, 0, 0]
    assert m.purity[0] == pytest.approx(5 / 6) and np.isnan(m.purity[1:]).all()
    assert m.candidate_shower.tolist() == [0, -1]
    assert m.best_candidate.tolist() == [0, -1, -1]
    # a significance cut that rejects shower 0's candidate: found but not significant
    m_cut = match_showers(res, sid, dev, 3, candidate_passes=np.array([False, True]))
    assert m_cut.detected[0] and not m_cut.significant.any()
    assert m.significant.tolist() == [True, False, False]


def test_split_shower_and_unmatched_candidate():
    # one shower seen as two separate groups 2 km apart (both >= k devices), plus 3 noise
    # devices in coincidence elsewhere: an accidental candidate
    t = np.array([0, 10, 20, 5, 15, 25, 50_000, 50_010, 50_020])
    north = np.array([0, 10, 20, 2000, 2010, 2020, 0, 10, 20], dtype=float)
    dev = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9])
    sid = np.array([0, 0, 0, 0, 0, 0, -1, -1, -1])
    res = find_coincidences(T0 + t, 46.0 + _deg(north), np.full(len(t), 6.0), dev, TAU, R, K)
    m = match_showers(res, sid, dev, 1)
    assert res.n_candidates == 3
    assert m.n_candidates.tolist() == [2] and m.found_devices.tolist() == [3]
    assert sorted(m.candidate_shower.tolist()) == [-1, 0, 0]
    assert m.purity[0] == 1.0


# ----------------------------------------------------------------------------- simulated showers


def _shower_triggers_alone(t, lat, lon, dev, k):
    """Whether some hit of the shower has >= k distinct shower devices within tau and R."""
    for a in range(len(t)):
        near = (t >= t[a]) & (t <= t[a] + TAU) & (haversine_m(lat[a], lon[a], lat, lon) <= R)
        if len(np.unique(dev[near])) >= k:
            return True
    return False


def test_simulated_showers_that_trigger_on_their_own_hits_are_found():
    n = 40
    times = tuple(T0 + 5_000 * i + 2_500 for i in range(n))
    energies = tuple(np.geomspace(1e19, 3e20, n).tolist())
    cfg = SimConfig(hours=n * 5 / 3600, fleet=FleetConfig(
        n_phones=1000, area_km=1.0, rate_per_min=1.0, duty_cycle="always"),
        showers=ShowerConfig(natural=False, forced=n, forced_times_ms=times,
                             forced_energies_eV=energies, response="optimistic"))
    sim = simulate_network(cfg, 5)
    c = hit_columns(sim)
    res = find_coincidences(c["t"], c["lat"], c["lon"], c["dev"], TAU, R, K)
    m = match_showers(res, c["sid"], c["dev"], n)
    alone = np.zeros(n, bool)
    for s in range(n):  # the definition, evaluated on each shower's own hits only
        mine = c["sid"] == s
        alone[s] = _shower_triggers_alone(c["t"][mine], c["lat"][mine], c["lon"][mine],
                                          c["dev"][mine], K)
    assert 10 < alone.sum() < n  # the test covers both kinds of showers
    assert m.detected[alone].all()
    hit_devices = np.array([len(np.unique(c["dev"][c["sid"] == s])) for s in range(n)])
    assert (m.found_devices <= hit_devices).all()
    assert not m.detected[hit_devices < K].any()
    # every found shower's best candidate really holds >= k of its devices
    for s in np.flatnonzero(m.detected):
        members = res.candidate_members(m.best_candidate[s])
        assert len(np.unique(c["dev"][members][c["sid"][members] == s])) == m.found_devices[s]


# ----------------------------------------------------------------------------- accidentals


@pytest.fixture(scope="module")
def noise():
    cfg = SimConfig(hours=3 / 60, fleet=FleetConfig(n_phones=400, area_km=1.0, rate_per_min=20.0),
                    showers=ShowerConfig(natural=False))
    sim = simulate_network(cfg, 11)
    c = hit_columns(sim)
    res = find_coincidences(c["t"], c["lat"], c["lon"], c["dev"], TAU, 250.0, K)
    return cfg, sim, c, res


def test_counts_per_multiplicity_equal_a_search_at_that_k(noise):
    _, _, c, res = noise
    counts = count_accidentals(res, c["t"], [3, 4, 5, 6])
    for i, m in enumerate(counts.multiplicity):
        direct = find_coincidences(c["t"], c["lat"], c["lon"], c["dev"], TAU, 250.0, int(m))
        assert counts.triggered[i] == len(direct.triggered)
        assert counts.candidates[i] == direct.n_candidates
        assert counts.largest_candidate_hits[i] == (direct.cand_n_hits.max()
                                                   if direct.n_candidates else 0)
    with pytest.raises(ValueError):
        count_accidentals(res, c["t"], [2])


def test_noise_only_accidentals_agree_with_the_device_model(noise):
    _, sim, c, res = noise
    m = np.array([3, 4, 5])
    counts = count_accidentals(res, c["t"], m)
    bg = estimate_background(c["t"], c["lat"], c["lon"], c["dev"], TAU, 250.0, K,
                             live=(sim.live.device, sim.live.start_ms, sim.live.end_ms))
    expected = bg.expected_windows(m)
    assert (expected > 100).all()
    # windows overlap, so counts vary more than Poisson: allow 4 sigma plus 5 %
    tolerance = 4 * np.sqrt(expected) + 0.05 * expected
    assert np.all(np.abs(counts.triggered - expected) < tolerance), (counts.triggered, expected)


def test_naive_poisson_by_hand():
    # A and B 100 m apart, C 5 km away; rates from hits / span
    lat = 46.0 + _deg(np.array([0.0, 100.0, 5000.0]))
    lon = np.full(3, 6.0)
    hits = np.array([10, 20, 7])
    span, tau = 1000, 99
    got = naive_poisson_expectation(lat, lon, hits, span, tau, 300.0, [2, 3])
    lam_a, lam_b = 100 * 20 / span, 100 * 10 / span  # w = tau + 1 = 100 ms
    p2 = 10 * -np.expm1(-lam_a) + 20 * -np.expm1(-lam_b)
    p3 = sum(n * (1 - np.exp(-lam) * (1 + lam)) for n, lam in ((10, lam_a), (20, lam_b)))
    assert got == pytest.approx([p2, p3], rel=1e-12)


def test_wilson_interval():
    z = 1.0  # 68.27 %
    for k, n in [(0, 10), (5, 10), (9, 10), (37, 120)]:
        centre = (k + z * z / 2) / (n + z * z)
        half = z / (n + z * z) * np.sqrt(k * (n - k) / n + z * z / 4)
        lo, hi = binomial_interval(k, n)
        assert lo[0] == pytest.approx(max(centre - half, 0.0), abs=2e-4)
        assert hi[0] == pytest.approx(min(centre + half, 1.0), abs=2e-4)
    lo, hi = binomial_interval([1, 0], [2, 0])
    assert np.isnan(lo[1]) and np.isnan(hi[1]) and 0 < lo[0] < 0.5 < hi[0] < 1


# ----------------------------------------------------------------------------- whole study


TINY = StudyPlan(
    area_km=2.0, responses=("optimistic",), energy_edges_eV=(1e19, 1e20, 1e21),
    showers_per_energy_bin=8, energy_density_per_km2=500.0, densities_per_km2=(300.0,),
    showers_per_density=8, accidental_area_km=1.0,
    accidental_runs=(AccidentalSpec(20.0, 300.0, 1 / 60),), multiplicities=(3, 4), time_slides=1,
)


def test_tiny_study_writes_report_and_plots(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import crayfis.sim.study as study

    monkeypatch.setattr(study, "QUICK", TINY)  # the CLI path, at test size
    out = tmp_path / "study"
    assert study.main(["--quick", "--seed", "3", "--out", str(out)]) == 0
    text = (tmp_path / "study.md").read_text()
    assert f"`python -m crayfis.sim.study --quick --seed 3 --out {out}`" in text
    for png in ("efficiency_vs_energy.png", "efficiency_vs_density.png", "accidentals.png"):
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        assert f"(study/{png})" in text
    saved = json.loads((out / "results.json").read_text())
    assert saved["seed"] == 3 and saved["plan"]["showers_per_energy_bin"] == 8
    assert saved["energy"]["runs"][0]["showers"] == 16
    rows = saved["energy"]["rows"]
    assert all(r["all_cores_showers"] == 8 and r["showers"] <= 8 for r in rows)
    assert f"{rows[1]['all_cores_found']}/{rows[1]['all_cores_showers']} = " in text
    acc = saved["accidentals"][0]
    assert acc["observed_triggers"] > 0 and len(acc["time_slides"]) == 1
    assert f"| {acc['observed_triggers']} | {acc['expected_device_model']:.4g} |" in text

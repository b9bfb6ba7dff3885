"""Closed-loop study (issue 5, item 4): simulate -> coincidence search -> compare with truth.

    python -m crayfis.sim.study [--quick] [--seed S] [--out docs/study]

Three parts, each a set of simulated networks searched with one set of parameters
(``study_plan.STUDY_PARAMS``) and scored with ``study_match``:

1. efficiency against energy: forced showers across log energy bins on a fleet at a fixed
   density, for the 'moderate' and 'optimistic' phone responses;
2. efficiency against phone density at one energy;
3. accidental candidates on noise only (phones that plug in at night, so live intervals
   matter), observed against the device-level model (``estimate_background`` with the live
   intervals) and against a plain Poisson of hits.

Shower runs use a muon-level noise rate (``StudyPlan.noise_rate_per_min``), not the app's
20/min trigger rate: at 20/min, tau = 100 ms and R = 300 m about ten other phones fire in every
window at 1000 phones/km^2, so k = 3 triggers on nearly every hit and the candidates merge into
one; part 3 measures exactly that. ``study_report`` writes the tables and plots.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from crayfis.coincidence import find_coincidences
from crayfis.coincidence.significance import candidate_significance, estimate_background
from crayfis.definition import HOUR_MS, YEAR_MS, SearchParams
from crayfis.sim.config import FleetConfig, ShowerConfig, SimConfig
from crayfis.sim.network import SimResult, simulate_network
from crayfis.sim.study_match import (
    binomial_interval,
    count_accidentals,
    match_showers,
    naive_poisson_expectation,
    time_slide_counts,
)
from crayfis.sim.study_plan import FULL, QUICK, STUDY_PARAMS, AccidentalSpec, StudyPlan, StudyResult
from crayfis.sim.study_report import write_report

Progress = Callable[[str], None]


def hit_columns(sim: SimResult) -> dict[str, np.ndarray]:
    h = sim.hits
    return {"t": h.column("t_ms").to_numpy(), "lat": h.column("lat").to_numpy(),
            "lon": h.column("lon").to_numpy(),
            "dev": h.column("device_index").to_numpy().astype(np.int64),
            "sid": h.column("shower_id").to_numpy()}


def live_arrays(sim: SimResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return sim.live.device, sim.live.start_ms, sim.live.end_ms


# ----------------------------------------------------------------------------- showers


def shower_config(plan: StudyPlan, density: float, response: str, energies: np.ndarray,
                  rng: np.random.Generator) -> SimConfig:
    """Phones live all the time (density = live phones); one forced shower per spacing, in a
    random order of energies, at a random time in the middle half of its slot."""
    n = len(energies)
    base = SimConfig()
    slot = plan.shower_spacing_ms
    times = base.start_ms + (np.arange(n) + 0.25 + 0.5 * rng.random(n)) * slot
    return SimConfig(
        hours=n * slot / HOUR_MS,
        fleet=FleetConfig(n_phones=max(1, round(density * plan.area_km**2)), area_km=plan.area_km,
                          rate_per_min=plan.noise_rate_per_min, duty_cycle="always"),
        showers=ShowerConfig(natural=False, forced=n, response=response,
                             forced_times_ms=tuple(int(t) for t in times),
                             forced_energies_eV=tuple(float(e) for e in energies)),
    )


@dataclass
class ShowerRun:
    """One simulated network with forced showers, searched and matched to truth."""

    density_per_km2: float
    response: str
    per_shower: dict[str, np.ndarray]  # energy_eV, fiducial, n_hit_devices, detected, ...
    stats: dict = field(default_factory=dict)


def run_showers(plan: StudyPlan, params: SearchParams, density: float, response: str,
                energies: np.ndarray, rng: np.random.Generator) -> ShowerRun:
    clock = time.perf_counter()
    sim_rng, order_rng = rng.spawn(2)
    config = shower_config(plan, density, response, energies, order_rng)
    sim = simulate_network(config, sim_rng)
    c = hit_columns(sim)
    k = params.min_devices
    t_sim = time.perf_counter()
    res = find_coincidences(c["t"], c["lat"], c["lon"], c["dev"], params.window_ms,
                            params.radius_m, k)
    t_search = time.perf_counter()
    top = int(res.cand_multiplicity.max(initial=k))
    bg = estimate_background(c["t"], c["lat"], c["lon"], c["dev"], params.window_ms,
                             params.radius_m, k, live=live_arrays(sim),
                             max_multiplicity=max(top + 1, k + 30))
    sig = candidate_significance(res.cand_multiplicity, bg)
    passes = sig.far_per_year < plan.far_per_year
    match = match_showers(res, c["sid"], c["dev"], len(sim.showers), candidate_passes=passes)
    s = sim.showers
    half = plan.area_km * 500.0 - plan.fiducial_margin_m
    per_shower = {
        "energy_eV": s.energy_eV, "zenith_deg": s.zenith_deg,
        "fiducial": (np.abs(s.core_east_m) <= half) & (np.abs(s.core_north_m) <= half),
        "n_hit_devices": s.n_hit_devices, "found_devices": match.found_devices,
        "detected": match.detected, "significant": match.significant,
        "n_candidates": match.n_candidates, "purity": match.purity,
    }
    years = bg.searched_live_ms / YEAR_MS
    ms = np.arange(k, max(top + 1, k + 30) + 1)
    far = bg.expected_windows(ms) / years
    accidental = match.candidate_shower < 0
    stats = {
        "n_phones": config.fleet.n_phones, "hours": config.hours, "hits": sim.hits.num_rows,
        "showers": len(s), "candidates": res.n_candidates,
        "accidental_candidates": int(accidental.sum()),
        "accidental_per_hour": float(accidental.sum() / config.hours),
        "accidental_significant": int((accidental & passes).sum()),
        "expected_accidental_windows": float(bg.expected_triggers),
        "min_significant_multiplicity": int(ms[np.argmax(far < plan.far_per_year)])
        if (far < plan.far_per_year).any() else None,
        "seconds": {"simulate": t_sim - clock, "search": t_search - t_sim,
                    "background_and_match": time.perf_counter() - t_search},
    }
    return ShowerRun(density, response, per_shower, stats)


def energy_bin_energies(plan: StudyPlan, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """showers_per_energy_bin energies per bin, log-uniform inside the bin, in random order;
    and each one's bin index."""
    edges = np.log10(plan.energy_edges_eV)
    b = rng.permutation(np.repeat(np.arange(len(edges) - 1), plan.showers_per_energy_bin))
    log_e = edges[b] + rng.random(len(b)) * (edges[b + 1] - edges[b])
    return 10.0**log_e, b


def efficiency_rows(selected: dict[str, np.ndarray], everything: dict[str, np.ndarray],
                    k: int) -> dict:
    """Efficiencies with Wilson 68 % intervals for one group of showers."""
    n = int(len(selected["detected"]))
    found, sig = int(selected["detected"].sum()), int(selected["significant"].sum())
    truth = int((selected["n_hit_devices"] >= k).sum())
    (f_lo,), (f_hi,) = binomial_interval(found, n)
    (s_lo,), (s_hi,) = binomial_interval(sig, n)
    n_all = int(len(everything["detected"]))
    found_all = int(everything["detected"].sum())
    purity = selected["purity"][selected["detected"]]
    return {
        "showers": n, "mean_hit_devices": float(selected["n_hit_devices"].mean()) if n else None,
        "truth_ge_k": truth, "found": found, "efficiency": found / n if n else None,
        "efficiency_lo": f_lo, "efficiency_hi": f_hi,
        "significant": sig, "significant_efficiency": sig / n if n else None,
        "significant_lo": s_lo, "significant_hi": s_hi,
        "found_given_truth_ge_k": found / truth if truth else None,
        "split": int((selected["n_candidates"] > 1).sum()),
        "median_purity": float(np.median(purity)) if len(purity) else None,
        "all_cores_showers": n_all, "all_cores_found": found_all,
        "all_cores_efficiency": found_all / n_all if n_all else None,
    }


def _subset(per_shower: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {key: v[mask] for key, v in per_shower.items()}


def efficiency_vs_energy(plan, params, rng, progress) -> tuple[list[dict], list[dict]]:
    rows, runs = [], []
    for response, child in zip(plan.responses, rng.spawn(len(plan.responses))):
        e_rng, run_rng = child.spawn(2)
        energies, bins = energy_bin_energies(plan, e_rng)
        progress(f"energy scan, {response}: {len(energies)} showers")
        run = run_showers(plan, params, plan.energy_density_per_km2, response, energies, run_rng)
        # shower ids follow time order, which is the order of ``energies`` (one per slot)
        if not np.array_equal(run.per_shower["energy_eV"], energies):
            raise RuntimeError("forced showers came back in another order")
        for b in range(len(plan.energy_edges_eV) - 1):
            in_bin = bins == b
            row = efficiency_rows(_subset(run.per_shower, in_bin & run.per_shower["fiducial"]),
                                  _subset(run.per_shower, in_bin), params.min_devices)
            row.update(response=response, e_lo=plan.energy_edges_eV[b],
                       e_hi=plan.energy_edges_eV[b + 1])
            rows.append(row)
        runs.append({"response": response, "density_per_km2": plan.energy_density_per_km2,
                     **run.stats})
    return rows, runs


def efficiency_vs_density(plan, params, rng, progress) -> tuple[list[dict], list[dict]]:
    rows, runs = [], []
    energies = np.full(plan.showers_per_density, plan.density_energy_eV)
    cases = [(r, d) for r in plan.responses for d in plan.densities_per_km2]
    for (response, density), child in zip(cases, rng.spawn(len(cases))):
        progress(f"density scan, {response}, {density:g} phones/km^2")
        run = run_showers(plan, params, density, response, energies, child)
        row = efficiency_rows(_subset(run.per_shower, run.per_shower["fiducial"]),
                              run.per_shower, params.min_devices)
        row.update(response=response, density_per_km2=density)
        rows.append(row)
        runs.append({"response": response, "density_per_km2": density, **run.stats})
    return rows, runs


# ----------------------------------------------------------------------------- accidentals


def noise_config(plan: StudyPlan, spec: AccidentalSpec) -> SimConfig:
    """Noise only; phones on the default duty cycle (mostly plugged in at night)."""
    return SimConfig(
        hours=spec.hours,
        fleet=FleetConfig(n_phones=max(1, round(spec.density_per_km2 * plan.accidental_area_km**2)),
                          area_km=plan.accidental_area_km, rate_per_min=spec.rate_per_min),
        showers=ShowerConfig(natural=False, forced=0),
    )


def run_accidentals(plan: StudyPlan, params: SearchParams, spec: AccidentalSpec,
                    rng: np.random.Generator) -> list[dict]:
    """Observed triggers/candidates per multiplicity m against the device model, the plain
    Poisson of hits and time slides."""
    clock = time.perf_counter()
    config = noise_config(plan, spec)
    sim_rng, slide_rng = rng.spawn(2)
    sim = simulate_network(config, sim_rng)
    c = hit_columns(sim)
    m = np.array([x for x in plan.multiplicities if x >= params.min_devices])
    res = find_coincidences(c["t"], c["lat"], c["lon"], c["dev"], params.window_ms,
                            params.radius_m, params.min_devices)
    observed = count_accidentals(res, c["t"], m)
    bg = estimate_background(c["t"], c["lat"], c["lon"], c["dev"], params.window_ms,
                             params.radius_m, params.min_devices, live=live_arrays(sim),
                             max_multiplicity=int(m.max()))
    expected = bg.expected_windows(m)
    dev_idx = np.searchsorted(bg.devices.codes, c["dev"])
    naive = naive_poisson_expectation(bg.devices.lat, bg.devices.lon,
                                      np.bincount(dev_idx, minlength=len(bg.devices.codes)),
                                      config.end_ms - config.start_ms, params.window_ms,
                                      params.radius_m, m)
    slides = time_slide_counts(c["t"], c["lat"], c["lon"], c["dev"], params.window_ms,
                               params.radius_m, params.min_devices, m, plan.time_slides,
                               slide_rng) if plan.time_slides else np.zeros((0, len(m)))
    live_hours = sim.live.total_live_ms() / HOUR_MS
    seconds = time.perf_counter() - clock
    return [{
        "rate_per_min": spec.rate_per_min, "density_per_km2": spec.density_per_km2,
        "hours": spec.hours, "n_phones": config.fleet.n_phones, "live_phone_hours": live_hours,
        "hits": sim.hits.num_rows, "k": int(mi), "observed_triggers": int(observed.triggered[i]),
        "expected_device_model": float(expected[i]), "expected_naive_poisson": float(naive[i]),
        "time_slides": slides[:, i].tolist(),
        "observed_candidates": int(observed.candidates[i]),
        "largest_candidate_hits": int(observed.largest_candidate_hits[i]), "seconds": seconds,
    } for i, mi in enumerate(m)]


def accidentals(plan, params, rng, progress) -> list[dict]:
    rows = []
    for spec, child in zip(plan.accidental_runs, rng.spawn(len(plan.accidental_runs))):
        progress(f"noise only, {spec.rate_per_min:g}/min, {spec.density_per_km2:g} phones/km^2, "
                 f"{spec.hours:g} h")
        rows += run_accidentals(plan, params, spec, child)
    return rows


# ----------------------------------------------------------------------------- the study


def run_study(plan: StudyPlan = FULL, params: SearchParams = STUDY_PARAMS, seed: int = 1,
              progress: Progress | None = None) -> StudyResult:
    """All three parts, each from its own child of one seeded Generator."""
    say = progress or (lambda _msg: None)
    e_rng, d_rng, a_rng = np.random.default_rng(seed).spawn(3)
    seconds = {}
    clock = time.perf_counter()
    energy_rows, energy_runs = efficiency_vs_energy(plan, params, e_rng, say)
    seconds["efficiency_vs_energy"] = time.perf_counter() - clock
    clock = time.perf_counter()
    density_rows, density_runs = efficiency_vs_density(plan, params, d_rng, say)
    seconds["efficiency_vs_density"] = time.perf_counter() - clock
    clock = time.perf_counter()
    accidental_rows = accidentals(plan, params, a_rng, say)
    seconds["accidentals"] = time.perf_counter() - clock
    return StudyResult(plan, params, seed, energy_rows, energy_runs, density_rows, density_runs,
                       accidental_rows, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crayfis.sim.study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small runs (tests, CI)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="docs/study",
                        help="folder for the PNGs and results.json; the report is <out>.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    progress = lambda msg: print(f"[{time.perf_counter() - started:7.1f} s] {msg}",  # noqa: E731
                                 file=sys.stderr, flush=True)
    result = run_study(QUICK if args.quick else FULL, STUDY_PARAMS, args.seed, progress)
    command = "python -m crayfis.sim.study" + (" --quick" if args.quick else "") + \
        f" --seed {args.seed} --out {args.out}"
    md = write_report(result, args.out, command, time.perf_counter() - started)
    progress(f"wrote {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

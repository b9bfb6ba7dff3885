"""Write the closed-loop study's report: <out>.md, PNG plots and results.json under <out>/.

Every number in the report comes from the ``StudyResult`` it is given; nothing is typed in.
matplotlib runs on the Agg backend (no display needed).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from crayfis.sim.config import RESPONSES
from crayfis.sim.study_plan import StudyResult

COLOURS = {"moderate": "tab:blue", "optimistic": "tab:orange"}
MIN_EXPECTED_FOR_RATIO = 5.0


def write_report(result: StudyResult, out: str | Path, command: str, runtime_s: float) -> Path:
    """Plots and results.json in ``out``, the Markdown report at ``out``.md; returns its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots = {
        "energy": plot_efficiency(result, "energy", out / "efficiency_vs_energy.png"),
        "density": plot_efficiency(result, "density", out / "efficiency_vs_density.png"),
        "accidentals": plot_accidentals(result, out / "accidentals.png"),
    }
    (out / "results.json").write_text(json.dumps(
        {"command": command, "runtime_s": runtime_s, **result.to_dict()}, indent=1,
        default=_json_default) + "\n")
    md = out.with_suffix(".md")
    md.write_text(markdown(result, command, runtime_s, {k: os.path.relpath(v, md.parent)
                                                         for k, v in plots.items()}))
    return md


def _json_default(x):
    if isinstance(x, (np.integer, np.floating, np.bool_)):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x)}")


# ----------------------------------------------------------------------------- plots


def _errorbar(ax, x, rows, key, lo, hi, **style):
    y = np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=float)
    err = np.array([[r[lo] for r in rows], [r[hi] for r in rows]], dtype=float)
    ax.errorbar(x, y, yerr=np.abs(err - y), capsize=3, **style)


def plot_efficiency(result: StudyResult, against: str, path: Path) -> Path:
    rows = result.energy_rows if against == "energy" else result.density_rows
    p, plan = result.params, result.plan
    fig, ax = plt.subplots(figsize=(8.0, 6.2), dpi=120)
    for response in plan.responses:
        mine = [r for r in rows if r["response"] == response]
        if against == "energy":
            x = np.sqrt(np.array([r["e_lo"] for r in mine]) * np.array([r["e_hi"] for r in mine]))
        else:
            x = np.array([r["density_per_km2"] for r in mine], dtype=float)
        c = COLOURS.get(response)
        truth = [r["truth_ge_k"] / r["showers"] if r["showers"] else np.nan for r in mine]
        ax.plot(x, truth, ":", color=c, lw=1.2,
                label=f"{response}: >= {p.min_devices} phones hit (truth)")
        _errorbar(ax, x, mine, "efficiency", "efficiency_lo", "efficiency_hi", color=c, marker="o",
                  ls="-",
                  label=f"{response}: found (candidate with >= {p.min_devices} of its phones)")
        _errorbar(ax, x, mine, "significant_efficiency", "significant_lo", "significant_hi",
                  color=c, marker="s", mfc="white", ls="--",
                  label=f"{response}: found and false alarms < {plan.far_per_year:g}/yr")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.05)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_ylabel("detection efficiency (cores in the fiducial square)")
    if against == "energy":
        ax.set_xlabel("shower energy (eV)")
        title = f"Efficiency vs energy, {plan.energy_density_per_km2:g} phones/km$^2$"
    else:
        ax.set_xlabel("phone density (live phones per km$^2$)")
        title = f"Efficiency vs phone density, E = {plan.density_energy_eV:.1e} eV"
    ax.set_title(f"{title}\ntau = {p.window_ms} ms, R = {p.radius_m:g} m, k = {p.min_devices}, "
                 f"noise {plan.noise_rate_per_min:g}/min per phone", fontsize=10)
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _run_key(r: dict) -> tuple:
    return r["rate_per_min"], r["density_per_km2"]


def plot_accidentals(result: StudyResult, path: Path) -> Path:
    rows = result.accidental_rows
    runs = sorted({_run_key(r) for r in rows})
    cmap = plt.get_cmap("tab10")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.0, 5.0), dpi=120)
    lo, hi = np.inf, 0.0
    for i, run in enumerate(runs):
        mine = [r for r in rows if _run_key(r) == run and r["observed_triggers"] > 0]
        if not mine:
            continue
        obs = np.array([r["observed_triggers"] for r in mine], float)
        dev = np.array([r["expected_device_model"] for r in mine])
        naive = np.array([r["expected_naive_poisson"] for r in mine])
        k = np.array([r["k"] for r in mine])
        label = f"{run[0]:g}/min, {run[1]:g} phones/km$^2$"
        c = cmap(i)
        left.errorbar(dev, obs, yerr=np.sqrt(obs), fmt="o", color=c, ms=4, label=label)
        left.plot(naive, obs, "x", color=c, ms=5)
        enough = dev >= MIN_EXPECTED_FOR_RATIO  # a ratio to a tiny expectation says little
        o, d = obs[enough], dev[enough]
        right.errorbar(k[enough], o / d, yerr=np.sqrt(o) / d, fmt="o-", color=c, ms=4, capsize=2,
                       label=label)
        right.plot(k[enough], obs[enough] / naive[enough], "x--", color=c, ms=5, lw=0.8)
        pos = np.concatenate([obs, dev[dev > 0], naive[naive > 0]])
        lo, hi = min(lo, pos.min()), max(hi, pos.max())
    if hi > 0:
        line = [lo / 2, hi * 2]
        left.plot(line, line, "k-", lw=0.8)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("expected triggers: device model, live intervals (o);  "
                    "plain Poisson of hits (x)")
    left.set_ylabel("observed triggered anchors (noise only)")
    left.set_title("Accidental triggers, one point per run and k", fontsize=10)
    left.grid(True, which="both", alpha=0.3)
    if left.get_legend_handles_labels()[0]:
        left.legend(fontsize=7.5)
    right.axhline(1.0, color="k", lw=0.8)
    right.set_yscale("log")
    right.set_xlabel("k (minimum distinct devices)")
    right.set_ylabel("observed / expected")
    right.set_title("o-: device model;  x--: plain Poisson of hits "
                    f"(where the model expects >= {MIN_EXPECTED_FOR_RATIO:g})", fontsize=10)
    right.grid(True, which="both", alpha=0.3)
    if right.get_legend_handles_labels()[0]:
        right.legend(fontsize=7.5)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- markdown


def _f(x, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "-"
    return f"{x:.{digits}f}"


def _g(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "-"
    return f"{x:.{digits}g}"


def _eff(r: dict, key: str, lo: str, hi: str) -> str:
    if r[key] is None:
        return "-"
    return f"{r[key]:.2f} [{r[lo]:.2f}, {r[hi]:.2f}]"


def _table(header: list[str], lines: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return "\n".join(out)


def _efficiency_table(rows: list[dict], first: str, k: int) -> str:
    header = [first, "showers", "phones hit (mean)", f">= {k} phones hit", "found [68 % CI]",
              "found, FAR < 1/yr [68 % CI]", f"found / (>= {k} hit)", "split", "median purity",
              "all cores: found"]
    lines = []
    for r in rows:
        key = (f"{r['e_lo']:.2g}-{r['e_hi']:.2g}" if "e_lo" in r else f"{r['density_per_km2']:g}")
        lines.append([key, str(r["showers"]), _f(r["mean_hit_devices"], 1), str(r["truth_ge_k"]),
                      _eff(r, "efficiency", "efficiency_lo", "efficiency_hi"),
                      _eff(r, "significant_efficiency", "significant_lo", "significant_hi"),
                      _f(r["found_given_truth_ge_k"]), str(r["split"]), _f(r["median_purity"]),
                      f"{r['all_cores_found']}/{r['all_cores_showers']} = "
                      f"{_f(r['all_cores_efficiency'])}"])
    return _table(header, lines)


def _runs_table(runs: list[dict]) -> str:
    header = ["response", "phones/km^2", "phones", "hours", "hits", "showers", "candidates",
              "accidental cand.", "per hour", "accidental, FAR < 1/yr",
              "min multiplicity for FAR < 1/yr", "seconds (sim/search/bg+match)"]
    lines = [[r["response"], f"{r['density_per_km2']:g}", str(r["n_phones"]), _f(r["hours"]),
              str(r["hits"]), str(r["showers"]), str(r["candidates"]),
              str(r["accidental_candidates"]), _f(r["accidental_per_hour"], 1),
              str(r["accidental_significant"]), str(r["min_significant_multiplicity"]),
              "/".join(f"{s:.1f}" for s in r["seconds"].values())] for r in runs]
    return _table(header, lines)


def _accidental_table(rows: list[dict]) -> str:
    header = ["noise /min", "phones/km^2", "hours", "live phone-h", "hits", "k",
              "observed triggers", "device model", "obs / model", "plain Poisson",
              "obs / Poisson", "time slides (mean)", "candidates", "largest cand. (hits)"]
    lines = []
    for r in rows:
        if r["observed_triggers"] == 0 and r["expected_device_model"] < 0.5:
            continue
        ratio = (f"{r['observed_triggers'] / r['expected_device_model']:.3f}"
                 f" ± {np.sqrt(r['observed_triggers']) / r['expected_device_model']:.3f}"
                 if r["expected_device_model"] > 0 else "-")
        naive = (f"{r['observed_triggers'] / r['expected_naive_poisson']:.3f}"
                 if r["expected_naive_poisson"] > 0 else "-")
        lines.append([f"{r['rate_per_min']:g}", f"{r['density_per_km2']:g}", _g(r["hours"]),
                      _f(r["live_phone_hours"], 0), str(r["hits"]), str(r["k"]),
                      str(r["observed_triggers"]), _g(r["expected_device_model"], 4), ratio,
                      _g(r["expected_naive_poisson"], 4), naive,
                      _g(float(np.mean(r["time_slides"])), 4) if r["time_slides"] else "-",
                      str(r["observed_candidates"]),
                      str(r["largest_candidate_hits"])])
    return _table(header, lines)


def _threshold(rows: list[dict], response: str, level: float, key: str = "efficiency") -> str:
    """Lowest bin whose efficiency reaches ``level`` (and stays there)."""
    mine = [r for r in rows if r["response"] == response]
    eff = np.array([np.nan if r[key] is None else r[key] for r in mine])
    ok = eff >= level
    for i in range(len(mine)):
        if ok[i:].all():
            return f"{mine[i]['e_lo']:.2g}-{mine[i]['e_hi']:.2g} eV"
    return "not reached"


def markdown(result: StudyResult, command: str, runtime_s: float, plots: dict[str, str]) -> str:
    p, plan = result.params, result.plan
    k = p.min_devices
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "-"
    responses = ", ".join(f"{r}: A*eps = {RESPONSES[r][0]:g} m^2 (muons), {RESPONSES[r][1]:g} "
                          "m^2 (photons)" for r in plan.responses)
    parts = "; ".join(f"{name.replace('_', ' ')} {s:.0f} s" for name, s in result.seconds.items())
    acc = result.accidental_rows
    lines = [
        "# Closed-loop study: simulate, search, compare with truth",
        "",
        "Written by `crayfis/sim/study.py` (issue 5, item 4); every number below comes from that "
        "run. Do not edit by hand: rerun the command.",
        "",
        f"- Command: `{command}`",
        f"- Seed: {result.seed}. Date: {now}. Runtime: {runtime_s:.0f} s ({parts}).",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, load average at the end "
        f"{load} (shared); Python {platform.python_version()}, numpy {np.__version__}.",
        f"- Raw numbers: `{Path(plots['energy']).parent}/results.json`.",
        "",
        "## Setup",
        "",
        f"Search (docs/coincidence.md, `crayfis.coincidence.find_coincidences`): window tau = "
        f"{p.window_ms} ms, radius R = {p.radius_m:g} m, k = {k} distinct devices. tau covers "
        "the phones' clock spread (~30 ms, plus 33 ms frames; 5 % of phones have ~1 s offsets "
        "and are lost); R covers the bulk of a shower's hit phones (90 % of the expected hits "
        "lie within ~250-400 m of the core at 1e18-1e21 eV).",
        "",
        "Simulation (`crayfis.sim.simulate_network`, docs/physics.md): showers from the "
        "NKG/CORSIKA model with zenith density sin cos up to 65 degrees, phone response "
        f"{responses}. Shower runs: a {plan.area_km:g} km x {plan.area_km:g} km square, phones "
        "live the whole run (density = live phones), noise triggers at "
        f"{plan.noise_rate_per_min:g}/min per phone (log-normal spread, 1 % hot phones at 5-10x), "
        f"one forced shower every {plan.shower_spacing_ms / 1000:g} s, core uniform on the square. "
        f"Efficiencies are quoted for cores at least {plan.fiducial_margin_m:g} m inside the "
        "square (fiducial); the last column counts all cores, edge losses included.",
        "",
        "Why not the app's 20/min noise rate in the shower runs: at 20/min, tau = 100 ms and "
        "R = 300 m a phone has ~10 neighbours firing in every window at 1000 phones/km^2, so "
        "k = 3 triggers on nearly every hit and the windows merge into one candidate that "
        "holds most of the data (part 3 measures this). Shower detection at that rate needs "
        "hits cleaned to the muon level first (docs/physics.md: ~1e-3..1e-2 Hz per phone); "
        f"{plan.noise_rate_per_min:g}/min = {plan.noise_rate_per_min / 60:.1e} Hz sits in "
        "that range.",
        "",
        "Matching to truth: a shower is *found* when one candidate holds hits of that shower "
        f"from >= {k} distinct devices. *FAR < {plan.far_per_year:g}/yr*: in addition, such a "
        "candidate has an expected false-alarm rate below that, from its multiplicity under "
        "the device-level background model of the same run (`estimate_background` with the "
        "live intervals, `candidate_significance`), for the whole simulated network. *Purity*: "
        "the share of the best matching candidate's hits that belong to the shower. *Split*: "
        f"showers found by more than one candidate. *Accidental candidates*: candidates that "
        f"hold no shower's hits from >= {k} devices. Intervals: Wilson, 68 %.",
        "",
        "## 1. Efficiency against energy",
        "",
        f"{plan.energy_density_per_km2:g} phones/km^2, {plan.showers_per_energy_bin} showers "
        "per energy bin (energies log-uniform inside the bin), before the fiducial cut.",
        "",
    ]
    for response in plan.responses:
        lines += [f"### {response}", "",
                  _efficiency_table([r for r in result.energy_rows if r["response"] == response],
                                    "energy (eV)", k), ""]
        lines += [f"Found in >= 50 % from {_threshold(result.energy_rows, response, 0.5)}, in "
                  f">= 90 % from {_threshold(result.energy_rows, response, 0.9)}; found with "
                  f"FAR < {plan.far_per_year:g}/yr in >= 50 % from "
                  f"{_threshold(result.energy_rows, response, 0.5, 'significant_efficiency')}.",
                  ""]
    lines += ["Runs:", "", _runs_table(result.energy_runs), "",
              f"![efficiency vs energy]({plots['energy']})", "",
              "## 2. Efficiency against phone density", "",
              f"E = {plan.density_energy_eV:.2g} eV, {plan.showers_per_density} showers per "
              "density and response (before the fiducial cut).", ""]
    for response in plan.responses:
        lines += [f"### {response}", "",
                  _efficiency_table([r for r in result.density_rows if r["response"] == response],
                                    "phones/km^2", k), ""]
    lines += ["Runs:", "", _runs_table(result.density_runs), "",
              f"![efficiency vs density]({plots['density']})", "",
              "## 3. Accidental triggers on noise only", "",
              f"{plan.accidental_area_km:g} km x {plan.accidental_area_km:g} km, no showers, "
              "phones "
              "on the default duty cycle from 22:00 UTC (most plug in at local night, some "
              "intermittently, 5 % always on), so phones come and go during every run. One search "
              f"at k = {k} per run; the triggers at higher k are its windows with >= k devices "
              "(exactly the triggers of a search at that k), the candidates are those windows "
              "merged. *Device model*: `estimate_background` with the simulated live intervals "
              "(the sum over anchors of P[Poisson-binomial >= k - 1]). *Plain Poisson*: "
              "lambda = (tau + 1 ms) x the summed hit rates (hits / span) of the other devices "
              "within R, P[Poisson >= k - 1], summed over anchors (the model docs/significance.md "
              "rejects). *Time slides*: the mean over "
              f"{plan.time_slides} searches after shifting each device's times by its own "
              "random offset (>= 100 (tau + 1) ms, modulo the span); a shift moves a phone's "
              "live intervals with its hits, so slides lose the correlation of phones that "
              "plug in at the same hour. The ± is sqrt(observed) / expected: a lower bound, as "
              "overlapping windows are correlated. Rows with no observed trigger and < 0.5 "
              "expected are left out.", "",
              _accidental_table(acc), ""]
    solid = [r for r in acc if r["expected_device_model"] >= 20 and r["expected_naive_poisson"] > 0]
    if solid:
        dev = [r["observed_triggers"] / r["expected_device_model"] for r in solid]
        naive = [r["observed_triggers"] / r["expected_naive_poisson"] for r in solid]
        lines += [f"Over the {len(solid)} rows where the device model expects >= 20 triggers, "
                  f"observed / device model lies in [{min(dev):.3f}, {max(dev):.3f}] "
                  f"(median {np.median(dev):.3f}) and observed / plain Poisson in "
                  f"[{min(naive):.3f}, {max(naive):.3f}] (median {np.median(naive):.3f}).", ""]
    percolation = [r for r in acc if r["k"] == k and r["hits"]]
    if percolation:
        lines += [f"Occupancy at k = {k}: " + "; ".join(
            f"{r['rate_per_min']:g}/min, {r['density_per_km2']:g}/km^2: "
            f"{r['observed_triggers'] / r['hits']:.2%} of hits trigger, the largest candidate "
            f"holds {r['largest_candidate_hits']} hits "
            f"({r['largest_candidate_hits'] / r['hits']:.2%})"
            for r in percolation) + ".",
            ""]
    lines += [f"![accidentals]({plots['accidentals']})", ""]
    return "\n".join(lines)

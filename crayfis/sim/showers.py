"""Air showers: sampling (energy, direction, core, time) and the phones they hit.

Model (docs/physics.md):
- energy from the Auger 2020 spectrum (crayfis.sim.spectrum), zenith density sin(t)cos(t) up
  to zenith_max, uniform azimuth (direction the shower comes from, clockwise from north);
- ground particle numbers from CORSIKA fits: muons 0.028 (E/GeV)^0.93, photons
  0.094 (E/GeV)^1.15, both spread with the NKG lateral distribution, Moliere radius 79 m;
- shower age from depth: s = 3X / (X + 2 Xmax), X = 1030 g/cm^2 / cos(zenith) at sea level,
  Xmax = 750 + 55 log10(E / EeV) g/cm^2, clipped to [1.2, 1.9] (the range CRAYFIS studied):
  vertical showers are young (s ~ 1.2), inclined ones old (s ~ 1.7 at 60 degrees);
- a phone at shower-plane distance r expects mu = rho_mu A_eps_mu + rho_gamma A_eps_gamma
  particles; it records an event with P = 1 - exp(-mu) (a phone records at most one event per
  frame, so more particles in the same frame still make one event);
- arrival on the phone clock = core time + plane-front delay (-(d.n)/c, microseconds) + the
  phone's clock offset, then stamped at the next frame arrival; only live phones fire.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
from scipy.spatial import cKDTree
from scipy.special import gamma as gamma_fn

from crayfis.definition import YEAR_MS
from crayfis.sim.config import ShowerConfig
from crayfis.sim.fleet import Fleet
from crayfis.sim.live import LiveIntervals
from crayfis.sim.projection import enu_to_latlon
from crayfis.sim.spectrum import AUGER_2020, BrokenPowerLaw

C_M_PER_MS = 299_792.458
SEA_LEVEL_DEPTH = 1030.0  # g/cm^2
MAX_REACH_M = 20_000.0


def n_muons(energy_eV):
    return 0.028 * (np.asarray(energy_eV) / 1e9) ** 0.93


def n_photons(energy_eV):
    return 0.094 * (np.asarray(energy_eV) / 1e9) ** 1.15


def shower_age(energy_eV, zenith_rad):
    depth = SEA_LEVEL_DEPTH / np.cos(zenith_rad)
    xmax = 750.0 + 55.0 * np.log10(np.asarray(energy_eV) / 1e18)
    return np.clip(3.0 * depth / (depth + 2.0 * xmax), 1.2, 1.9)


def nkg_density(r_m, n_particles, age, moliere_m: float = 79.0):
    """Particles per m^2 at shower-plane distance r (NKG lateral distribution)."""
    r = np.maximum(np.asarray(r_m, dtype=np.float64), 1e-3) / moliere_m
    c = gamma_fn(4.5 - age) / (gamma_fn(age) * gamma_fn(4.5 - 2.0 * age))
    return (n_particles * c / (2.0 * np.pi * moliere_m**2)
            * r ** (age - 2.0) * (1.0 + r) ** (age - 4.5))


def expected_particles(r_m, energy_eV, age, cfg: ShowerConfig):
    """mu: expected detected particles per phone at shower-plane distance r."""
    shape = nkg_density(r_m, 1.0, age, cfg.moliere_m)
    return shape * (n_muons(energy_eV) * cfg.a_eps_muon_m2
                    + n_photons(energy_eV) * cfg.a_eps_photon_m2)


def sample_zenith(n: int, zenith_max_rad: float, rng: np.random.Generator) -> np.ndarray:
    """Zenith angles with density sin(t)cos(t) on [0, zenith_max]: sin^2 t is uniform."""
    return np.arcsin(np.sqrt(rng.random(n)) * np.sin(zenith_max_rad))


def plane_distance(d_east, d_north, zenith_rad, azimuth_rad):
    """Distance from the shower axis (in the shower plane) and d.n for ground offsets."""
    st = np.sin(zenith_rad)
    along = d_east * st * np.sin(azimuth_rad) + d_north * st * np.cos(azimuth_rad)
    r2 = np.maximum(d_east**2 + d_north**2 - along**2, 0.0)
    return np.sqrt(r2), along


@dataclass
class ShowerTable:
    """One row per shower; t_ms is the true time the front reaches the core (Unix ms)."""

    shower_id: np.ndarray
    t_ms: np.ndarray
    core_east_m: np.ndarray
    core_north_m: np.ndarray
    core_lat: np.ndarray
    core_lon: np.ndarray
    energy_eV: np.ndarray
    zenith_deg: np.ndarray
    azimuth_deg: np.ndarray
    age: np.ndarray
    n_muons: np.ndarray
    n_photons: np.ndarray
    forced: np.ndarray
    # Filled by shower_hits: live phones within reach, sum of their P(hit), phones hit.
    n_live_in_reach: np.ndarray
    expected_hit_devices: np.ndarray
    n_hit_devices: np.ndarray

    def __len__(self) -> int:
        return len(self.shower_id)

    def to_arrow(self) -> pa.Table:
        return pa.table({f.name: getattr(self, f.name) for f in fields(self)})

    def to_records(self) -> list[dict]:
        return self.to_arrow().to_pylist()


def sample_showers(cfg: ShowerConfig, region_km: float, lat0: float, lon0: float,
                   start_ms: int, end_ms: int, live: LiveIntervals, rng: np.random.Generator,
                   spectrum: BrokenPowerLaw = AUGER_2020) -> ShowerTable:
    """Natural showers (Poisson count from the flux) plus forced ones, ids in time order."""
    span = end_ms - start_ms
    half = region_km * 500.0
    n_nat = 0
    if cfg.natural:
        side_km = region_km + 2 * cfg.margin_m / 1000.0
        mean = (spectrum.rate_per_km2_yr(cfg.energy_min_eV, cfg.energy_max_eV)
                * side_km**2 * span / YEAR_MS)
        n_nat = int(rng.poisson(mean))
    nat_half = half + cfg.margin_m
    t_nat = start_ms + np.floor(rng.random(n_nat) * span).astype(np.int64)
    e_nat = spectrum.sample(n_nat, cfg.energy_min_eV, cfg.energy_max_eV, rng)
    xy_nat = rng.uniform(-nat_half, nat_half, (2, n_nat))

    m = cfg.forced
    if cfg.forced_times_ms is not None:
        t_forced = np.asarray(cfg.forced_times_ms, dtype=np.int64)
    else:
        t_forced = _times_while_live(live, m, rng)
    if cfg.forced_energies_eV is not None:
        e_forced = np.asarray(cfg.forced_energies_eV, dtype=np.float64)
    else:
        e_forced = spectrum.sample(m, cfg.forced_energy_min_eV, cfg.energy_max_eV, rng)
    xy_forced = rng.uniform(-half, half, (2, m))

    t = np.concatenate([t_nat, t_forced])
    energy = np.concatenate([e_nat, e_forced])
    east = np.concatenate([xy_nat[0], xy_forced[0]])
    north = np.concatenate([xy_nat[1], xy_forced[1]])
    forced = np.concatenate([np.zeros(n_nat, bool), np.ones(m, bool)])
    n = t.size
    zenith = sample_zenith(n, np.radians(cfg.zenith_max_deg), rng)
    azimuth = rng.uniform(0.0, 2.0 * np.pi, n)
    order = np.lexsort((energy, t))
    t, energy, east, north, forced, zenith, azimuth = (
        a[order] for a in (t, energy, east, north, forced, zenith, azimuth))
    lat, lon = enu_to_latlon(east, north, lat0, lon0)
    return ShowerTable(
        shower_id=np.arange(n, dtype=np.int64), t_ms=t, core_east_m=east, core_north_m=north,
        core_lat=lat, core_lon=lon, energy_eV=energy, zenith_deg=np.degrees(zenith),
        azimuth_deg=np.degrees(azimuth), age=shower_age(energy, zenith),
        n_muons=n_muons(energy), n_photons=n_photons(energy), forced=forced,
        n_live_in_reach=np.zeros(n, np.int64), expected_hit_devices=np.zeros(n),
        n_hit_devices=np.zeros(n, np.int64))


def _times_while_live(live: LiveIntervals, m: int, rng: np.random.Generator) -> np.ndarray:
    """m times, each inside a live interval picked with probability proportional to its length
    (so forced showers fall when many phones are live)."""
    if m == 0:
        return np.zeros(0, np.int64)
    length = (live.end_ms - live.start_ms).astype(np.float64)
    if length.sum() <= 0:
        raise ValueError("no live phone in the span: cannot place forced showers")
    pick = rng.choice(length.size, size=m, p=length / length.sum())
    return live.start_ms[pick] + np.floor(rng.random(m) * length[pick]).astype(np.int64)


@dataclass
class ShowerHits:
    """Events caused by showers: device index, frame index, phone-clock ms, truth."""

    device: np.ndarray
    frame: np.ndarray
    t_ms: np.ndarray
    shower_id: np.ndarray
    r_plane_m: np.ndarray
    mu: np.ndarray


def reach_radius(energy_eV: float, age: float, cfg: ShowerConfig) -> float:
    """Shower-plane radius beyond which mu < cfg.mu_floor (capped at MAX_REACH_M)."""
    r = np.geomspace(0.1, MAX_REACH_M, 400)  # 3 % steps
    above = np.flatnonzero(expected_particles(r, energy_eV, age, cfg) >= cfg.mu_floor)
    return float(r[min(above[-1] + 1, r.size - 1)]) if above.size else 0.0


def phone_response(showers: ShowerTable, i: int, fleet: Fleet, tree: cKDTree,
                   cfg: ShowerConfig) -> dict[str, np.ndarray]:
    """For shower i: phones within reach, their plane distance, mu and arrival (phone clock)."""
    zen, az = np.radians(showers.zenith_deg[i]), np.radians(showers.azimuth_deg[i])
    reach = reach_radius(showers.energy_eV[i], showers.age[i], cfg)
    ground = min(reach / max(np.cos(zen), 1e-3), MAX_REACH_M)
    idx = np.asarray(tree.query_ball_point((showers.core_east_m[i], showers.core_north_m[i]),
                                           ground), dtype=np.int64)
    idx.sort()
    de = fleet.east_m[idx] - showers.core_east_m[i]
    dn = fleet.north_m[idx] - showers.core_north_m[i]
    r, along = plane_distance(de, dn, zen, az)
    mu = expected_particles(r, showers.energy_eV[i], showers.age[i], cfg)
    arrival = showers.t_ms[i] - along / C_M_PER_MS + fleet.clock_offset_ms[idx]
    return {"device": idx, "r": r, "mu": mu, "arrival_ms": arrival}


def shower_hits(showers: ShowerTable, fleet: Fleet, live: LiveIntervals, origin_ms: int,
                cfg: ShowerConfig, rng: np.random.Generator) -> ShowerHits:
    """Draw which live phones each shower hits; fills the truth columns of ``showers``."""
    parts = []
    tree = cKDTree(np.column_stack([fleet.east_m, fleet.north_m])) if len(showers) else None
    for i in range(len(showers)):  # loop over showers (few); vectorized over phones
        resp = phone_response(showers, i, fleet, tree, cfg)
        dev = resp["device"]
        frame = fleet.first_frame_at_or_after(dev, resp["arrival_ms"], origin_ms)
        t = fleet.frame_time_ms(dev, frame, origin_ms)
        p = -np.expm1(-resp["mu"])
        on = live.contains(dev, t)
        hit = on & (rng.random(dev.size) < p)
        showers.n_live_in_reach[i] = int(on.sum())
        showers.expected_hit_devices[i] = float(p[on].sum())
        showers.n_hit_devices[i] = int(hit.sum())
        parts.append((dev[hit], frame[hit], t[hit], np.full(hit.sum(), showers.shower_id[i]),
                      resp["r"][hit], resp["mu"][hit]))
    if not parts:
        z = np.zeros(0, np.int64)
        return ShowerHits(z, z, z, z, np.zeros(0), np.zeros(0))
    cols = [np.concatenate(c) for c in zip(*parts)]
    return ShowerHits(*cols)

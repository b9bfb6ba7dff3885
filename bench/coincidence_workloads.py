"""The generated hits every coincidence benchmark runs on (bench/coincidence.py and its Spark
section, bench/coincidence_spark.py): phones at fixed places firing as Poisson processes, with
showers injected, from a fixed seed."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from crayfis.definition import EARTH_RADIUS_M, MINUTE_MS

T0_MS = 1_795_305_600_000  # 2026-11-22T00:00:00Z


@dataclass(frozen=True)
class Workload:
    """A fleet of phones at fixed places (GPS jitter per hit), each firing as a Poisson process
    at the app's tuned rate, plus showers that make nearby phones fire within clock errors."""

    name: str
    phones: int
    side_km: float
    window_ms: int
    radius_m: float
    min_devices: int
    rate_per_min: float = 20.0  # CRAYFIS v1.0 trigger rate: almost all of it noise
    lat0: float = 34.05
    lon0: float = -118.25
    gps_sigma_m: float = 10.0
    showers_per_min: float = 6.0
    shower_radius_m: float = 800.0  # phones within it fire with shower_p_fire
    shower_p_fire: float = 0.8
    clock_sigma_ms: float = 15.0

    @property
    def density_km2(self) -> float:
        return self.phones / self.side_km**2

    @property
    def mean_other_devices(self) -> float:
        """lambda: expected other phones firing in one window (phones within R x p)."""
        p = 1 - math.exp(-self.rate_per_min / MINUTE_MS * (self.window_ms + 1))
        return self.density_km2 * math.pi * (self.radius_m / 1000) ** 2 * p

    def describe(self) -> str:
        return (f"{self.phones:,} phones over {self.side_km:g}x{self.side_km:g} km "
                f"({self.density_km2:g}/km^2) at {self.rate_per_min:g} hits/min; tau = "
                f"{self.window_ms} ms, R = {self.radius_m:g} m, k = {self.min_devices}; "
                f"lambda = {self.mean_other_devices:.2f} other phones per window; "
                f"{self.showers_per_min:g} showers/min injected (phones within {self.shower_radius_m:g} m "
                f"of the core fire with p = {self.shower_p_fire:g}, clock jitter {self.clock_sigma_ms:g} ms)")


WORKLOADS = {
    # a metro area today: sparse phones, km-scale showers
    "metro": Workload("metro", phones=50_000, side_km=100, window_ms=100, radius_m=1000, min_devices=4),
    # the same area with a fifth of the phones
    "sparse": Workload("sparse", phones=10_000, side_km=100, window_ms=100, radius_m=1000, min_devices=4),
    # the design target density (docs/physics.md), with R and tau scaled down to match
    "city": Workload("city", phones=100_000, side_km=10, window_ms=50, radius_m=100, min_devices=4,
                     shower_radius_m=80.0),
}


@dataclass
class Hits:
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    dev: np.ndarray
    shower: np.ndarray  # shower index per hit, -1 for noise
    n_showers: int

    def __len__(self) -> int:
        return len(self.t)

    def take(self, idx):
        return Hits(self.t[idx], self.lat[idx], self.lon[idx], self.dev[idx], self.shower[idx], self.n_showers)


def _to_lat_lon(w: Workload, east_m, north_m):
    lat = w.lat0 + np.degrees(north_m / EARTH_RADIUS_M)
    lon = w.lon0 + np.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(w.lat0))))
    return lat, lon


def generate(w: Workload, n_hits: int, seed: int = 20261122) -> Hits:
    """About n_hits hits in time order (as exports and index reads deliver them)."""
    rng = np.random.default_rng(seed)
    half = w.side_km * 500.0
    px, py = rng.uniform(-half, half, w.phones), rng.uniform(-half, half, w.phones)
    rate_ms = w.rate_per_min / MINUTE_MS
    span_ms = max(1, int(n_hits / (w.phones * rate_ms)))
    n_showers = int(rng.poisson(w.showers_per_min * span_ms / MINUTE_MS))
    cx, cy = rng.uniform(-half, half, n_showers), rng.uniform(-half, half, n_showers)
    near = cKDTree(np.column_stack((px, py))).query_ball_point(np.column_stack((cx, cy)), w.shower_radius_m)
    s_dev = np.concatenate([np.asarray(p, dtype=np.int64) for p in near] + [np.zeros(0, np.int64)])
    s_idx = np.repeat(np.arange(n_showers), [len(p) for p in near])
    fire = rng.random(len(s_dev)) < w.shower_p_fire
    s_dev, s_idx = s_dev[fire], s_idx[fire]
    t_core = rng.integers(0, span_ms, n_showers)
    jitter = np.clip(rng.normal(0, w.clock_sigma_ms, len(s_dev)), -3 * w.clock_sigma_ms, 3 * w.clock_sigma_ms)
    s_t = t_core[s_idx] + np.round(jitter).astype(np.int64)
    n_bg = max(0, n_hits - len(s_dev))
    dev = np.concatenate((rng.integers(0, w.phones, n_bg), s_dev))
    t = np.concatenate((rng.integers(0, span_ms, n_bg), s_t))
    shower = np.concatenate((np.full(n_bg, -1), s_idx))
    order = np.argsort(t, kind="stable")
    dev, t, shower = dev[order], t[order], shower[order]
    ex = px[dev] + rng.normal(0, w.gps_sigma_m, len(dev))
    ny = py[dev] + rng.normal(0, w.gps_sigma_m, len(dev))
    lat, lon = _to_lat_lon(w, ex, ny)
    return Hits(t + T0_MS, lat, lon, dev.astype(np.int64), shower, n_showers)

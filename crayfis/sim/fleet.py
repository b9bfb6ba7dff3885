"""The phones: ids, positions, trigger rates, clock offsets, frame phases, GPS accuracy.

Everything per phone is drawn once from a seeded Generator (vectorized); per-hit quantities
(times, reported positions) are derived from these arrays by index.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from crayfis.definition import EARTH_RADIUS_M
from crayfis.sim.config import FleetConfig
from crayfis.sim.projection import enu_to_latlon

# sigma of a 2-D Gaussian whose 68 % radius is the reported accuracy: 1 - exp(-a^2/2s^2) = 0.68
ACCURACY_TO_SIGMA = 1.0 / np.sqrt(2.0 * np.log(1.0 / 0.32))


@dataclass
class Fleet:
    """Per-phone arrays, all of length n (index = device index used everywhere in the sim)."""

    device_id: np.ndarray  # object array of 16-char lowercase hex ANDROID_IDs
    east_m: np.ndarray  # true position in the local plane
    north_m: np.ndarray
    lat: np.ndarray  # true position, degrees
    lon: np.ndarray
    rate_hz: np.ndarray  # background (L1) trigger rate
    hot: np.ndarray  # bool: noisy device
    clock_offset_ms: np.ndarray  # phone clock minus true time
    frame_phase_ms: np.ndarray  # frame arrivals at start_ms + phase + k * frame_ms (phone clock)
    gps_accuracy_m: np.ndarray  # reported 68 % radius
    frame_ms: float

    @property
    def n(self) -> int:
        return len(self.device_id)

    def first_frame_at_or_after(self, device, t_ms, origin_ms: int) -> np.ndarray:
        """Index k of the first frame whose arrival (phone clock) is >= t_ms (float ms)."""
        rel = np.asarray(t_ms, dtype=np.float64) - origin_ms - self.frame_phase_ms[device]
        return np.ceil(rel / self.frame_ms).astype(np.int64)

    def frame_time_ms(self, device, k, origin_ms: int) -> np.ndarray:
        """Event timestamp of frame k: its arrival on the phone clock, floored to whole ms."""
        rel = self.frame_phase_ms[device] + np.asarray(k, dtype=np.float64) * self.frame_ms
        return origin_ms + np.floor(rel).astype(np.int64)

    def degrees_per_metre(self) -> tuple[float, np.ndarray]:
        """(degrees of latitude per metre north, per-phone degrees of longitude per metre east)."""
        if getattr(self, "_deg_east", None) is None:
            cos_lat = np.maximum(np.cos(np.radians(self.lat)), 1e-9)
            self._deg_east = np.degrees(1.0 / (EARTH_RADIUS_M * cos_lat))
        return float(np.degrees(1.0 / EARTH_RADIUS_M)), self._deg_east

    def device_id_bytes(self) -> np.ndarray | None:
        """(n, 16) uint8 ASCII of the ids when all are 16 chars (fast string building)."""
        if getattr(self, "_id_bytes", None) is None:
            raw = np.array(self.device_id.tolist(), dtype="S")
            self._id_bytes = (raw.view(np.uint8).reshape(self.n, 16) if raw.dtype.itemsize == 16
                              and all(len(d) == 16 for d in self.device_id) else False)
        return None if self._id_bytes is False else self._id_bytes

    def device_id_array(self) -> pa.Array:
        if getattr(self, "_ids_arrow", None) is None:
            self._ids_arrow = pa.array(self.device_id.tolist(), type=pa.string())
        return self._ids_arrow

    def to_arrow(self) -> pa.Table:
        return pa.table({
            "device_id": self.device_id_array(), "lat": self.lat, "lon": self.lon,
            "east_m": self.east_m, "north_m": self.north_m, "rate_hz": self.rate_hz,
            "hot": self.hot, "clock_offset_ms": self.clock_offset_ms,
            "gps_accuracy_m": self.gps_accuracy_m.astype(np.float32),
        })


def make_fleet(cfg: FleetConfig, rng: np.random.Generator) -> Fleet:
    """Draw a fleet from its config (deterministic for the Generator's state)."""
    n = cfg.n_phones
    east, north = _positions(cfg, rng)
    lat, lon = enu_to_latlon(east, north, cfg.center_lat, cfg.center_lon)
    median = cfg.rate_per_min / 60.0
    rate = median * np.exp(cfg.rate_sigma * rng.standard_normal(n))
    hot = rng.random(n) < cfg.hot_fraction
    rate[hot] *= rng.uniform(cfg.hot_factor[0], cfg.hot_factor[1], hot.sum())
    rate = np.minimum(rate, 0.5 * cfg.fps)  # at most one event per frame: keep p(frame) < 1
    tail = rng.random(n) < cfg.clock_tail_fraction
    sigma = np.where(tail, cfg.clock_tail_sigma_ms, cfg.clock_sigma_ms)
    offset = sigma * rng.standard_normal(n)
    frame_ms = 1000.0 / cfg.fps
    phase = rng.uniform(0.0, frame_ms, n)
    lo, hi = np.log(cfg.gps_accuracy_m[0]), np.log(cfg.gps_accuracy_m[1])
    accuracy = np.exp(rng.uniform(lo, hi, n))
    return Fleet(device_id=make_device_ids(n, rng), east_m=east, north_m=north, lat=lat, lon=lon,
                 rate_hz=rate, hot=hot, clock_offset_ms=offset, frame_phase_ms=phase,
                 gps_accuracy_m=accuracy, frame_ms=frame_ms)


def make_device_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct 16-char lowercase hex ids (64 random bits each, like ANDROID_ID)."""
    values = np.unique(rng.integers(0, 2**64, size=n, dtype=np.uint64))
    while values.size < n:  # collisions are astronomically rare; top up if one happens
        extra = rng.integers(0, 2**64, size=n - values.size, dtype=np.uint64)
        values = np.unique(np.concatenate([values, extra]))
    values = rng.permutation(values)
    return np.array([f"{v:016x}" for v in values.tolist()], dtype=object)


def _positions(cfg: FleetConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, half = cfg.n_phones, cfg.area_km * 500.0
    east = rng.uniform(-half, half, n)
    north = rng.uniform(-half, half, n)
    clustered = rng.random(n) < cfg.cluster_fraction
    k = int(clustered.sum())
    if k:
        sigma = cfg.cluster_sigma_km * 1000.0
        ce, cn = (c * 1000.0 for c in cfg.cluster_offset_km)
        east[clustered] = np.clip(ce + sigma * rng.standard_normal(k), -half, half)
        north[clustered] = np.clip(cn + sigma * rng.standard_normal(k), -half, half)
    return east, north

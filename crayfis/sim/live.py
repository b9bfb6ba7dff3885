"""When each phone takes data: live intervals (device, start_ms, end_ms) on the phone's clock.

The app only takes data while charging, so most phones are live at local night; a share are
plugged in on and off during the day, a few are always on. Intervals become the exposure
blocks the backend sees, so they are kept sorted by (device, start) and non-overlapping.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from crayfis.definition import DAY_MS, HOUR_MS
from crayfis.sim.config import FleetConfig


@dataclass
class LiveIntervals:
    """Half-open [start_ms, end_ms) per device index, sorted by (device, start), disjoint."""

    device: np.ndarray  # int64 device index
    start_ms: np.ndarray  # int64
    end_ms: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.device)

    @classmethod
    def from_arrays(cls, device, start_ms, end_ms) -> LiveIntervals:
        """Sort, drop empty intervals and merge overlaps within each device."""
        device = np.asarray(device, dtype=np.int64)
        start = np.asarray(start_ms, dtype=np.int64)
        end = np.asarray(end_ms, dtype=np.int64)
        keep = end > start
        device, start, end = device[keep], start[keep], end[keep]
        if device.size == 0:
            return cls(device, start, end)
        order = np.lexsort((start, device))
        device, start, end = device[order], start[order], end[order]
        # Running max of end within a device; a new group starts where start > that max.
        base = start.min()
        stride = np.int64(end.max() - base + 1)
        key_start = device * stride + (start - base)
        run_end = np.maximum.accumulate(device * stride + (end - base))
        new = np.ones(device.size, dtype=bool)
        new[1:] = key_start[1:] > run_end[:-1]
        first = np.flatnonzero(new)
        merged_end = np.maximum.reduceat(end, first)
        return cls(device[first], start[first], merged_end)

    def live_ms_per_device(self, n_devices: int) -> np.ndarray:
        return np.bincount(self.device, weights=self.end_ms - self.start_ms,
                           minlength=n_devices).astype(np.int64)

    def total_live_ms(self) -> int:
        return int((self.end_ms - self.start_ms).sum())

    def contains(self, device, t_ms) -> np.ndarray:
        """Whether each (device index, phone-clock ms) pair lies inside a live interval."""
        device = np.asarray(device, dtype=np.int64)
        t = np.asarray(t_ms, dtype=np.int64)
        if len(self) == 0:
            return np.zeros(device.shape, dtype=bool)
        base = min(int(self.start_ms.min()), int(t.min()) if t.size else 0)
        stride = np.int64(max(int(self.end_ms.max()), int(t.max()) if t.size else 0) - base + 1)
        keys = self.device * stride + (self.start_ms - base)
        i = np.searchsorted(keys, device * stride + (t - base), side="right") - 1
        ok = i >= 0
        i = np.where(ok, i, 0)
        return ok & (self.device[i] == device) & (t < self.end_ms[i])

    def clip(self, start_ms: int, end_ms: int) -> LiveIntervals:
        """The parts of the intervals inside [start_ms, end_ms)."""
        s = np.maximum(self.start_ms, start_ms)
        e = np.minimum(self.end_ms, end_ms)
        keep = e > s
        return LiveIntervals(self.device[keep], s[keep], e[keep])

    def live_count_at(self, t_ms: int) -> int:
        return int(((self.start_ms <= t_ms) & (t_ms < self.end_ms)).sum())

    def to_arrow(self, device_ids: pa.Array) -> pa.Table:
        ids = device_ids.take(pa.array(self.device))
        return pa.table({"device_id": ids, "start_ms": self.start_ms, "end_ms": self.end_ms})


def plan_live_intervals(cfg: FleetConfig, lon: np.ndarray, start_ms: int, end_ms: int,
                        rng: np.random.Generator) -> LiveIntervals:
    """Draw every phone's live intervals inside [start_ms, end_ms) from the duty-cycle model."""
    n = cfg.n_phones
    if cfg.duty_cycle == "always":
        return LiveIntervals(np.arange(n, dtype=np.int64), np.full(n, start_ms, np.int64),
                             np.full(n, end_ms, np.int64))
    u = rng.random(n)
    always = u < cfg.always_on_fraction
    intermittent = (u >= cfg.always_on_fraction) & (
        u < cfg.always_on_fraction + cfg.intermittent_fraction)
    nightly = ~(always | intermittent)
    parts = [
        (np.flatnonzero(always), np.full(always.sum(), start_ms), np.full(always.sum(), end_ms)),
        _nights(cfg, np.flatnonzero(nightly), lon, start_ms, end_ms, rng),
        _sessions(cfg, np.flatnonzero(intermittent), start_ms, end_ms, rng),
    ]
    device = np.concatenate([p[0] for p in parts])
    start = np.concatenate([p[1] for p in parts]).astype(np.int64)
    end = np.concatenate([p[2] for p in parts]).astype(np.int64)
    return LiveIntervals.from_arrays(device, start, end).clip(start_ms, end_ms)


def _nights(cfg, devices, lon, start_ms, end_ms, rng):
    """One plug-in per local night, mean night_start_h..night_end_h, some nights skipped."""
    first_day = (start_ms - 2 * DAY_MS) // DAY_MS
    days = np.arange(first_day, end_ms // DAY_MS + 2)
    n, d = devices.size, days.size
    # UTC ms of local solar midnight starting each day, per phone.
    midnight = days[None, :] * DAY_MS - (lon[devices] / 15.0 * HOUR_MS)[:, None]
    begin = midnight + (cfg.night_start_h + cfg.night_start_sigma_h
                        * rng.standard_normal((n, d))) * HOUR_MS
    finish = midnight + DAY_MS + (cfg.night_end_h + cfg.night_end_sigma_h
                                  * rng.standard_normal((n, d))) * HOUR_MS
    keep = rng.random((n, d)) >= cfg.skip_night_prob
    dev = np.broadcast_to(devices[:, None], (n, d))
    return dev[keep], np.round(begin[keep]), np.round(finish[keep])


def _sessions(cfg, devices, start_ms, end_ms, rng):
    """Random charging sessions at any hour: Poisson starts, exponential durations."""
    span = end_ms - start_ms
    lead = int(3 * cfg.session_mean_h * HOUR_MS)  # sessions begun before the span may overlap it
    mean = cfg.sessions_per_day * (span + lead) / DAY_MS
    counts = rng.poisson(mean, devices.size)
    dev = np.repeat(devices, counts)
    begin = start_ms - lead + rng.random(dev.size) * (span + lead)
    length = rng.exponential(cfg.session_mean_h * HOUR_MS, dev.size)
    return dev, np.round(begin), np.round(begin + length)

"""Noise hits: each phone's L1 triggers as a Poisson process on its frames while it is live.

A phone records at most one event per frame, so a trigger rate r becomes a per-frame pass
probability p = r * frame_s. Drawing Poisson(m) passes per frame with m = -ln(1 - p) and
keeping distinct frames gives exactly that probability, so the observed event rate equals r.
Vectorized: one Poisson count per live interval, then uniform frame indices inside it.
"""
from __future__ import annotations

import numpy as np

from crayfis.sim.fleet import Fleet
from crayfis.sim.live import LiveIntervals


def per_frame_mean(fleet: Fleet) -> np.ndarray:
    """Poisson mean per frame whose P(>= 1) is rate * frame duration."""
    p = fleet.rate_hz * fleet.frame_ms / 1000.0
    return -np.log1p(-p)


def background_frames(fleet: Fleet, live: LiveIntervals, origin_ms: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(device index, frame index) of noise events inside the given live intervals.

    Frames are counted from origin_ms (see Fleet.frame_time_ms); the pairs are distinct,
    sorted by (device, frame).
    """
    dev = live.device
    k_lo = fleet.first_frame_at_or_after(dev, live.start_ms, origin_ms)
    k_hi = fleet.first_frame_at_or_after(dev, live.end_ms, origin_ms)  # exclusive
    n_frames = np.maximum(k_hi - k_lo, 0)
    counts = rng.poisson(per_frame_mean(fleet)[dev] * n_frames)
    hit_dev = np.repeat(dev, counts)
    k = np.repeat(k_lo, counts) + (rng.random(hit_dev.size) * np.repeat(n_frames, counts)
                                   ).astype(np.int64)
    return unique_frames(hit_dev, k)


def unique_frames(device: np.ndarray, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (device, frame) pairs, sorted (one int64 key sort, not a lexsort)."""
    if device.size == 0:
        return device.astype(np.int64), frame.astype(np.int64)
    k0 = int(frame.min())
    stride = int(frame.max()) - k0 + 1
    key = np.sort(device.astype(np.int64) * stride + (frame - k0))
    if key.size > 1:
        key = key[np.concatenate([[True], key[1:] != key[:-1]])]
    return key // stride, key % stride + k0

"""Simulated Poisson background: phones at fixed places, each firing at its own rate while live."""

from __future__ import annotations

import numpy as np

from crayfis.coincidence.distance import EARTH_RADIUS_M


def poisson_background(seed: int, n_dev: int = 15, span_ms: int = 2_000_000, half_box_m: float = 500.0,
                       part_time: bool = True):
    """(t, lat, lon, device, live) with live = (device, start, end) half-open intervals.

    Devices sit uniformly in a square of side 2 * half_box_m, so with R = half_box_m some
    pairs are neighbours and some are not; rates 0.2-1 Hz; part-time devices are live over one
    random interval covering a quarter to all of the span.
    """
    rng = np.random.default_rng(seed)
    east = rng.uniform(-half_box_m, half_box_m, n_dev)
    north = rng.uniform(-half_box_m, half_box_m, n_dev)
    lat = 45.0 + np.degrees(north / EARTH_RADIUS_M)
    lon = 7.0 + np.degrees(east / (EARTH_RADIUS_M * np.cos(np.radians(45.0))))
    rate_per_ms = rng.uniform(0.2, 1.0, n_dev) / 1000.0
    if part_time:
        start = rng.integers(0, span_ms // 2, n_dev)
        end = np.array([rng.integers(s + span_ms // 4, span_ms) for s in start])
    else:
        start, end = np.zeros(n_dev, np.int64), np.full(n_dev, span_ms)
    counts = rng.poisson(rate_per_ms * (end - start))
    dev = np.repeat(np.arange(n_dev), counts)
    t = rng.integers(np.repeat(start, counts), np.repeat(end, counts))
    order = np.argsort(t, kind="stable")
    t, dev = t[order], dev[order]
    live = (np.arange(n_dev), start.astype(np.int64), end.astype(np.int64))
    return t.astype(np.int64), lat[dev], lon[dev], dev.astype(np.int64), live


def phones_in_one_place(seed: int, n_dev: int, span_ms: int, rate_hz: float, box_m: float = 100.0):
    """(t, lat, lon, device): ``n_dev`` phones within ``box_m`` of each other, all live over
    [0, span_ms) at one rate, in time order (a noise-only search whose expectation is known)."""
    rng = np.random.default_rng(seed)
    east = rng.uniform(-box_m, box_m, n_dev)
    north = rng.uniform(-box_m, box_m, n_dev)
    lat = 45.0 + np.degrees(north / EARTH_RADIUS_M)
    lon = 7.0 + np.degrees(east / (EARTH_RADIUS_M * np.cos(np.radians(45.0))))
    counts = rng.poisson(rate_hz / 1000.0 * span_ms, n_dev)
    dev = np.repeat(np.arange(n_dev), counts)
    t = rng.integers(0, span_ms, len(dev))
    order = np.argsort(t, kind="stable")
    return t[order].astype(np.int64), lat[dev[order]], lon[dev[order]], dev[order].astype(np.int64)

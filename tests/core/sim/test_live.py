"""Live intervals: merging, lookup, and the night-time duty cycle."""
import numpy as np

from crayfis.definition import DAY_MS, HOUR_MS
from crayfis.sim.config import FleetConfig
from crayfis.sim.live import LiveIntervals, plan_live_intervals

T0 = 1_767_225_600_000  # 2026-01-01T00:00Z


def brute_union(device, start, end, n):
    """Per device, the set of covered ms offsets (small ranges only)."""
    cover = [set() for _ in range(n)]
    for d, s, e in zip(device, start, end):
        cover[d].update(range(s, e))
    return cover


def test_from_arrays_merges_overlaps_per_device_only():
    rng = np.random.default_rng(3)
    n = 6
    device = rng.integers(0, n, 200)
    start = rng.integers(0, 1000, 200)
    end = start + rng.integers(-5, 60, 200)
    live = LiveIntervals.from_arrays(device, start, end)
    got = brute_union(live.device, live.start_ms, live.end_ms, n)
    assert got == brute_union(device, start, end, n)
    # Sorted by (device, start), disjoint and not touching-overlapping within a device.
    same = live.device[1:] == live.device[:-1]
    assert (np.diff(live.device) >= 0).all()
    assert (live.start_ms[1:][same] > live.end_ms[:-1][same]).all()


def test_contains_matches_brute_force():
    rng = np.random.default_rng(4)
    live = LiveIntervals.from_arrays(rng.integers(0, 5, 50), rng.integers(0, 500, 50),
                                     rng.integers(0, 500, 50) + 30)
    cover = brute_union(live.device, live.start_ms, live.end_ms, 5)
    d = rng.integers(0, 6, 3000)  # device 5 has no interval
    t = rng.integers(-10, 600, 3000)
    want = np.array([di < 5 and ti in cover[di] for di, ti in zip(d, t)])
    np.testing.assert_array_equal(live.contains(d, t), want)


def test_always_on_covers_the_span():
    cfg = FleetConfig(n_phones=10, duty_cycle="always")
    live = plan_live_intervals(cfg, np.zeros(10), T0, T0 + HOUR_MS, np.random.default_rng(0))
    assert len(live) == 10 and live.total_live_ms() == 10 * HOUR_MS


def test_night_duty_cycle_is_mostly_local_night():
    n = 4000
    cfg = FleetConfig(n_phones=n)
    lon = np.full(n, 90.0)  # local solar time = UTC + 6 h
    live = plan_live_intervals(cfg, lon, T0, T0 + 3 * DAY_MS, np.random.default_rng(5))
    hours = np.arange(0, 72)
    counts = np.array([live.live_count_at(T0 + h * HOUR_MS + HOUR_MS // 2) for h in hours])
    local = (hours + 6.5) % 24
    night = counts[(local >= 1) & (local <= 5)].mean() / n
    day = counts[(local >= 11) & (local <= 17)].mean() / n
    # Nightly phones (80 %, 10 % of nights skipped) + always-on (5 %) + a few intermittent.
    assert 0.70 < night < 0.90
    assert 0.04 < day < 0.15
    assert (live.start_ms >= T0).all() and (live.end_ms <= T0 + 3 * DAY_MS).all()


def test_clip_keeps_the_overlap():
    live = LiveIntervals.from_arrays([0, 0, 1], [0, 100, 50], [50, 200, 150])
    c = live.clip(40, 120)
    assert list(zip(c.device, c.start_ms, c.end_ms)) == [(0, 40, 50), (0, 100, 120), (1, 50, 120)]

"""Noise hits: per-phone rates as configured, on the frame grid, inside live time."""
import numpy as np

from crayfis.definition import HOUR_MS
from crayfis.sim.background import background_frames
from crayfis.sim.config import FleetConfig
from crayfis.sim.fleet import make_fleet
from crayfis.sim.live import plan_live_intervals

T0 = 1_767_304_800_000


def setup(duty="night", n=300, hours=3, seed=11):
    rng = np.random.default_rng(seed)
    cfg = FleetConfig(n_phones=n, duty_cycle=duty, hot_fraction=0.05)
    fleet = make_fleet(cfg, rng)
    live = plan_live_intervals(cfg, fleet.lon, T0, T0 + hours * HOUR_MS, rng)
    dev, frame = background_frames(fleet, live, T0, rng)
    return fleet, live, dev, frame


def expected_and_variance(fleet, live):
    k_lo = fleet.first_frame_at_or_after(live.device, live.start_ms, T0)
    k_hi = fleet.first_frame_at_or_after(live.device, live.end_ms, T0)
    frames = np.bincount(live.device, weights=k_hi - k_lo, minlength=fleet.n)
    p = fleet.rate_hz * fleet.frame_ms / 1000
    return frames * p, frames * p * (1 - p)


def test_per_phone_counts_match_configured_rates():
    for duty in ("always", "night"):
        fleet, live, dev, _ = setup(duty)
        mean, var = expected_and_variance(fleet, live)
        counts = np.bincount(dev, minlength=fleet.n)
        used = var > 0
        chi2 = (((counts - mean) ** 2)[used] / var[used]).sum()
        dof = used.sum()
        assert abs(chi2 - dof) < 5 * np.sqrt(2 * dof), (duty, chi2, dof)
        total_z = (counts.sum() - mean.sum()) / np.sqrt(var.sum())
        assert abs(total_z) < 5
        # The hot devices really are noisier.
        assert counts[fleet.hot].mean() > 3 * counts[~fleet.hot].mean()


def test_events_are_on_frames_inside_live_time_one_per_frame():
    fleet, live, dev, frame = setup("night")
    t = fleet.frame_time_ms(dev, frame, T0)
    assert live.contains(dev, t).all()
    keys = np.sort(dev * 10**9 + frame)
    assert (np.diff(keys) > 0).all()
    # Timestamps land on the phone's frame grid: phase + k * 33.33 ms, floored to ms.
    arrival = T0 + fleet.frame_phase_ms[dev] + frame * fleet.frame_ms
    np.testing.assert_array_equal(t, np.floor(arrival).astype(np.int64))
    gaps = np.diff(t[dev == dev[0]])
    assert (gaps >= 33).all()


def test_same_seed_same_hits():
    a, b = setup(seed=5), setup(seed=5)
    np.testing.assert_array_equal(a[2], b[2])
    np.testing.assert_array_equal(a[3], b[3])

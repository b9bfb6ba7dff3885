"""crayfis.sim.pixels: labelled events uploaded as the app does, seeded, with its physical picture."""
from __future__ import annotations

import numpy as np
import pytest

from crayfis.morphology import rules
from crayfis.sim import pixels as simpix
from crayfis.wire.decode import decode_submit

from . import frames as fr


@pytest.fixture(scope="module")
def sample():
    return simpix.simulate(160, seed=21)


def test_same_seed_same_events_and_same_bytes(sample):
    again = simpix.simulate(160, seed=21)
    assert again == sample
    body = simpix.data_chunk(sample, run_uuid=simpix.run_uuid_for(21), start_ms=fr.START_MS)
    assert simpix.data_chunk(again, run_uuid=simpix.run_uuid_for(21), start_ms=fr.START_MS) == body
    assert simpix.simulate(160, seed=22) != sample


def test_a_quarter_of_each_class_from_every_source(sample):
    labels = [ev.label for ev in sample]
    assert {c: labels.count(c) for c in rules.CLASS_NAMES} == dict.fromkeys(rules.CLASS_NAMES, 40)
    assert {ev.source for ev in sample} >= set(simpix.NOISE_SOURCES) | {"muon", "electron", "soft_electron"}
    assert len(simpix.simulate(7, seed=1)) == 7


def test_events_are_what_the_app_uploads(sample):
    """L2 pixels above the threshold in scan order, at most 120, the frame passing L1, the byte
    block of 5x5 squares holding the recorded values; the decoder reads back the same pixels."""
    body = simpix.data_chunk(sample, run_uuid=simpix.run_uuid_for(21), start_ms=fr.START_MS)
    decoded = decode_submit(body, {"Device-id": "sim"}).events
    assert len(decoded) == len(sample)
    for ev, rec in zip(sample, decoded):
        assert rec.hits == ev.hits and rec.pixels == ev.block
        assert 1 <= len(ev.hits) <= simpix.MAX_L2_PIXELS
        assert ev.hits == sorted(ev.hits, key=lambda h: (h[1], h[0]))
        values = {(x, y): v for x, y, v in ev.block}
        assert all(values[h] > ev.l2 for h in ev.hits)
        assert max(values[h] for h in ev.hits) > ev.l2 + 1          # L1 passed
        if len(ev.hits) < simpix.MAX_L2_PIXELS:
            assert all(v <= ev.l2 for xy, v in values.items() if xy not in set(ev.hits))
        assert all(0 <= v <= 255 for v in values.values())


def test_pixel_lists_hold_the_lit_pixels(sample):
    body = simpix.data_chunk(sample[:20], run_uuid=simpix.run_uuid_for(1), start_ms=fr.START_MS, pixel_list=True)
    decoded = decode_submit(body, {"Device-id": "sim"}).events
    assert [rec.pixels for rec in decoded] == [ev.lit_values for ev in sample[:20]]
    assert all(rec.l2_format == "pixels" for rec in decoded)


def test_the_l2_threshold_is_the_lowest_leaving_few_noise_pixels_above_it():
    rng = np.random.default_rng(0)
    for _ in range(200):
        s = simpix.draw_sensor(rng)
        assert s.stray_mean <= simpix.STRAY_MEAN
        lower = simpix.Sensor(s.pitch_um, s.depth_um, s.gain, s.diffusion_px, s.pedestal, s.noise, s.l2 - 1)
        assert lower.stray_mean > simpix.STRAY_MEAN
        assert 5.0 < (s.l2 + 0.5 - s.pedestal) / s.noise < 7.0


def test_muon_lengths_follow_depth_times_tan_zenith_over_pitch():
    """Zenith density cos^3 sin (cos^2 intensity through a flat sensor): the fraction of muons
    projected shorter than l pixels is 1 - cos^4(atan(l pitch / depth))."""
    rng = np.random.default_rng(5)
    sensor = simpix.Sensor(pitch_um=1.4, depth_um=26.0, gain=0.5, diffusion_px=0.6, pedestal=2.0, noise=1.2, l2=8)
    spans = []
    for _ in range(4000):
        dep = simpix.muon(rng, sensor)
        spans.append(np.hypot(dep.x[-1] - dep.x[0], dep.y[-1] - dep.y[0]) * len(dep.x) / max(len(dep.x) - 1, 1))
    spans = np.array(spans)
    for length in (3.0, 10.0, 30.0):
        expected = 1 - np.cos(np.arctan(length * 1.4 / 26.0)) ** 4
        assert np.mean(spans < length) == pytest.approx(expected, abs=0.025)
    assert spans.max() <= 26.0 * np.tan(simpix.MAX_ZENITH) / 1.4 + 1e-6


def test_electron_ranges_follow_katz_penfold():
    assert simpix.range_um(np.array([0.1]))[0] == pytest.approx(58.0, rel=0.03)   # 100 keV in silicon
    e = np.geomspace(0.005, 1.0, 20)
    np.testing.assert_allclose(simpix.energy_mev(simpix.range_um(e)), e, rtol=2e-3)


def test_electrons_deposit_their_energy_until_they_stop_or_leave_the_layer():
    rng = np.random.default_rng(9)
    sensors = [simpix.draw_sensor(rng) for _ in range(64)]
    for dep, s in zip(simpix.electrons(rng, sensors, 5.0, 40.0), sensors):
        kev = dep.q.sum() * simpix.EV_PER_PAIR / 1000.0
        assert kev <= 40.0 + 1e-6
        assert ((dep.depth >= 0) & (dep.depth <= 1)).all()
        if dep.x.size:   # soft electrons stay within their range (a few um) of the start
            reach = np.hypot(dep.x - dep.x[0], dep.y - dep.y[0]).max() * s.pitch_um
            assert reach <= simpix.range_um(np.array([0.04]))[0] + 1.0


def test_true_labels_follow_the_footprint():
    straight = simpix.Deposits(np.linspace(100, 130, 200), np.full(200, 50.5), np.zeros(200), np.ones(200))
    short = simpix.Deposits(np.linspace(100, 102, 20), np.full(20, 50.5), np.zeros(20), np.ones(20))
    t = np.linspace(0, np.pi, 300)
    bent = simpix.Deposits(300 + 12 * np.cos(t), 300 + 12 * np.sin(t), np.zeros(300), np.ones(300))
    off = simpix.Deposits(np.array([-50.0]), np.array([-50.0]), np.zeros(1), np.ones(1))
    assert [simpix.true_label(d) for d in (straight, short, bent, off)] == ["track", "spot", "worm", None]

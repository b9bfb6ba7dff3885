"""The device-level background model against simulation and time slides."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from crayfis.coincidence.kernel import find_coincidences
from crayfis.coincidence.significance import (
    _tails,
    candidate_significance,
    device_background,
    estimate_background,
    time_slides,
)

from .background import poisson_background

TAU, R = 100, 500.0


@pytest.mark.parametrize("k", [2, 3, 4])
def test_expected_accidental_triggers_match_simulation(k):
    """Over independent realisations, observed minus expected has mean zero (|z| < 4)."""
    diff = []
    for seed in range(10):
        t, lat, lon, dev, live = poisson_background(seed)
        observed = len(find_coincidences(t, lat, lon, dev, TAU, R, k).triggered)
        expected = estimate_background(t, lat, lon, dev, TAU, R, k, live=live).expected_triggers
        diff.append(observed - expected)
    diff = np.array(diff)
    z = diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff)))
    assert abs(z) < 4.0, (k, diff)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_time_slides_agree_with_the_analytic_expectation(k):
    t, lat, lon, dev, _ = poisson_background(1, part_time=False)
    slides = time_slides(t, lat, lon, dev, TAU, R, k, 20, np.random.default_rng(k))
    expected = estimate_background(t, lat, lon, dev, TAU, R, k).expected_triggers
    assert abs(slides.mean - expected) < 4.0 * slides.std_error, (slides.mean, slides.std_error, expected)
    assert np.all(slides.offsets_ms >= 100 * (TAU + 1))


def test_slides_remove_a_real_coincidence():
    """Ten devices firing together every 10 s trigger a lot; slid apart they do not."""
    t, lat, lon, dev, _ = poisson_background(2, n_dev=10, part_time=False)
    burst = np.arange(0, 2_000_000, 10_000)
    t2 = np.concatenate([t] + [burst + d for d in range(10)])
    dev2 = np.concatenate([dev] + [np.full(len(burst), d) for d in range(10)])
    lat2 = np.concatenate([lat] + [np.full(len(burst), lat[dev == d][0]) for d in range(10)])
    lon2 = np.concatenate([lon] + [np.full(len(burst), lon[dev == d][0]) for d in range(10)])
    k = 6
    real = len(find_coincidences(t2, lat2, lon2, dev2, TAU, 1e4, k).triggered)
    slides = time_slides(t2, lat2, lon2, dev2, TAU, 1e4, k, 5, np.random.default_rng(0))
    assert real >= len(burst) and slides.mean < 0.05 * real


def test_poisson_binomial_tails_equal_enumeration():
    rng = np.random.default_rng(3)
    groups = [rng.uniform(0, 0.6, n) for n in (0, 1, 2, 5, 7)]
    offsets = np.r_[0, np.cumsum([len(g) for g in groups])]
    tails = _tails(offsets, np.concatenate(groups), 4)
    for g, p in enumerate(groups):
        dist = np.zeros(len(p) + 1)
        for fired in itertools.product((0, 1), repeat=len(p)):
            dist[sum(fired)] += np.prod([q if f else 1 - q for q, f in zip(p, fired)])
        for j in range(4):
            assert tails[g, j] == pytest.approx(dist[j:].sum(), abs=1e-12)


def test_rates_live_time_and_positions():
    t = np.array([0, 1000, 2000, 3000, 500, 9000])
    dev = np.array([1, 1, 1, 1, 2, 2])
    lat, lon = np.array([10.0, 10.0, 10.0, 50.0, 20.0, 20.0]), np.zeros(6)
    observed = device_background(t, lat, lon, dev)
    assert observed.rate_per_ms.tolist() == [3 / 3000, 1 / 8500]
    assert observed.lat[0] == pytest.approx(10.0)  # the median ignores one outlier
    assert observed.searched_live_ms == 9001  # union of [0, 3001) and [500, 9001)
    live = (np.array([1, 1, 2, 7]), np.array([0, 1500, 0, 0]), np.array([1000, 2500, 10_000, 5]))
    declared = device_background(t, lat, lon, dev, live=live)
    # device 1: hits at 0 and 2000 are live, over 2000 ms; device 2: 2 hits over 10 s
    assert declared.rate_per_ms.tolist() == [2 / 2000, 2 / 10_000]
    assert declared.searched_live_ms == 10_000


def test_candidate_significance_and_partition_sums():
    t, lat, lon, dev, live = poisson_background(4)
    k = 3
    bg = estimate_background(t, lat, lon, dev, TAU, R, k, live=live, max_multiplicity=8)
    lam = bg.expected_windows([k, k + 1, k + 2, 20])
    assert lam[0] == pytest.approx(bg.expected_triggers)
    assert lam[0] > lam[1] > lam[2] > 0 and lam[3] == 0
    sig = candidate_significance([k, k + 2], bg)
    assert np.all(np.diff(sig.p_value) < 0) and np.all((sig.p_value > 0) & (sig.p_value <= 1))
    years = bg.searched_live_ms / (365.25 * 86400e3)
    assert sig.far_per_year[0] == pytest.approx(lam[0] / years)
    # partitions that split the anchors add up to the whole
    mask = t < np.median(t)
    parts = [estimate_background(t, lat, lon, dev, TAU, R, k, live=live, anchor_mask=m,
                                 devices=bg.devices).expected_triggers for m in (mask, ~mask)]
    assert sum(parts) == pytest.approx(bg.expected_triggers)


def _brute_segments(model, dev_idx, t):
    """Segment of each anchor by its definition: the device's edges at or before t."""
    seg_off = model.segment_offsets
    out = []
    for d, ti in zip(dev_idx.tolist(), t.tolist()):
        edges = model.edge_times[model.edge_offsets[d]:model.edge_offsets[d + 1]]
        out.append(seg_off[d] + int(np.sum(edges <= ti)))
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_segment_model_puts_anchors_in_their_segments(seed):
    """Time-ordered anchors (the sweep) and shuffled ones (per-device search) both land in the
    segment the definition gives, including anchors exactly on an edge and outside all edges."""
    from crayfis.coincidence.significance import SegmentModel

    t, lat, lon, dev, live = poisson_background(seed)
    codes, dev_idx = np.unique(dev, return_inverse=True)
    bg = device_background(t, lat, lon, dev, live)
    model = SegmentModel.build(bg, R)
    assert len(model.edge_times) > 0 and model.n_segments == len(model.edge_times) + len(codes)
    rng = np.random.default_rng(seed)
    # anchors on edges, one ms either side, and far outside every edge
    pick = rng.integers(0, len(model.edge_times), 300)
    owner = np.searchsorted(model.edge_offsets, pick, "right") - 1
    probe_t = np.concatenate([model.edge_times[pick] + s for s in (-1, 0, 1)]
                             + [t, [model.edge_times.min() - 10**6, model.edge_times.max() + 10**6]])
    probe_d = np.concatenate([owner] * 3 + [dev_idx.reshape(-1), [0, len(codes) - 1]])
    order = np.argsort(probe_t, kind="stable")
    want = _brute_segments(model, probe_d[order], probe_t[order])
    assert np.array_equal(model.segment_ids(probe_d[order], probe_t[order]), want)  # sweep
    shuffled = rng.permutation(len(order))
    got = model.segment_ids(probe_d[order][shuffled], probe_t[order][shuffled])  # search
    assert np.array_equal(got, want[shuffled])


def test_shared_segment_model_gives_the_same_estimate():
    """A model built once and passed to each part equals building it per call."""
    from crayfis.coincidence.significance import SegmentModel

    t, lat, lon, dev, live = poisson_background(4)
    bg = device_background(t, lat, lon, dev, live)
    model = SegmentModel.build(bg, R)
    mask = np.random.default_rng(4).random(len(t)) < 0.5
    for k in (2, 3):
        a = estimate_background(t, lat, lon, dev, TAU, R, k, devices=bg, anchor_mask=mask)
        b = estimate_background(t, lat, lon, dev, TAU, R, k, model=model, anchor_mask=mask)
        assert a.expected_triggers == b.expected_triggers > 0
        assert np.array_equal(a.expected_windows([1, 2, 3, 4]), b.expected_windows([1, 2, 3, 4]))

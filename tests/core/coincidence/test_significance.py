"""The device-level background model against simulation and time slides."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import binom

from crayfis.coincidence.kernel import find_coincidences
from crayfis.coincidence.significance import (
    EDGE_SILENCE_P,
    DeviceBackground,
    _tails,
    candidate_significance,
    device_background,
    estimate_background,
    observed_live,
    time_slides,
)

from .background import phones_in_one_place, poisson_background

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
    observed = device_background(t, lat, lon, dev, span=(0, 20_000))
    # device 1 falls silent for 17 s after four hits 1 s apart: off one gap after its last hit;
    # device 2's silences are ordinary for two hits in 20 s: live over the whole search
    assert observed.live_start.tolist() == [0, 0] and observed.live_end.tolist() == [4001, 20_000]
    assert observed.rate_per_ms.tolist() == [4 / 4001, 2 / 20_000]
    assert observed.search_end_ms == 20_000
    assert observed.lat[0] == pytest.approx(10.0)  # the median ignores one outlier
    assert observed.searched_live_ms == 20_000
    live = (np.array([1, 1, 2, 7]), np.array([0, 1500, 0, 0]), np.array([1000, 2500, 10_000, 5]))
    declared = device_background(t, lat, lon, dev, live=live)
    # device 1: hits at 0 and 2000 are live, over 2000 ms; device 2: 2 hits over 10 s
    assert declared.rate_per_ms.tolist() == [2 / 2000, 2 / 10_000]
    assert declared.searched_live_ms == 9001  # clipped to the searched span, [0, 9001)
    # a device without declared intervals falls back to its hits
    other = device_background(t, lat, lon, dev, live=tuple(x[:2] for x in live))
    assert other.rate_per_ms.tolist() == [2 / 2000, 2 / 9001]
    assert other.live_start[other.live_offsets[1]] == 0 and other.live_end[-1] == 9001


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


def test_observed_live_intervals_reach_the_edges_unless_the_phone_was_off():
    """Hits alone: a device is live up to a search edge unless its silence there is rarer than
    EDGE_SILENCE_P for a phone live all along; then it starts one mean gap before its first hit
    (ends one after its last). The rate is hits over the interval."""
    span = (1_000, 11_000)  # S = 10 s
    n = np.array([5, 5, 1, 3, 2])
    first = np.array([1_500, 9_000, 6_000, 1_000, 4_000])
    last = np.array([9_500, 9_400, 6_000, 1_000, 4_000])
    start, end, rate = observed_live(n, first, last, span)
    # 0: ordinary silences; 1: 8 s silent before five hits 100 ms apart ((0.2)^5 < 1 %):
    # switched on one gap before its first hit, live to the end (1.6 s of silence after is
    # ordinary); 2, 3, 4: one hit, or all hits in one ms: no gap to judge by
    assert (1 - 0.8) ** 5 < EDGE_SILENCE_P < (1 - 0.16) ** 5
    assert start.tolist() == [1_000, 8_900, 1_000, 1_000, 1_000]
    assert end.tolist() == [11_000, 11_000, 11_000, 11_000, 11_000]
    assert rate.tolist() == [5 / 10_000, 5 / 2_100, 1 / 10_000, 3 / 10_000, 2 / 10_000]


SHORT_SPAN_MS, SHORT_PHONES, SHORT_RATE_HZ = 10_000, 30, 1 / 3


def _short_search_truth(k: int, window_ms: int) -> float:
    """Expected triggered anchors of the short noise-only search, from its simulated truth:
    every phone live over [0, S) at one rate, all within R of each other; an anchor at t sees
    min(tau + 1, S - t) ms, in which each of the others fires with 1 - exp(-r w)."""
    r = SHORT_RATE_HZ / 1000.0
    t = np.arange(SHORT_SPAN_MS)
    p = -np.expm1(-r * np.minimum(window_ms + 1, SHORT_SPAN_MS - t))
    return SHORT_PHONES * r * float(binom.sf(k - 2, SHORT_PHONES - 1, p).sum())


@pytest.mark.parametrize("k", [3, 4])
def test_short_searches_count_the_background_up_to_their_edges(k):
    """Noise-only searches 10 s long, about three hits per phone: over 300 realisations the
    model's mean expected triggers equals the simulation's known expectation within 5 %, as do
    the triggered anchors the kernel counts (4 standard errors).

    Fails before the fix: each phone was live only from its first hit to its last, so the
    model saw about 0.6 of the expectation at k = 3 and 0.5 at k = 4."""
    truth = _short_search_truth(k, TAU)
    model, observed = [], []
    for seed in range(300):
        t, lat, lon, dev = phones_in_one_place(seed, SHORT_PHONES, SHORT_SPAN_MS, SHORT_RATE_HZ)
        devices = device_background(t, lat, lon, dev, span=(0, SHORT_SPAN_MS))
        model.append(estimate_background(t, lat, lon, dev, TAU, 1000.0, k,
                                         devices=devices).expected_triggers)
        observed.append(len(find_coincidences(t, lat, lon, dev, TAU, 1000.0, k).triggered))
    model, observed = np.array(model), np.array(observed)
    error = observed.std(ddof=1) / np.sqrt(len(observed))
    assert abs(observed.mean() - truth) < 4 * error, (observed.mean(), error, truth)
    assert model.mean() == pytest.approx(truth, rel=0.05), (model.mean(), truth)


def test_windows_reaching_the_end_of_the_search_are_cut_there():
    """Two phones 10 m apart, k = 2: an anchor t ms before the search's end sees the other
    phone over min(tau + 1, t) ms."""
    rate = 1e-3
    devices = DeviceBackground(np.array([0, 1]), np.array([rate, rate]), np.array([45.0, 45.0001]),
                               np.array([7.0, 7.0]), np.array([0, 1, 2]), np.array([0, 0]),
                               np.array([10_000, 10_000]), search_end_ms=10_000)
    t = np.array([100, 9_950, 9_999])
    got = estimate_background(t, devices.lat[[0, 0, 0]], devices.lon[[0, 0, 0]], np.zeros(3, np.int64),
                              TAU, R, 2, devices=devices)
    want = [-np.expm1(-rate * w) for w in (TAU + 1, 50, 1)]
    assert got.expected_triggers == pytest.approx(sum(want), rel=1e-12)
    assert got.expected_windows([2])[0] == pytest.approx(sum(want), rel=1e-12)

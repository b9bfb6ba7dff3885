"""Data-quality flags (crayfis/quality.py) on simulated phones, each built to trip one flag
(tests/core/quality/phones.py), judged the way the server does: every upload decoded from its
bytes, summarized with its receive time, the phone's summaries added up, the network's median
hit rate taken over the phones beside it."""
from __future__ import annotations

import pytest

from crayfis import quality
from crayfis.definition import HOUR_MS
from crayfis.sim.config import DEFAULT_START_MS
from crayfis.wire import build
from crayfis.wire.decode import decode_submit
from tests.core.quality import phones as sim

START = DEFAULT_START_MS
LIMITS = quality.Limits(hot_factor=2.5, min_live_s=1800.0, max_quality_fail=0.5, covered_max_mean=10.0,
                        covered_max_std=5.0, max_no_fix=0.5, max_gps_accuracy_m=100.0, max_clock_lead_s=60.0,
                        min_block_s=60.0, calibration_max_age_s=48 * 3600.0)


def summaries(phone: sim.Phone) -> list[quality.UploadSummary]:
    return [quality.summarize(decode_submit(up.body, up.headers), phone.received_ms(up)) for up in phone.uploads]


def stats(phone: sim.Phone) -> quality.PhoneStats:
    return quality.PhoneStats.of(summaries(phone))


@pytest.fixture(scope="module")
def net():
    result, phones = sim.network(START)
    rates = [stats(p).hits_per_live_hour for p in phones.values()]
    return result, phones, quality.median_rate(rates)


def codes(phone: sim.Phone, network_rate: float, limits: quality.Limits = LIMITS) -> set[str]:
    return {f.code for f in quality.flags(stats(phone), network_rate, limits)}


def test_well_behaved_phones_raise_no_flag_and_hot_ones_only_the_hot_flag(net):
    result, phones, rate = net
    hot = sim.hot(result)
    assert hot and len(hot) < len(phones) / 2, "the seed gives a few hot phones among well-behaved ones"
    found = {d: codes(p, rate) for d, p in phones.items()}
    assert {d for d, c in found.items() if c} == hot
    assert all(found[d] == {quality.HOT} for d in hot)
    # the app's L1 trigger holds ~20 events a minute: the median phone is about there
    assert 20 * 60 * 0.7 < rate < 20 * 60 * 1.3


@pytest.mark.parametrize("fault, flag", [
    (sim.uncovered, quality.UNCOVERED), (sim.without_fix, quality.NO_GPS), (sim.poor_fix, quality.POOR_GPS),
    (sim.clock_ahead, quality.CLOCK_AHEAD),
])
def test_a_phone_with_one_fault_raises_exactly_its_flag(net, fault, flag):
    result, phones, rate = net
    phone = sim.well_behaved(result, phones)[0]
    assert codes(phone, rate) == set()
    broken = fault(phone)
    found = quality.flags(stats(broken), rate, LIMITS)
    assert [f.code for f in found] == [flag]
    assert found[0].title == quality.FLAG_TITLES[flag] and len(found[0].reason) > 40


def test_blocks_cut_short_raise_the_short_blocks_flag(net):
    result, phones, rate = net
    device = sim.well_behaved(result, phones)[0].device_id
    broken = sim.short_blocks(START, device)
    assert codes(broken, rate) == {quality.SHORT_BLOCKS}
    assert stats(broken).data_block_s / stats(broken).data_blocks == pytest.approx(30.0, rel=0.05)


def test_calibration_grows_stale_with_the_run_and_a_new_run_recalibrates(net):
    result, phones, rate = net
    phone = sim.well_behaved(result, phones)[0]
    half_hour = quality.Limits(**{**LIMITS.__dict__, "calibration_max_age_s": 1800.0})
    assert codes(phone, rate, half_hour) == {quality.STALE_CALIBRATION}   # one run of an hour
    assert codes(phone, rate, LIMITS) == set()
    # without any calibration in the uploads, it is the data's own span that counts
    late = [s for s in summaries(phone) if s.calibration_ms is None]
    assert quality.PhoneStats.of(late).calibration_ms is None
    stale = quality.flags(quality.PhoneStats.of(late), rate, half_hour)
    assert [f.code for f in stale] == [quality.STALE_CALIBRATION] and "no calibration" in stale[0].reason


def test_rate_rules_wait_for_enough_live_time(net):
    result, phones, rate = net
    phone = phones[sorted(sim.hot(result))[0]]
    first = quality.PhoneStats.of(summaries(phone)[:2])
    assert first.live_s < LIMITS.min_live_s
    assert quality.HOT not in {f.code for f in quality.flags(first, rate, LIMITS)}


def test_summary_of_a_hand_built_upload():
    """Every number of a summary, on an upload whose contents are known exactly."""
    run = "00000000-0000-4000-8000-00000000000a"
    t0 = 1_780_000_000_000
    evs = [build.event(t0 + i * 1000, xbn=1, hits=[(5, 5)], values=lambda x, y: 40, avg=2.0 + i, std=1.0,
                       lat=46.2, lon=6.1, accuracy=8.0) for i in range(3)]
    data = build.exposure_block(run, xbn=1, start_ms=t0 - 1000, end_ms=t0 + 119_000, events=evs, lat=46.2,
                                lon=6.1, accuracy=8.0, processed=[3600, 3600, 3600, 3], passed=[4, 3000, 3, 3])
    no_fix = build.exposure_block(run, xbn=2, start_ms=t0 + 119_000, end_ms=t0 + 179_000,
                                  processed=[1800, 1800, 1800, 0], passed=[2, 1800, 0, 0])
    calib = build.exposure_block(run, xbn=0, start_ms=t0 - 40_000, end_ms=t0 - 7_000, state="CALIBRATION",
                                 stages=build.V104_STAGES[:3], processed=[1000, 1000, 1000], passed=[1, 1000, 1000])
    body = build.data_chunk(run_configs=[build.run_config(run, start_ms=t0 - 60_000)],
                            exposure_blocks=[calib, data, no_fix],
                            calibration_results=[build.calibration_result(run, end_ms=t0 - 6_000,
                                                                          hist_maxpixel=[1, 2])])
    s = quality.summarize(decode_submit(body, build.submit_headers("00aa", run)), t0 + 1_000)
    assert (s.n_events, s.n_hits, s.data_blocks, s.blocks_without_fix, s.fixes) == (3, 3, 2, 1, 1)
    assert s.data_block_s == pytest.approx(180.0) and s.accuracy_sum_m == pytest.approx(8.0)
    assert (s.frames_judged, s.frames_failed) == (5400, 600)
    assert (s.frame_stats, s.frame_mean_sum, s.frame_std_sum) == (3, pytest.approx(9.0), pytest.approx(3.0))
    assert (s.first_event_ms, s.last_event_ms, s.clock_lead_ms) == (t0, t0 + 2000, 1000)
    assert s.calibration_ms == t0 - 6_000
    assert [b[0] for b in s.exposure] == [t0 - 1000, t0 + 119_000] and [b[2] for b in s.exposure] == [3, 0]
    assert s.live_s == pytest.approx(sum(b[1] for b in s.exposure)) and s.live_s > 0


def test_the_same_records_give_the_same_digest_whatever_the_bytes(net):
    """A resend of the same records in other bytes (split or ordered differently) is recognised;
    other records are not."""
    result, phones, _ = net
    up = sim.well_behaved(result, phones)[0].uploads[1]
    chunk = decode_submit(up.body, up.headers)
    reordered = decode_submit(up.body, up.headers)
    reordered.exposures.reverse()
    other = decode_submit(sim.well_behaved(result, phones)[0].uploads[2].body, up.headers)
    assert quality.content_digest(chunk) == quality.content_digest(reordered) != quality.content_digest(other)


def test_median_rate():
    assert quality.median_rate([]) is None
    assert quality.median_rate([3.0, 1.0, 2.0]) == 2.0
    assert quality.median_rate([4.0, 1.0, 2.0, 3.0, float("nan")]) == 2.5


def test_durations_in_words():
    assert quality._duration(30_000) == "30 s" and quality._duration(5 * 60_000) == "5 min"
    assert quality._duration(3 * HOUR_MS) == "3.0 h" and quality._duration(72 * HOUR_MS) == "3.0 days"

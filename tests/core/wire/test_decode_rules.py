"""The normalization rules of docs/wire-protocol.md sections 5 and 6, one at a time."""
from __future__ import annotations

import uuid

import pytest

from crayfis.wire import build
from crayfis.wire import crayfis_pb2 as pb
from crayfis.wire.decode import WireDecodeError, decode_submit, parse_version, run_uuid_text

RUN = "f7e6d5c4-b3a2-4190-8f7e-6d5c4b3a2910"      # both halves >= 2**63
T0 = 1735689600000


def _chunk(*xbs, run_configs=(), cals=(), precals=()):
    c = pb.DataChunk()
    c.run_configs.extend(run_configs)
    c.exposure_blocks.extend(xbs)
    c.calibration_results.extend(cals)
    c.precalibration_results.extend(precals)
    return c.SerializeToString()


def _xb(**kw):
    args = dict(xbn=1, start_ms=T0, end_ms=T0 + 180_000)
    args.update(kw)
    return build.exposure_block(RUN, **args)


def _decode(body, **headers):
    h = build.submit_headers("00ab", RUN)
    h.update(headers)
    return decode_submit(body, h)


def test_run_uuid_halves_are_unsigned():
    hi, lo = build.split_uuid(RUN)
    assert hi >= 2**63 and lo >= 2**63
    assert run_uuid_text(hi, lo) == RUN
    chunk = _decode(_chunk(_xb(), run_configs=[build.run_config(RUN, start_ms=T0)]), **{"Run-id": str(uuid.uuid4())})
    assert chunk.runs[0].run_uuid == RUN             # full id wins over a disagreeing header
    assert chunk.exposures[0].run_uuid == RUN


def test_xb_without_upper_half_uses_the_run_id_header():
    xb = _xb()
    xb.ClearField("run_id_hi")
    chunk = _decode(_chunk(xb))
    assert chunk.exposures[0].run_uuid == RUN and chunk.exposures[0].run_uuid_from_header
    # no header: the low half alone is all there is
    chunk = decode_submit(_chunk(xb), {"Device-id": "x"})
    assert chunk.exposures[0].run_uuid == run_uuid_text(0, build.split_uuid(RUN)[1])


def test_truncated_run_config_id_uses_the_header():
    rc = build.run_config(RUN, start_ms=T0)
    rc.ClearField("id_hi")
    rc.id_lo = build.split_uuid(RUN)[1] & 0xFFFFFFFF
    [run] = _decode(_chunk(run_configs=[rc])).runs
    assert run.run_uuid == RUN and run.uuid_from_header


def test_run_config_without_any_id_and_no_header_is_undecodable():
    rc = pb.RunConfig(start_time=T0)
    with pytest.raises(WireDecodeError):
        decode_submit(_chunk(run_configs=[rc]), {})


def test_headers_are_case_insensitive():
    body = _chunk(_xb())
    a = decode_submit(body, build.submit_headers("DevX", RUN, camera_id=2))
    b = decode_submit(body, {k.upper(): v for k, v in build.submit_headers("DevX", RUN, camera_id=2).items()})
    assert (a.device_id, a.camera_id, a.header_run_uuid, a.client, a.header_build) == \
           (b.device_id, b.camera_id, b.header_run_uuid, b.client, b.header_build) == ("DevX", 2, RUN, "b", "v1.0.4")


def test_location_rules():
    xb = _xb(lat=0.0, lon=0.0)                       # 0/0 without accuracy: no fix
    assert _decode(_chunk(xb)).exposures[0].lat is None
    xb = _xb(lat=0.0, lon=0.0, accuracy=3.0)         # 0/0 with accuracy: a real fix
    rec = _decode(_chunk(xb)).exposures[0]
    assert (rec.lat, rec.lon, rec.accuracy) == (0.0, 0.0, 3.0)
    xb = _xb(lat=95.0, lon=10.0, accuracy=3.0)       # impossible: no fix
    assert _decode(_chunk(xb)).exposures[0].lat is None
    xb = _xb(lat=float("nan"), lon=10.0, accuracy=3.0)
    assert _decode(_chunk(xb)).exposures[0].lat is None


def test_temperatures_pressure_and_unknown_markers():
    ev = build.event(T0 + 1000, xbn=1, pressure=0.0)
    xb = _xb(events=[ev], battery_temp_c=None, battery_end_temp_c=41.3)
    rec = _decode(_chunk(xb)).exposures[0]
    assert xb.battery_temp == 4294967295
    assert rec.battery_temp_c is None and rec.battery_end_temp_c == pytest.approx(41.3)
    assert rec.events[0].pressure is None
    cold = _decode(_chunk(_xb(battery_temp_c=-2.5, battery_end_temp_c=-0.2))).exposures[0]
    assert (cold.battery_temp_c, cold.battery_end_temp_c) == (-2.5, -0.2)     # wrapped Java ints (-0.1 = -1 = unknown)
    ev = build.event(T0 + 1000, xbn=1, pressure=1013.25)
    assert _decode(_chunk(_xb(events=[ev]))).exposures[0].events[0].pressure == pytest.approx(1013.25)


def test_ntp_is_junk_from_v080_and_kept_before():
    ev = build.event(T0 + 1000, xbn=1)
    ev.timestamp_ntp = T0 + 1050
    xb = _xb(events=[ev])
    xb.start_time_ntp = T0 + 50
    body = _chunk(xb)
    assert _decode(body, **{"Crayfis-version": "a v0.7.1"}).exposures[0].events[0].t_ntp_ms == T0 + 1050
    assert _decode(body, **{"Crayfis-version": "a v0.7.1"}).exposures[0].start_ntp_ms == T0 + 50
    for version in ("a v0.8.0", "b v1.0.4", "b garbage"):
        rec = _decode(body, **{"Crayfis-version": version}).exposures[0]
        assert rec.events[0].t_ntp_ms is None and rec.start_ntp_ms is None


def test_parse_version():
    assert parse_version("v1.0.4") == (1, 0, 4)
    assert parse_version("v0.11.0-3-gabcdef") == (0, 11, 0)
    assert parse_version("v0.7") == (0, 7, 0)
    assert parse_version("beta-v02g") == (0, 4, 0)
    assert parse_version("nonsense") is None and parse_version(None) is None


def test_l1_threshold_with_and_without_prescale():
    rec = _decode(_chunk(_xb(l1_threshold=11.37))).exposures[0]
    assert rec.l1_threshold == pytest.approx(11.37, abs=1e-6)
    xb = _xb(l1_threshold=30)
    xb.ClearField("L1_prescale")
    assert _decode(_chunk(xb)).exposures[0].l1_threshold == 30.0
    xb.ClearField("L1_thresh")
    assert _decode(_chunk(xb)).exposures[0].l1_threshold is None


def test_l2_task_from_config_or_legacy_conf():
    assert _decode(_chunk(_xb(l2_task="pixels"))).exposures[0].l2_task == "pixels"
    xb = _xb(stages=())
    xb.L2_conf = "maxn; thresh=29"
    assert _decode(_chunk(xb)).exposures[0].l2_task == "maxn"


def test_live_time():
    # exposure time known from events: processed[0] x mean exposure
    evs = [build.event(T0 + i, xbn=1, exposure_ns=20_000_000) for i in range(3)]
    rec = _decode(_chunk(_xb(events=evs, processed=[1000, 990, 990, 5]))).exposures[0]
    assert rec.live_s == pytest.approx(20.0)
    # no exposure time: frame time from the XB's duration and frame count, 1 % dead time
    rec = _decode(_chunk(_xb(processed=[5400, 5398, 5398, 60], frames_dropped=0))).exposures[0]
    assert rec.live_s == pytest.approx(180.0 * 0.99)
    # dropped frames share the wall time but add no live time
    rec = _decode(_chunk(_xb(processed=[2700, 2700, 2700, 30], frames_dropped=2700))).exposures[0]
    assert rec.live_s == pytest.approx(90.0 * 0.99)
    # never more than the wall duration
    evs = [build.event(T0 + 1, xbn=1, exposure_ns=10**9)]
    rec = _decode(_chunk(_xb(events=evs, processed=[5400, 1, 1, 1]))).exposures[0]
    assert rec.live_s == pytest.approx(180.0)
    # no counters at all: unknown
    assert _decode(_chunk(_xb())).exposures[0].live_s is None


def test_zero_bias_with_l2_payload_is_still_a_hit():
    zb = build.zero_bias_square(0, 0, range(100))
    hit_zb = build.event(T0 + 1, xbn=1, hits=[(10, 10)], values=lambda x, y: 9, res=(64, 48), zero_bias=zb)
    only_zb = build.event(T0 + 2, xbn=1, zero_bias=zb)
    plain = build.event(T0 + 3, xbn=1, hits=[(20, 20)], values=lambda x, y: 9, res=(64, 48))
    rec = _decode(_chunk(_xb(events=[hit_zb, only_zb, plain], res=(64, 48)))).exposures[0]
    assert [e.is_hit for e in rec.events] == [True, False, True]
    assert [e.zero_bias is not None for e in rec.events] == [True, True, False]
    assert (rec.n_hits, rec.n_zero_bias) == (2, 2)
    assert rec.events[1].zero_bias.values == list(range(100))


def test_event_fields_and_missing_values():
    ev = build.event(T0 + 5, xbn=9, timestamp_nano=123456789, lat=-33.9, lon=151.2, accuracy=12.0,
                     altitude=58.0, fixtime_ms=T0 - 60_000, pressure=1001.5, orient=(0.5, -0.25, 3.0),
                     avg=2.5, std=1.5, exposure_ns=16_000_000, timestamp_target=99)
    bare = pb.Event(timestamp=T0 + 6)
    rec = _decode(_chunk(_xb(events=[ev, bare], xbn=9))).exposures[0]
    e, b = rec.events
    assert (e.t_ms, e.t_nano, e.xbn, e.run_uuid) == (T0 + 5, 123456789, 9, RUN)
    assert (e.lat, e.lon, e.accuracy, e.altitude, e.fixtime_ms) == (-33.9, 151.2, 12.0, 58.0, T0 - 60_000)
    assert (e.pressure, e.avg, e.std, e.exposure_ns, e.t_target_ns) == (1001.5, 2.5, 1.5, 16_000_000, 99)
    assert (e.orient_x, e.orient_y, e.orient_z) == (0.5, -0.25, 3.0)
    assert (b.lat, b.accuracy, b.altitude, b.pressure, b.orient_x, b.t_nano, b.exposure_ns) == (None,) * 7
    assert b.n_pix == 0 and b.max_val is None and b.hits == [] and b.is_hit


def test_precalibration_hash_rules_and_camera_header():
    ok = build.precalibration_result(RUN, end_ms=T0, res=(64, 48), hot_hash=0, wgt_hash=7, weights_jpeg=b"j")
    neg = build.precalibration_result(RUN, end_ms=T0, res=(64, 48), hot_hash=-1, wgt_hash=7, weights_jpeg=b"j")
    absent = build.precalibration_result(RUN, end_ms=T0, res=(64, 48), hot_hash=1, wgt_hash=7, weights_jpeg=b"j")
    absent.ClearField("wgt_hash")
    chunk = _decode(_chunk(precals=[ok, neg, absent]), **{"Camera-id": "1"})
    assert [(p.hot_hash, p.wgt_hash, p.camera_id) for p in chunk.precalibrations] == [(0, 7, 1)]
    assert chunk.n_precal_skipped == 2


def test_far_future_times_are_undecodable():
    ev = build.event(10**16, xbn=1)
    with pytest.raises(WireDecodeError, match="9999"):
        _decode(_chunk(_xb(events=[ev])))
    with pytest.raises(WireDecodeError, match="9999"):
        _decode(_chunk(_xb(start_ms=2**64 - 1)))


def test_invalid_utf8_strings_decode_with_replacement():
    rc = build.run_config(RUN, start_ms=T0)
    body = _chunk(run_configs=[rc]).replace(b"v1.0.4", b"v1\xff0.4")
    [run] = _decode(body).runs
    assert run.build == "v1\ufffd0.4"


def test_unknown_fields_are_ignored():
    body = _chunk(_xb()) + bytes([0xF8, 0x07, 0x01])   # field 127 varint at DataChunk level
    assert len(_decode(body).exposures) == 1

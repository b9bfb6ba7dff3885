"""The three independently encoded wire samples decode to every value in expected.json."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from crayfis.wire.decode import decode_submit

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "expected.json").read_text())
approx = pytest.approx


def _decode(name: str, **kw):
    spec = EXPECTED[name]
    return spec, decode_submit((DATA / name).read_bytes(), spec["headers"], **kw)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_bytes_are_the_documented_ones(name):
    body = (DATA / name).read_bytes()
    assert len(body) == EXPECTED[name]["bytes"]
    assert hashlib.sha256(body).hexdigest() == EXPECTED[name]["sha256"]


def _value(x, y):
    return (7 * x + 13 * y) % 256


def test_v104_run_config():
    spec, chunk = _decode("v1.0.4-data.bin")
    assert chunk.device_id == spec["headers"]["Device-id"]
    assert chunk.client == "b" and chunk.header_build == "v1.0.4" and chunk.version_code == 256
    assert chunk.camera_id == int(spec["headers"]["Camera-id"])
    [run] = chunk.runs
    assert run.run_uuid == spec["run_uuid"]
    assert run.uuid_from_header is False
    rc = spec["run_config"]
    assert run.start_ms == rc["start_time"]
    assert run.build == rc["build"]
    assert run.model == rc["model"]
    assert run.camera_id == rc["camera_id"]


def test_v104_exposure_block():
    spec, chunk = _decode("v1.0.4-data.bin")
    [xb] = chunk.exposures
    e = spec["exposure_block"]
    assert xb.run_uuid == spec["run_uuid"] and xb.run_uuid_from_header is False
    assert xb.state == e["daq_state"]
    assert xb.xbn == e["xbn"]
    assert xb.start_ms == e["start_time"] and xb.end_ms == e["end_time"]
    assert xb.lat == approx(e["lat"]) and xb.lon == approx(e["lon"])
    assert xb.altitude == approx(e["altitude"]) and xb.accuracy == approx(e["accuracy"])
    assert xb.battery_temp_c is e["battery_temp_c"] is None
    assert xb.battery_end_temp_c == approx(e["battery_end_temp_c"])
    assert [xb.res_x, xb.res_y] == e["res"]
    assert xb.l1_threshold == approx(e["l1_threshold"], abs=1e-6)
    assert xb.l2_threshold == e["l2_threshold"]
    assert xb.l2_task == e["l2_task"]
    assert xb.stage_processed == e["stage_processed"]
    assert xb.stage_pass == e["stage_pass"]
    assert xb.frames_dropped == e["frames_dropped"]
    assert xb.aborted is e["aborted"]
    assert len(xb.events) == e["n_events"]
    assert xb.n_zero_bias == e["n_zero_bias"]
    assert xb.build == spec["run_config"]["build"] and xb.model == spec["run_config"]["model"]
    # v0.8.0+: *_ntp is ms since boot, dropped; *_nano is the monotonic clock, kept
    assert xb.start_ntp_ms is None and xb.end_ntp_ms is None
    assert xb.end_nano - xb.start_nano == (e["end_time"] - e["start_time"]) * 1_000_000
    # live time: processed[0] x Event.exposure_time (section 6)
    assert xb.live_s == approx(e["stage_processed"][0] * 0.033)


def test_v104_byte_block_events_replay_exactly():
    spec, chunk = _decode("v1.0.4-data.bin")
    [xb] = chunk.exposures
    hit_events = [ev for ev in xb.events if ev.is_hit]
    assert len(hit_events) == len(spec["events"])
    for ev, want in zip(hit_events, spec["events"]):
        assert ev.t_ms == want["timestamp"]
        assert ev.n_pix == want["n_hits"]
        assert [list(h) for h in ev.hits] == want["hits"]
        assert [list(p) for p in ev.pixels] == want["pixels"]           # order included
        assert all(v == _value(x, y) for x, y, v in ev.pixels)
        assert ev.max_val == max(v for _, _, v in want["pixels"])
        assert ev.l2_format == "byte_block"
        assert ev.zero_bias is None
        assert ev.t_ntp_ms is None


def test_v104_pixels_skipped_but_checked_without_with_pixels():
    spec, full = _decode("v1.0.4-data.bin")
    _, lean = _decode("v1.0.4-data.bin", with_pixels=False)
    for a, b in zip(full.exposures[0].events, lean.exposures[0].events):
        assert b.pixels is None
        assert (a.hits, a.n_pix, a.max_val, a.is_hit) == (b.hits, b.n_pix, b.max_val, b.is_hit)


def test_v104_zero_bias_event_is_a_random_sample_not_a_hit():
    spec, chunk = _decode("v1.0.4-data.bin")
    want = spec["zero_bias"]
    [zb_ev] = [ev for ev in chunk.exposures[0].events if ev.zero_bias is not None]
    assert zb_ev.t_ms == want["timestamp"]
    assert zb_ev.zero_bias.x_min == want["x_min"] and zb_ev.zero_bias.y_min == want["y_min"]
    assert len(zb_ev.zero_bias.values) == want["n_values"]
    assert zb_ev.is_hit is False and zb_ev.n_pix == 0 and zb_ev.l2_format is None


def test_v104_calibration_and_precalibration():
    spec, chunk = _decode("v1.0.4-data.bin")
    [cal] = chunk.calibrations
    assert cal.run_uuid == spec["run_uuid"]
    assert cal.end_ms == spec["calibration"]["end_time"]
    assert len(cal.hist_maxpixel) == spec["calibration"]["hist_maxpixel_bins"]
    [pre] = chunk.precalibrations
    p = spec["precalibration"]
    assert [pre.res_x, pre.res_y] == p["res"]
    assert pre.camera_id == p["camera_id"]
    assert pre.hotcell == p["hotcell"]
    assert pre.hot_hash == p["hot_hash"] and pre.wgt_hash == p["wgt_hash"]
    assert len(pre.compressed_weights) == p["weights_bytes"]
    assert pre.run_uuid == spec["run_uuid"]
    assert chunk.n_precal_skipped == 0


def test_v07_legacy_client():
    spec, chunk = _decode("v0.7-2016-data.bin")
    assert chunk.client == "a" and chunk.camera_id is None
    assert chunk.runs == []
    [xb] = chunk.exposures
    e = spec["exposure_block"]
    # the XB carries only the low 64 bits: the Run-id header names the run
    assert xb.run_uuid == spec["run_uuid_from_header"] and xb.run_uuid_from_header is True
    assert int(spec["run_uuid_from_header"].replace("-", ""), 16) & (2**64 - 1) == spec["xb_run_id_low64"]
    assert xb.state == e["daq_state"] and xb.xbn == e["xbn"]
    assert (xb.lat, xb.lon) == (None, None) and e["location"] is None
    assert [xb.res_x, xb.res_y] == e["res"]
    assert xb.l1_processed == e["l1_processed"]
    assert xb.l1_pass == e["l1_pass"]
    assert xb.l2_pass == e["l2_pass_pixels"]
    assert len(xb.events) == e["n_events"]
    # builds before v0.10.0: live time from L1_processed; 120 s XB of 3600 frames, 1 % dead time
    assert xb.live_s == approx(e["l1_processed"] * (120.0 / 3600) * 0.99)
    # before v0.8.0, *_ntp is SNTP-corrected Unix ms: kept
    assert xb.start_ntp_ms is not None and abs(xb.start_ntp_ms - xb.start_ms) < 1000
    for ev, want in zip(xb.events, spec["events"]):
        assert ev.t_ms == want["timestamp"]
        assert [list(p) for p in ev.pixels] == want["pixels"]
        assert ev.max_val == want["max_val"]
        assert ev.l2_format == "pixels" and ev.is_hit
        assert (ev.lat, ev.lon) == (None, None)
        assert ev.t_ntp_ms is not None and abs(ev.t_ntp_ms - ev.t_ms) < 1000
        assert ev.run_uuid == spec["run_uuid_from_header"]


def test_v011_calibration_aborted_trusts_the_header_over_a_truncated_run_config():
    spec, chunk = _decode("v0.11-calibration-aborted.bin")
    header_uuid = spec["headers"]["Run-id"]
    [run] = chunk.runs
    assert run.run_uuid == header_uuid and run.uuid_from_header is True
    assert run.camera_id == int(spec["headers"]["Camera-id"])
    [xb] = chunk.exposures
    e = spec["exposure_block"]
    assert xb.run_uuid == header_uuid and xb.run_uuid_from_header is False   # XB has both halves
    assert xb.state == e["daq_state"]
    assert xb.aborted is e["aborted"]
    assert len(xb.events) == e["n_events"]
    assert xb.build == "v0.11.0"

"""Bulk actions: deterministic ids from the wire dedup keys, no raw device id, strict-mapping fit."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from crayfis.es.documents import build_actions
from crayfis.es.templates import MAPPINGS
from crayfis.privacy import pseudonym, public_cell
from crayfis.wire import build
from crayfis.wire import crayfis_pb2 as pb
from crayfis.wire.decode import decode_submit

DATA = Path(__file__).parents[1] / "wire" / "data"
EXPECTED = json.loads((DATA / "expected.json").read_text())
KEY = b"test-key"
RUN = "7f3c2a10-51d4-4e8b-9a6f-2b1c0d9e8f70"
T0 = 1735689600000


def _sample_actions(name, **kw):
    spec = EXPECTED[name]
    chunk = decode_submit((DATA / name).read_bytes(), spec["headers"], with_pixels=False)
    return build_actions(chunk, prefix="cr", key=KEY, received_ms=T0, **kw)


def _kind(action) -> str:
    return action["_index"].split("-")[1]


def _by_kind(actions):
    out = {}
    for a in actions:
        out.setdefault(_kind(a), []).append(a)
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ids_are_deterministic_and_unique(name):
    a, b = _sample_actions(name), _sample_actions(name)
    assert [(x["_index"], x["_id"]) for x in a] == [(x["_index"], x["_id"]) for x in b]
    assert a == b
    ids = [(x["_index"], x["_id"]) for x in a]
    assert len(set(ids)) == len(ids)
    assert all(x["_op_type"] == "create" for x in a)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_raw_device_id_never_appears(name):
    device_id = EXPECTED[name]["headers"]["Device-id"]
    actions = _sample_actions(name)
    text = json.dumps(actions)
    assert device_id not in text
    dev = pseudonym(device_id, KEY)
    assert all(a["_source"]["device"] == dev for a in actions)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_documents_fit_their_strict_mappings(name):
    for a in _sample_actions(name):
        props = MAPPINGS[_kind(a)]["properties"]
        assert set(a["_source"]) <= set(props), set(a["_source"]) - set(props)


def test_v104_documents():
    spec = EXPECTED["v1.0.4-data.bin"]
    kinds = _by_kind(_sample_actions("v1.0.4-data.bin"))
    dev = pseudonym(spec["headers"]["Device-id"], KEY)
    [run] = kinds["runs"]
    assert run["_index"] == "cr-runs" and run["_id"] == spec["run_uuid"]
    assert run["_source"]["model"] == "Pixel 4a" and run["_source"]["build"] == "v1.0.4"
    assert run["_source"]["os_version"] == "12" and run["_source"]["sdk"] == "31"

    [xb] = kinds["exposures"]
    s = xb["_source"]
    assert xb["_index"] == "cr-exposures-2025.01" and s["xb_id"] == xb["_id"]
    assert (s["device"], s["run"], s["xbn"], s["state"]) == (dev, spec["run_uuid"], 4, "DATA")
    assert s["location"] == {"lat": 46.2331, "lon": 6.0557}
    cell, clat, clon = public_cell(46.2331, 6.0557)
    assert s["cell"] == cell and s["cell_location"] == {"lat": clat, "lon": clon}
    assert s["l1_threshold"] == pytest.approx(11.37) and s["l2_threshold"] == 11
    assert (s["l0_processed"], s["qual_processed"], s["l1_processed"], s["l2_processed"]) == (5400, 5398, 5398, 60)
    assert (s["l0_pass"], s["qual_pass"], s["l1_pass"], s["l2_pass"]) == (6, 5398, 60, 71)
    assert s["live_s"] == pytest.approx(178.2) and s["duration_s"] == 180.0
    assert (s["n_events"], s["n_hits"], s["n_zero_bias"]) == (4, 3, 1)
    assert s["battery_temp_c"] is None and s["model"] == "Pixel 4a"

    hits = kinds["hits"]
    assert [h["_source"]["t_ms"] for h in hits] == (
        [e["timestamp"] for e in spec["events"]] + [spec["zero_bias"]["timestamp"]])
    for h, want in zip(hits, spec["events"]):
        hs = h["_source"]
        assert hs["hit_id"] == h["_id"] and hs["xb_id"] == xb["_id"]
        assert hs["n_pix"] == want["n_hits"] and hs["max_val"] == max(p[2] for p in want["pixels"])
        assert hs["is_hit"] and not hs["zero_bias"]
        assert hs["location"] == {"lat": 46.2331, "lon": 6.0557} and hs["cell"] == cell
        assert hs["pressure"] == 965.5 and hs["orient_x"] == pytest.approx(0.1)
        assert (hs["device"], hs["run"], hs["xbn"], hs["build"], hs["model"]) == (
            dev, spec["run_uuid"], 4, "v1.0.4", "Pixel 4a")
    zb = hits[-1]["_source"]
    assert zb["zero_bias"] and not zb["is_hit"] and zb["n_pix"] == 0
    # the zero-bias event has no fix of its own: the XB's position stands in
    assert zb["location"] == s["location"]

    [cal] = kinds["calibrations"]
    assert cal["_index"] == "cr-calibrations-2025.01" and cal["_source"]["end_ms"] == spec["calibration"]["end_time"]
    assert cal["_source"]["n_frames"] == 1000
    [pre] = kinds["precalibrations"]
    ps = pre["_source"]
    assert pre["_index"] == "cr-precalibrations"
    assert (ps["camera_id"], ps["res_x"], ps["res_y"], ps["hot_hash"], ps["wgt_hash"]) == (
        0, 1920, 1080, 123456789, 987654321)
    assert ps["hotcell"] == [13445, 961000] and ps["n_hotcells"] == 2
    import base64
    assert len(base64.b64decode(ps["weights"])) == spec["precalibration"]["weights_bytes"]


def test_v07_documents_without_fix_or_run_config():
    kinds = _by_kind(_sample_actions("v0.7-2016-data.bin"))
    assert "runs" not in kinds
    [xb] = kinds["exposures"]
    assert xb["_index"] == "cr-exposures-2016.05"
    assert "location" not in xb["_source"] and "cell" not in xb["_source"]
    assert xb["_source"]["l1_processed"] == 3600 and xb["_source"]["l2_pass"] == 350
    assert xb["_source"]["run"] == EXPECTED["v0.7-2016-data.bin"]["run_uuid_from_header"]
    for h in kinds["hits"]:
        assert "location" not in h["_source"] and h["_source"]["max_val"] == 120


def _one_event_chunk(*, device="dev-1", xbn=1, start=T0, t=T0 + 1000, nano=5, values=lambda x, y: 1):
    ev = build.event(t, xbn=xbn, timestamp_nano=nano, hits=[(5, 5)], values=values, res=(32, 32))
    xb = build.exposure_block(RUN, xbn=xbn, start_ms=start, end_ms=start + 180_000, events=[ev], res=(32, 32))
    chunk = decode_submit(build.data_chunk([], [xb]), build.submit_headers(device, RUN))
    return {a["_source"].get("hit_id") and "hit" or "xb": a["_id"]
            for a in build_actions(chunk, prefix="cr", key=KEY)}


def test_ids_follow_exactly_the_dedup_keys():
    base = _one_event_chunk()
    # not part of any key: event payload
    assert _one_event_chunk(values=lambda x, y: 200) == base
    # XB key: device, run, xbn, start_time; event key adds timestamp, timestamp_nano
    for change in (dict(device="dev-2"), dict(xbn=2), dict(start=T0 + 1)):
        other = _one_event_chunk(**change)
        assert other["xb"] != base["xb"] and other["hit"] != base["hit"], change
    for change in (dict(t=T0 + 1001), dict(nano=6)):
        other = _one_event_chunk(**change)
        assert other["xb"] == base["xb"] and other["hit"] != base["hit"], change


def test_ids_depend_on_the_key():
    chunk = decode_submit((DATA / "v1.0.4-data.bin").read_bytes(), EXPECTED["v1.0.4-data.bin"]["headers"])
    a = build_actions(chunk, prefix="cr", key=b"k1")
    b = build_actions(chunk, prefix="cr", key=b"k2")
    xb_ids = [(x["_id"], y["_id"]) for x, y in zip(a, b) if _kind(x) in ("exposures", "hits", "precalibrations")]
    assert xb_ids and all(i != j for i, j in xb_ids)


def test_untimed_records_use_the_receive_time():
    xb = pb.ExposureBlock(run_id=1, run_id_hi=2, xbn=1, daq_state=pb.ExposureBlock.DATA)
    xb.events.add()                                 # no timestamp either
    chunk = decode_submit(build.data_chunk([], [xb]), {"Device-id": "d"})
    acts = build_actions(chunk, prefix="cr", key=KEY, received_ms=T0 + 86_400_000 * 40)
    assert {a["_index"] for a in acts} == {"cr-exposures-2025.02", "cr-hits-2025.02"}
    assert [a["_source"]["t_ms"] for a in acts if _kind(a) == "hits"] == [T0 + 86_400_000 * 40]


def test_device_id_is_required():
    chunk = decode_submit(build.data_chunk(), {})
    with pytest.raises(ValueError):
        build_actions(chunk, prefix="cr", key=KEY)
    assert build_actions(chunk, prefix="cr", key=KEY, device_id="x") == []


def _same_millisecond_chunk(pixels, nano=None):
    events = [build.event(T0 + 1000, xbn=1, timestamp_nano=nano, hits=[p], values=lambda x, y: 9, res=(32, 32))
              for p in pixels]
    xb = build.exposure_block(RUN, xbn=1, start_ms=T0, end_ms=T0 + 180_000, events=events, res=(32, 32))
    return decode_submit(build.data_chunk([], [xb]), build.submit_headers("dev-1", RUN))


def test_events_sharing_a_millisecond_without_nanoseconds_stay_distinct():
    """Issue 16: three events of one block with the same t_ms and no t_nano were one document.

    Fails on main at d21fe67: the three get one id (two hits silently dropped at indexing)."""
    chunk = _same_millisecond_chunk([(1, 1), (2, 2), (3, 3)])
    hits = [a["_id"] for a in build_actions(chunk, prefix="cr", key=KEY) if _kind(a) == "hits"]
    again = [a["_id"] for a in build_actions(chunk, prefix="cr", key=KEY) if _kind(a) == "hits"]
    assert len(set(hits)) == 3 and hits == again
    # the first of them keeps the id an event alone at that time always had: ids of events that
    # were already distinct do not change, so an index built before stays valid
    alone = _same_millisecond_chunk([(1, 1)])
    assert [a["_id"] for a in build_actions(alone, prefix="cr", key=KEY) if _kind(a) == "hits"] == hits[:1]
    # the same holds for a repeated (t_ms, t_nano) pair
    twice = _same_millisecond_chunk([(1, 1), (2, 2)], nano=77)
    assert len({a["_id"] for a in build_actions(twice, prefix="cr", key=KEY) if _kind(a) == "hits"}) == 2

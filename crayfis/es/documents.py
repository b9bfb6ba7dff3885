"""Elasticsearch bulk actions from one decoded upload, with deterministic ids.

Every document id is a keyed function of the wire dedup key (docs/wire-protocol.md section 2), so a
replayed upload produces the same (_index, _id) pairs and `create` answers 409 instead of
duplicating. Ids hash the device *pseudonym*, never the raw Device-id, and no document holds the
raw id: the only device name that leaves this module is `pseudonym(device_id, key)`.

Id = blake2b-128 hex of the key parts joined by '|':
  run: the run UUID itself (random, names no device);
  exposure: ("xb", pseudonym, run, xbn, start_time);
  hit: (exposure key, timestamp, timestamp_nano) -- built from the exposure key bytes; the n-th
       repeat (n >= 1) of a (timestamp, timestamp_nano) pair within one block adds n, so events
       that share a millisecond and carry no nanoseconds stay distinct, in their order in the block;
  calibration: ("cal", run, end_time);
  precalibration: ("precal", pseudonym, camera, res_x, res_y, hot_hash, wgt_hash).
Unset numbers enter the key as '' so the key never depends on a fallback value.

Hit documents are built in one dict literal per event (the indexer's hot path).
"""
from __future__ import annotations

import base64
from hashlib import blake2b
from typing import Any

from crayfis.es.naming import index_for, month_suffix
from crayfis.privacy import pseudonym, public_cell
from crayfis.wire.records import (
    CalibrationRecord,
    DecodedChunk,
    ExposureRecord,
    PreCalibrationRecord,
    RunRecord,
)

__all__ = ["build_actions", "doc_id", "exposure_key", "STAGE_KEYS"]

# ExposureBlock.config stage name -> counter prefix in exposure documents.
STAGE_KEYS = {
    "L0Processor": "l0", "QualityProcessor": "qual", "L1Processor": "l1", "L2Processor": "l2",
    "PreCalibrator": "precal",
}
# Stage chains per state, for blocks that send counters but no config names (section 4).
DEFAULT_CHAINS = {
    "DATA": ("l0", "qual", "l1", "l2"),
    "CALIBRATION": ("l0", "qual", "l1"),
    "PRECALIBRATION": ("l0", "qual", "precal"),
}


def _part(v) -> str:
    return "" if v is None else str(v)


def doc_id(*parts) -> str:
    """blake2b-128 hex of the parts joined by '|' (None -> '')."""
    return blake2b("|".join(map(_part, parts)).encode(), digest_size=16).hexdigest()


def exposure_key(device: str, xb: ExposureRecord) -> bytes:
    """Key bytes of an exposure block; hit keys extend it."""
    return "|".join(("xb", device, _part(xb.run_uuid), _part(xb.xbn), _part(xb.start_ms))).encode()


class _Cells:
    """public_cell with a per-upload cache: a phone's events share a few fixes."""

    __slots__ = ("_cache",)

    def __init__(self):
        self._cache: dict[tuple[float, float], tuple] = {}

    def __call__(self, lat: float, lon: float) -> tuple:
        key = (lat, lon)
        got = self._cache.get(key)
        if got is None:
            cell, clat, clon = public_cell(lat, lon)
            got = (cell, {"lat": clat, "lon": clon})
            self._cache[key] = got
        return got


def _run_action(prefix: str, dev: str, run: RunRecord, chunk: DecodedChunk) -> dict[str, Any]:
    src = {
        "run": run.run_uuid, "device": dev, "start_ms": run.start_ms, "build": run.build,
        "manufacturer": run.manufacturer, "model": run.model,
        "os_version": run.os_params.get("version-release"), "sdk": run.os_params.get("version-sdk-int"),
        "camera_id": run.camera_id, "camera_params": run.camera_params,
        "client": chunk.client, "version_code": chunk.version_code,
    }
    return {"_op_type": "create", "_index": index_for(prefix, "runs"), "_id": run.run_uuid, "_source": src}


def _counters(xb: ExposureRecord) -> dict[str, int | None]:
    """Per-stage processed/pass/skip as l0_*, qual_*, l1_*, l2_*, precal_* (legacy fields too)."""
    out: dict[str, int | None] = {}
    if xb.stage_processed or xb.stage_pass or xb.stage_skip:
        if xb.stage_names:
            keys = [STAGE_KEYS.get(n) for n in xb.stage_names]
        else:
            keys = list(DEFAULT_CHAINS.get(xb.state, ()))
        for what, values in (("processed", xb.stage_processed), ("pass", xb.stage_pass), ("skip", xb.stage_skip)):
            for k, v in zip(keys, values):
                if k is not None:
                    out[f"{k}_{what}"] = v
    for k in ("l0", "l1", "l2"):
        for what in ("processed", "pass", "skip"):
            field = f"{k}_{what}"
            if field not in out:
                v = getattr(xb, field)
                if v is not None:
                    out[field] = v
    return out


def _position(lat, lon, accuracy, altitude, cells: _Cells) -> dict[str, Any]:
    if lat is None:
        return {"gps_accuracy": None, "altitude": None}
    cell, cell_loc = cells(lat, lon)
    return {"location": {"lat": lat, "lon": lon}, "gps_accuracy": accuracy, "altitude": altitude,
            "cell": cell, "cell_location": cell_loc}


def _exposure_actions(prefix: str, dev: str, xb: ExposureRecord, received_ms: int | None,
                      cells: _Cells, out: list) -> None:
    key = exposure_key(dev, xb)
    xb_id = blake2b(key, digest_size=16).hexdigest()
    t_xb = xb.start_ms or xb.end_ms or received_ms or 0
    duration = (xb.end_ms - xb.start_ms) / 1000.0 if xb.start_ms and xb.end_ms else None
    src = {
        "xb_id": xb_id, "device": dev, "run": xb.run_uuid, "xbn": xb.xbn, "state": xb.state,
        "start_ms": xb.start_ms, "end_ms": xb.end_ms, "duration_s": duration, "live_s": xb.live_s,
        **_position(xb.lat, xb.lon, xb.accuracy, xb.altitude, cells),
        "res_x": xb.res_x, "res_y": xb.res_y, "l1_threshold": xb.l1_threshold,
        "l2_threshold": xb.l2_threshold, "l2_task": xb.l2_task, **_counters(xb),
        "frames_dropped": xb.frames_dropped, "aborted": xb.aborted,
        "battery_temp_c": xb.battery_temp_c, "battery_end_temp_c": xb.battery_end_temp_c,
        "hot_hash": xb.hot_hash, "wgt_hash": xb.wgt_hash,
        "n_events": len(xb.events), "n_hits": xb.n_hits, "n_zero_bias": xb.n_zero_bias,
        "build": xb.build, "model": xb.model,
    }
    out.append({"_op_type": "create", "_index": f"{prefix}-exposures-{month_suffix(t_xb)}",
                "_id": xb_id, "_source": src})

    # Hits: one dict literal each; the XB's position stands in for events without a fix.
    run, xbn, build, model = xb.run_uuid, xb.xbn, xb.build, xb.model
    xb_loc = None
    if xb.lat is not None:
        xb_loc = ({"lat": xb.lat, "lon": xb.lon}, xb.accuracy, xb.altitude, *cells(xb.lat, xb.lon))
    hits_prefix = f"{prefix}-hits-"
    key += b"|"
    stamps: dict[tuple[int, int], int] = {}   # (t_ms, t_nano) -> events seen with it in this block
    for ev in xb.events:
        t = ev.t_ms or t_xb
        stamp = (ev.t_ms or 0, ev.t_nano or 0)
        repeat = stamps.get(stamp, 0)
        stamps[stamp] = repeat + 1
        hid = blake2b(key + (b"%d|%d|%d" % (*stamp, repeat) if repeat else b"%d|%d" % stamp),
                      digest_size=16).hexdigest()
        if ev.lat is not None:
            loc = ({"lat": ev.lat, "lon": ev.lon}, ev.accuracy, ev.altitude, *cells(ev.lat, ev.lon))
        else:
            loc = xb_loc
        src = {
            "hit_id": hid, "t_ms": t, "t_nano": ev.t_nano, "device": dev, "run": run, "xbn": xbn,
            "xb_id": xb_id, "n_pix": ev.n_pix, "max_val": ev.max_val, "avg": ev.avg, "std": ev.std,
            "zero_bias": ev.zero_bias is not None, "is_hit": ev.is_hit, "pressure": ev.pressure,
            "orient_x": ev.orient_x, "orient_y": ev.orient_y, "orient_z": ev.orient_z,
            "exposure_ns": ev.exposure_ns, "build": build, "model": model,
        }
        if loc is not None:
            src["location"], src["gps_accuracy"], src["altitude"], src["cell"], src["cell_location"] = loc
        out.append({"_op_type": "create", "_index": hits_prefix + month_suffix(t), "_id": hid, "_source": src})


def _calibration_action(prefix: str, dev: str, cal: CalibrationRecord, runs: dict[str, RunRecord],
                        received_ms: int | None) -> dict[str, Any]:
    rid = doc_id("cal", cal.run_uuid, cal.end_ms)
    run = runs.get(cal.run_uuid)
    src = {
        "cal_id": rid, "device": dev, "run": cal.run_uuid, "start_ms": cal.start_ms, "end_ms": cal.end_ms,
        "n_frames": sum(cal.hist_maxpixel), "hist_maxpixel": cal.hist_maxpixel,
        "build": run.build if run else None, "model": run.model if run else None,
    }
    t = cal.end_ms or cal.start_ms or received_ms or 0
    return {"_op_type": "create", "_index": index_for(prefix, "calibrations", t), "_id": rid, "_source": src}


def _precal_action(prefix: str, dev: str, pre: PreCalibrationRecord, runs: dict[str, RunRecord],
                   ) -> dict[str, Any]:
    pid = doc_id("precal", dev, pre.camera_id, pre.res_x, pre.res_y, pre.hot_hash, pre.wgt_hash)
    run = runs.get(pre.run_uuid)
    src = {
        "precal_id": pid, "device": dev, "camera_id": pre.camera_id, "res_x": pre.res_x, "res_y": pre.res_y,
        "hot_hash": pre.hot_hash, "wgt_hash": pre.wgt_hash, "end_ms": pre.end_ms, "run": pre.run_uuid,
        "weights": base64.b64encode(pre.compressed_weights).decode("ascii"),
        "compressed_format": pre.compressed_format, "hotcell": pre.hotcell, "n_hotcells": len(pre.hotcell),
        "interpolation": pre.interpolation, "battery_temp_c": pre.battery_temp_c,
        "precal_config": pre.precal_config,
        "build": run.build if run else None, "model": run.model if run else None,
    }
    return {"_op_type": "create", "_index": index_for(prefix, "precalibrations"), "_id": pid, "_source": src}


def build_actions(chunk: DecodedChunk, *, prefix: str, key: bytes | str, device_id: str | None = None,
                  received_ms: int | None = None) -> list[dict[str, Any]]:
    """Bulk actions (for elasticsearch.helpers.bulk / streaming_bulk) for every record of `chunk`.

    device_id defaults to the chunk's Device-id header; key is the pseudonym HMAC key.
    received_ms (the upload's stored receive time) dates records that carry no time at all, so
    they still land in a deterministic monthly index. Order: runs, then per exposure block its
    document followed by its hits, then calibrations, then precalibrations.
    """
    device_id = device_id if device_id is not None else chunk.device_id
    if not device_id:
        raise ValueError("documents need the upload's Device-id")
    dev = pseudonym(device_id, key)
    cells = _Cells()
    runs = {r.run_uuid: r for r in chunk.runs}
    out: list[dict[str, Any]] = [_run_action(prefix, dev, r, chunk) for r in chunk.runs]
    for xb in chunk.exposures:
        _exposure_actions(prefix, dev, xb, received_ms, cells, out)
    out.extend(_calibration_action(prefix, dev, c, runs, received_ms) for c in chunk.calibrations)
    out.extend(_precal_action(prefix, dev, p, runs) for p in chunk.precalibrations)
    return out

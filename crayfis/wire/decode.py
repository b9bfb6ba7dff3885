"""Decode one /submit body (a serialized crayfis.DataChunk) plus its headers into plain records.

`decode_submit(body, headers)` returns a DecodedChunk (crayfis/wire/records.py) or raises
WireDecodeError, and nothing else, for bytes it cannot make sense of: the caller quarantines
those. The rules are those of docs/wire-protocol.md: unsigned run UUIDs with the Run-id header
standing in for a truncated or missing upper half (section 5), 0/0 without accuracy = no fix,
4294967295 = unknown temperature, pressure 0 = no barometer, `*_ntp` junk from v0.8.0 on, the
ByteBlock replay (section 4), the fractional v1.0.x L1 threshold and live time (section 6).

Fields whose unset value (0) is also the phone's own "unknown" marker (altitude, accuracy, fix
time, pressure, exposure time, sensor timestamp) are read by value; presence checks (HasField)
are spent only where 0 is a real value, because this runs once per hit on the ingest hot path.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from crayfis.wire import crayfis_pb2 as pb
from crayfis.wire.byteblock import ByteBlockError, block_size, decode_hits_block
from crayfis.wire.records import (
    CalibrationRecord,
    DecodedChunk,
    EventRecord,
    ExposureRecord,
    PreCalibrationRecord,
    RunRecord,
    ZeroBiasRecord,
)

__all__ = ["WireDecodeError", "decode_submit", "decode_chunk", "parse_version", "run_uuid_text"]

UNKNOWN_TEMP = 4294967295
MAX_MS = 253402300799999          # 9999-12-31T23:59:59.999Z: beyond it no UTC month exists
MAX_LONG = 2**63 - 1              # Elasticsearch `long`
DEFAULT_SIDE_LENGTH = 5           # radius 2 is hard-wired in the app's block copy
DEFAULT_FRAME_S = 1.0 / 30.0      # target fps 30
DEAD_TIME_FRAC = 0.01             # set_frac_dead_time default
STATE_NAMES = {v.number: v.name for v in pb.ExposureBlock.State.DESCRIPTOR.values}


class WireDecodeError(ValueError):
    """The body is not a DataChunk this server can decode; quarantine it (and answer 202 {})."""


# --- small converters ------------------------------------------------------------------------

def run_uuid_text(hi: int, lo: int) -> str:
    """UUID text of the unsigned 64-bit halves (values >= 2**63 are normal)."""
    h = "%032x" % ((hi << 64) | lo)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _ms(v: int) -> int | None:
    """A Unix-ms field: 0 = unset; a value no calendar can hold makes the body undecodable."""
    if not v:
        return None
    if v > MAX_MS:
        raise WireDecodeError(f"time {v} ms lies beyond year 9999")
    return v


def _ns(v: int) -> int | None:
    """A nanosecond counter: 0 = unset; values past int64 are junk, not an error."""
    return v if 0 < v <= MAX_LONG else None


def _flt(v: float) -> float | None:
    """Finite float or None (NaN/inf cannot go into JSON or Elasticsearch)."""
    return v if v - v == 0.0 else None


def _temp_c(v: int) -> float | None:
    """0.1 degC; the app stores a Java int in a uint32, so below 0 degC wraps (-1 = unknown)."""
    if v == UNKNOWN_TEMP:
        return None
    return (v - 2**32 if v >= 2**31 else v) / 10.0


def _text(v) -> str | None:
    """proto2 strings are not UTF-8 checked: invalid ones arrive as bytes."""
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return v or None


def _location(lat: float, lon: float, accuracy: float) -> tuple[float | None, float | None]:
    if lat == 0.0 and lon == 0.0 and not accuracy:
        return None, None
    if -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:   # also rejects NaN
        return lat, lon
    return None, None


def _kv_pairs(text, sep: str) -> dict[str, str]:
    """`key=value;key=value;` (hw_params, os_params) as a dict."""
    out: dict[str, str] = {}
    for part in (_text(text) or "").split(";"):
        key, eq, value = part.partition(sep)
        if eq and key.strip():
            out[key.strip()] = value.strip()
    return out


_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(build: str | None) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a versionName such as `v1.0.4` or `v0.11.0-3-gabc`; None if unknown.

    The 2015 `beta-v02x` builds predate v0.5.0 and read as (0, 4, 0).
    """
    if not build:
        return None
    if build.startswith("beta"):
        return (0, 4, 0)
    m = _VERSION_RE.match(build)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def _ntp_trusted(build: str | None) -> bool:
    """`*_ntp` holds SNTP-corrected ms only before v0.8.0 (later: ms since boot)."""
    v = parse_version(build)
    return v is not None and v < (0, 8, 0)


# --- headers ---------------------------------------------------------------------------------

class _Headers:
    __slots__ = ("device_id", "run_uuid", "camera_id", "client", "build", "version_code")

    def __init__(self, headers: Mapping[str, str] | None):
        h = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        self.device_id = h.get("device-id") or None
        self.run_uuid = None
        if h.get("run-id"):
            try:
                self.run_uuid = str(uuid.UUID(h["run-id"].strip()))
            except ValueError:
                pass
        cam = h.get("camera-id", "").strip()
        self.camera_id = int(cam) if cam.isdigit() and len(cam) < 10 else None
        parts = h.get("crayfis-version", "").split(None, 1)
        if len(parts) == 2 and parts[0] in ("a", "b"):
            self.client, self.build = parts[0], parts[1].strip()
        else:
            self.client, self.build = None, (parts[0] if parts else None)
        code = h.get("crayfis-version-code", "").strip()
        self.version_code = int(code) if code.isdigit() and len(code) < 10 else None


def _resolve_run(hi: int, lo: int, has_lo: bool, header_uuid: str | None) -> tuple[str | None, bool]:
    """Run UUID of a record from its halves; (uuid, came_from_header).

    Without an upper half (builds before v0.10.0, or a truncated RunConfig id) the Run-id header,
    shared by every record of the upload, is the only full id.
    """
    if hi:
        return run_uuid_text(hi, lo), False
    if header_uuid is not None:
        return header_uuid, True
    if has_lo:
        return run_uuid_text(0, lo), False
    return None, False


# --- records -----------------------------------------------------------------------------------

def _run(rc, hdr: _Headers) -> RunRecord:
    run_uuid, from_header = _resolve_run(rc.id_hi, rc.id_lo, rc.HasField("id_lo"), hdr.run_uuid)
    if run_uuid is None:
        raise WireDecodeError("RunConfig without an id and no Run-id header")
    hw = _kv_pairs(rc.hw_params, "=")
    return RunRecord(
        run_uuid, _ms(rc.start_time), _text(rc.crayfis_build) or hdr.build,
        hw.get("build-manufacturer"), hw.get("build-model"), hw, _kv_pairs(rc.os_params, "="),
        _text(rc.camera_params), rc.camera_id if rc.HasField("camera_id") else hdr.camera_id,
        from_header,
    )


def _event(ev, run_uuid, xbn, res_x, res_y, keep_ntp: bool, with_pixels: bool) -> EventRecord:
    """One Event; conversions are inlined (no helper calls) because this runs once per hit."""
    has = ev.HasField
    hits: list[tuple[int, int]] = []
    pixels = None
    max_val = None
    l2_format = None
    if has("byte_block"):
        bb = ev.byte_block
        xs, ys, vals = bb.x[:], bb.y[:], bb.val[:]   # one C copy each: upb repeated fields iterate slowly
        if xs or vals:
            l2_format = "byte_block"
            side = bb.side_length or DEFAULT_SIDE_LENGTH
            hits = list(zip(xs, ys))
            try:
                if len(xs) != len(ys):
                    raise ByteBlockError(f"{len(xs)} x but {len(ys)} y coordinates")
                if with_pixels:
                    pixels = decode_hits_block(hits, vals, side, res_x, res_y)
                else:
                    n_vals = block_size(xs, ys, side, res_x, res_y)
                    if n_vals != len(vals):
                        raise ByteBlockError(f"byte_block holds {len(vals)} values, its squares cover {n_vals}")
            except ByteBlockError as e:
                raise WireDecodeError(f"event at {ev.timestamp}: {e}") from e
            max_val = max(vals) if vals else None
    if l2_format is None and ev.pixels:
        l2_format = "pixels"
        plist = [(p.x, p.y, p.val) for p in ev.pixels]
        hits = [(x, y) for x, y, _ in plist]
        max_val = max(v for _, _, v in plist)
        if with_pixels:
            pixels = plist
    zero_bias = None
    if has("zero_bias"):
        zb = ev.zero_bias
        zero_bias = ZeroBiasRecord(zb.x_min, zb.y_min, list(zb.val))
    t = ev.timestamp
    if t > MAX_MS:
        raise WireDecodeError(f"event time {t} ms lies beyond year 9999")
    accuracy = ev.gps_accuracy
    lat, lon = ev.gps_lat, ev.gps_lon
    if (lat == 0.0 and lon == 0.0 and not accuracy) or not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        lat = lon = None
    if has("orient_x"):
        ox, oy, oz = ev.orient_x, ev.orient_y, ev.orient_z
        ox = ox if ox - ox == 0.0 else None
        oy = oy if oy - oy == 0.0 else None
        oz = oz if oz - oz == 0.0 else None
    else:
        ox = oy = oz = None
    tn, tt, ex, fx = ev.timestamp_nano, ev.timestamp_target, ev.exposure_time, ev.gps_fixtime
    alt, pr, avg, std = ev.gps_altitude, ev.pressure, ev.avg, ev.std
    ntp = ev.timestamp_ntp if keep_ntp else 0
    n_pix = len(hits)
    return EventRecord(
        run_uuid, xbn, t or None,
        tn if 0 < tn <= MAX_LONG else None,
        ntp if 0 < ntp <= MAX_MS else None,
        tt if 0 < tt <= MAX_LONG else None,
        ex if 0 < ex <= MAX_LONG else None,
        lat, lon,
        alt if alt and alt - alt == 0.0 else None,
        accuracy if accuracy and accuracy - accuracy == 0.0 else None,
        fx if 0 < fx <= MAX_MS else None,
        pr if pr and pr - pr == 0.0 else None,
        ox, oy, oz,
        avg if avg - avg == 0.0 else None,
        std if std - std == 0.0 else None,
        l2_format, hits, n_pix, max_val, pixels, zero_bias,
        not (zero_bias is not None and n_pix == 0),
    )


def _stage_name_task(entry: str) -> tuple[str, str | None]:
    """`L2Processor: byteblock; npix = 120` -> ("L2Processor", "byteblock")."""
    name, colon, rest = entry.partition(":")
    if not colon:
        return entry.split(";", 1)[0].strip(), None
    return name.strip(), rest.split(";", 1)[0].strip() or None


def _live_seconds(frames: int | None, dropped: int, start_ms, end_ms, events) -> float | None:
    """processed[0] x exposure per frame (section 6), capped at the XB's wall duration."""
    if frames is None:
        return None
    duration_s = (end_ms - start_ms) / 1000.0 if start_ms and end_ms and end_ms > start_ms else None
    exposures = [e.exposure_ns for e in events if e.exposure_ns]
    if exposures:
        per_frame = sum(exposures) / len(exposures) / 1e9
    elif duration_s is not None and frames + dropped > 0:
        per_frame = duration_s / (frames + dropped) * (1.0 - DEAD_TIME_FRAC)
    else:
        per_frame = DEFAULT_FRAME_S * (1.0 - DEAD_TIME_FRAC)
    live = frames * per_frame
    return min(live, duration_s) if duration_s is not None else live


def _opt(msg, name: str):
    return getattr(msg, name) if msg.HasField(name) else None


def _exposure(xb, hdr: _Headers, runs: dict[str, RunRecord], with_pixels: bool) -> ExposureRecord:
    has = xb.HasField
    run_uuid, from_header = _resolve_run(xb.run_id_hi, xb.run_id, has("run_id"), hdr.run_uuid)
    rc = runs.get(run_uuid) if run_uuid else None
    build = rc.build if rc is not None else hdr.build
    model = rc.model if rc is not None else None
    keep_ntp = _ntp_trusted(build)
    xbn = xb.xbn if has("xbn") else None
    res_x, res_y = xb.res_x, xb.res_y
    events = [_event(ev, run_uuid, xbn, res_x, res_y, keep_ntp, with_pixels) for ev in xb.events]

    configs = [_text(c) or "" for c in xb.config]
    names_tasks = [_stage_name_task(c) for c in configs]
    l2_task = next((task for name, task in names_tasks if name.startswith("L2")), None)
    if l2_task is None and xb.L2_conf:
        l2_task = _stage_name_task(_text(xb.L2_conf) or "")[0] or None
    processed = list(xb.processed)
    l1_processed = _opt(xb, "L1_processed")
    frames = processed[0] if processed else l1_processed
    start_ms, end_ms = _ms(xb.start_time), _ms(xb.end_time)
    accuracy = xb.gps_accuracy
    lat, lon = _location(xb.gps_lat, xb.gps_lon, accuracy)
    l1 = None
    if has("L1_thresh"):
        l1 = float(xb.L1_thresh)
        if has("L1_prescale") and _flt(xb.L1_prescale) is not None:
            l1 = round(l1 + xb.L1_prescale, 6)   # the prescale is a float32 fraction
    precal_uuid = None
    if xb.precal_id or xb.precal_id_hi:
        precal_uuid = run_uuid_text(xb.precal_id_hi, xb.precal_id)
    rec = ExposureRecord(
        run_uuid, from_header, xbn, STATE_NAMES.get(xb.daq_state, "INIT"), start_ms, end_ms,
        _ns(xb.start_time_nano), _ns(xb.end_time_nano),
        _ms(xb.start_time_ntp) if keep_ntp else None, _ms(xb.end_time_ntp) if keep_ntp else None,
        lat, lon, _flt(xb.gps_altitude) or None, _flt(accuracy) or None, _ms(xb.gps_fixtime),
        _temp_c(xb.battery_temp) if has("battery_temp") else None,
        _temp_c(xb.battery_end_temp) if has("battery_end_temp") else None,
        res_x or None, res_y or None, l1, _opt(xb, "L2_thresh"), l2_task,
        [n for n, _ in names_tasks], configs, processed, list(getattr(xb, "pass")), list(xb.skip),
        _opt(xb, "L0_processed"), _opt(xb, "L0_pass"), _opt(xb, "L0_skip"),
        l1_processed, _opt(xb, "L1_pass"), _opt(xb, "L1_skip"),
        _opt(xb, "L2_processed"), _opt(xb, "L2_pass"), _opt(xb, "L2_skip"),
        _text(xb.L0_conf), _text(xb.L1_conf), _text(xb.L2_conf),
        _opt(xb, "frames_dropped"), bool(xb.aborted),
        _live_seconds(frames, xb.frames_dropped, start_ms, end_ms, events),
        list(xb.hist), _opt(xb, "hot_hash"), _opt(xb, "wgt_hash"), precal_uuid, build, model,
        events,
    )
    rec.n_hits = sum(1 for e in events if e.is_hit)
    rec.n_zero_bias = sum(1 for e in events if e.zero_bias is not None)
    return rec


def _calibration(cr, hdr: _Headers) -> CalibrationRecord:
    run_uuid, _ = _resolve_run(cr.run_id_hi, cr.run_id, cr.HasField("run_id"), hdr.run_uuid)
    return CalibrationRecord(
        run_uuid, _ms(cr.start_time), _ms(cr.end_time), list(cr.hist_maxpixel),
        list(cr.hist_pixel), list(cr.hist_l2pixel), list(cr.hist_numpixel),
    )


def _precalibration(pr, hdr: _Headers) -> PreCalibrationRecord | None:
    """None for a map the phone itself would reject (absent or negative hashes)."""
    if not (pr.HasField("hot_hash") and pr.HasField("wgt_hash")) or pr.hot_hash < 0 or pr.wgt_hash < 0:
        return None
    run_uuid, _ = _resolve_run(pr.run_id_hi, pr.run_id, pr.HasField("run_id"), hdr.run_uuid)
    precal_uuid = run_uuid_text(pr.precal_id_hi, pr.precal_id) if (pr.precal_id or pr.precal_id_hi) else None
    return PreCalibrationRecord(
        run_uuid, hdr.camera_id, _ms(pr.end_time), pr.res_x or None, pr.res_y or None,
        pr.hot_hash, pr.wgt_hash, bytes(pr.compressed_weights), _text(pr.compressed_format),
        list(pr.hotcell), _opt(pr, "interpolation"),
        _temp_c(pr.battery_temp) if pr.HasField("battery_temp") else None,
        _text(pr.precal_config), list(pr.second_hist), precal_uuid,
    )


# --- entry points ------------------------------------------------------------------------------

def parse_chunk(body: bytes) -> pb.DataChunk:
    """The DataChunk message, or WireDecodeError for bytes that are not one."""
    if isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    if not isinstance(body, bytes):
        raise WireDecodeError(f"body must be bytes, not {type(body).__name__}")
    try:
        return pb.DataChunk.FromString(body)
    except Exception as e:  # protobuf DecodeError, or upb's RecursionError/ValueError on junk
        raise WireDecodeError(f"not a crayfis.DataChunk: {e}") from e


def decode_chunk(chunk: pb.DataChunk, headers: Mapping[str, str] | None = None, *,
                 with_pixels: bool = True) -> DecodedChunk:
    """Normalize a parsed DataChunk (see decode_submit)."""
    hdr = _Headers(headers)
    runs = [_run(rc, hdr) for rc in chunk.run_configs]
    by_uuid = {r.run_uuid: r for r in runs}
    exposures = [_exposure(xb, hdr, by_uuid, with_pixels) for xb in chunk.exposure_blocks]
    calibrations = [_calibration(cr, hdr) for cr in chunk.calibration_results]
    precals = [_precalibration(pr, hdr) for pr in chunk.precalibration_results]
    kept = [p for p in precals if p is not None]
    return DecodedChunk(
        hdr.device_id, hdr.camera_id, hdr.run_uuid, hdr.client, hdr.build, hdr.version_code,
        runs, exposures, calibrations, kept, len(precals) - len(kept),
    )


def decode_submit(body: bytes, headers: Mapping[str, str] | None = None, *,
                  with_pixels: bool = True) -> DecodedChunk:
    """Decode a /submit body with its request headers (any key case).

    with_pixels=False skips building the per-pixel (x, y, val) lists (EventRecord.pixels = None)
    while still checking every byte_block's length; the indexer needs only hits, n_pix, max_val.
    Raises WireDecodeError, and only that, for an undecodable body.
    """
    return decode_chunk(parse_chunk(body), headers, with_pixels=with_pixels)

"""The JSON upload format of POST /api/v1/uploads: msgspec schema, validation, decoding.

Third-party detectors (other phone apps, Raspberry Pi cameras, hobby scintillators) send exposure
blocks with their hits as JSON. One raw store and one indexer serve both formats: the web view
validates a body with `validate_upload`, stores the bytes raw, and the indexer turns them into the
same normalized records as a protobuf DataChunk (`decode_upload` -> `DecodedChunk`), so one
document builder makes the Elasticsearch documents.

Why msgspec: it validates typed Structs in C, far cheaper per hit than a per-item DRF serializer
(docs/benchmarks.md has both). Its first-error-only message is enough on the fast path; a
rejected body is re-checked item by item (`collect_errors`) so the client learns every bad field
and its index.

Conventions as everywhere: times are int Unix ms UTC, positions WGS84 degrees; absent = None.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from crayfis.wire.records import DecodedChunk, EventRecord, ExposureRecord, RunRecord

FORMAT = "json-v1"
"""Payload format marker stored beside the raw bytes; the indexer dispatches on it."""

# Plausible event times: 2010-01-01 .. 2100-01-01 (ms). Fixed bounds keep validation a pure
# function of the body, so a retry weeks later gets the same answer.
T_MIN_MS = 1_262_304_000_000
T_MAX_MS = 4_102_444_800_000
NAMESPACE = uuid.UUID("5b0c6a57-3d0e-4a51-9c8c-0f6c4f3f7a11")
"""uuid5 namespace of the run id derived for blocks that name none (one run per device)."""

TimeMs = Annotated[int, Meta(ge=T_MIN_MS, le=T_MAX_MS, description="Unix time, milliseconds, UTC")]
Lat = Annotated[float, Meta(ge=-90.0, le=90.0, description="WGS84 latitude, degrees")]
Lon = Annotated[float, Meta(ge=-180.0, le=180.0, description="WGS84 longitude, degrees")]
Count = Annotated[int, Meta(ge=0, le=2**31 - 1)]
Pixel = Annotated[list[Count], Meta(min_length=3, max_length=3, description="[x, y, value]")]


class Detector(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """What took the data: kept with the run (model/build), never used as identity."""

    kind: Literal["phone", "camera", "scintillator", "other"] = "other"
    model: Annotated[str, Meta(max_length=100)] | None = None
    build: Annotated[str, Meta(max_length=100)] | None = None


class Location(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A position fix (exact positions are never published; public views show a 0.1-degree cell)."""

    lat: Lat
    lon: Lon
    altitude: Annotated[float, Meta(ge=-1.0e4, le=1.0e5, description="metres above the WGS84 ellipsoid")] | None = None
    accuracy: Annotated[float, Meta(ge=0.0, le=1.0e6, description="metres, 68 % radius")] | None = None


class Hit(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One triggered event. Its location defaults to its block's."""

    t_ms: TimeMs
    t_ns: Annotated[int, Meta(ge=0, le=2**63 - 1, description=(
        "monotonic clock, ns (any origin): needed when two hits of a block share t_ms, "
        "because (t_ms, t_ns) identifies a hit within its block"
    ))] | None = None
    location: Location | None = None
    amplitude: Annotated[Count, Meta(description="largest raw value (ADC counts or pixel value)")] | None = None
    pixels: Annotated[list[Pixel], Meta(max_length=1000, description="camera pixels above threshold")] | None = None


class Block(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """An exposure block: a span of live data taking and every hit found in it."""

    start_ms: TimeMs
    end_ms: TimeMs
    hits: list[Hit]
    run_id: Annotated[uuid.UUID, Meta(description=(
        "run UUID; when absent, the device's default run (the same in every upload, so a block "
        "re-sent under a new upload_id is recognised)"))] | None = None
    xbn: Annotated[Count, Meta(description="block number within the run; its index in blocks when absent")] | None \
        = None
    location: Location | None = None
    live_s: Annotated[float, Meta(ge=0.0, le=1.0e7,
                                  description="live time, s; (end_ms - start_ms) / 1000 when absent")] | None = None
    aborted: bool = False


class Upload(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One POST /api/v1/uploads body."""

    upload_id: Annotated[uuid.UUID, Meta(description="client-generated; a retry reuses it with the same body")]
    blocks: Annotated[list[Block], Meta(min_length=1)]
    detector: Detector | None = None


@dataclass(frozen=True)
class Limits:
    """Per-request bounds (the web layer fills them from settings)."""

    max_blocks: int = 1_000
    max_hits: int = 100_000
    max_errors: int = 50


@dataclass(frozen=True)
class FieldError:
    """One problem: where (a JSONPath-like location, the block/hit index) and what."""

    loc: str
    message: str
    field: str | None = None
    block: int | None = None
    hit: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"loc": self.loc, "field": self.field, "block": self.block, "hit": self.hit,
                "message": self.message}


class UploadInvalid(ValueError):
    """The body is not a valid upload; `errors` names every bad field found (up to a limit)."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.loc}: {e.message}" for e in errors[:3]))
        self.errors = errors


_DECODER = msgspec.json.Decoder(Upload)
_RAW = msgspec.json.Decoder()
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.S)
_IDX = re.compile(r"\.(blocks|hits)\[(\d+)\]")


def validate_upload(body: bytes, limits: Limits = Limits()) -> Upload:
    """The typed upload, or UploadInvalid naming each bad field (fast path first)."""
    try:
        upload = _DECODER.decode(body)
    except msgspec.DecodeError as exc:
        if isinstance(exc, msgspec.ValidationError):
            raise UploadInvalid(collect_errors(body, limits)) from None
        raise UploadInvalid([_not_json(exc)]) from None
    except RecursionError as exc:   # nested deeper than msgspec decodes
        raise UploadInvalid([_not_json(exc)]) from None
    errors = _semantic_errors(upload, limits)
    if errors:
        raise UploadInvalid(errors)
    return upload


def _not_json(exc: Exception) -> FieldError:
    return FieldError(loc="$", message=f"not valid JSON: {exc}")


def collect_errors(body: bytes, limits: Limits = Limits()) -> list[FieldError]:
    """Every schema error of a body that failed the fast path: each block and hit checked alone.

    A body that no typed decode can read (a number out of range, nesting deeper than the decoder
    goes) is one error at "$".
    """
    try:
        raw = _RAW.decode(body)
    except (msgspec.DecodeError, RecursionError) as exc:
        return [_not_json(exc)]
    errors: list[FieldError] = []
    if not isinstance(raw, dict):
        return [_field_error("$", msgspec.ValidationError(f"Expected `object`, got `{type(raw).__name__}`"))]
    blocks = raw.get("blocks")
    top = raw
    if isinstance(blocks, list) and blocks:  # the blocks are checked one by one below
        top = {**raw, "blocks": [{"start_ms": T_MIN_MS, "end_ms": T_MIN_MS, "hits": []}]}
    _try(top, Upload, "$", errors)
    if isinstance(blocks, list):
        if len(blocks) > limits.max_blocks:
            return errors + [FieldError("$.blocks", f"more than {limits.max_blocks} blocks", "blocks")]
        for i, block in enumerate(blocks):
            if len(errors) >= limits.max_errors:
                break
            base = f"$.blocks[{i}]"
            if not isinstance(block, dict):
                _try(block, Block, base, errors)
                continue
            hits = block.get("hits")
            head = {**block, "hits": []} if "hits" in block else block
            _try(head, Block, base, errors)
            if isinstance(hits, list):
                for j, hit in enumerate(hits):
                    if len(errors) >= limits.max_errors:
                        break
                    _try(hit, Hit, f"{base}.hits[{j}]", errors)
            elif hits is not None:
                errors.append(FieldError(f"{base}.hits", "Expected `array`", "hits", block=i))
    if not errors:  # each part alone is fine; the typed whole was not (should not happen)
        try:
            _DECODER.decode(body)
        except msgspec.ValidationError as exc:
            errors.append(_field_error("$", exc))
    return errors[: limits.max_errors]


def _try(obj: Any, typ: type, base: str, errors: list[FieldError]) -> None:
    try:
        msgspec.convert(obj, typ)
    except msgspec.ValidationError as exc:
        errors.append(_field_error(base, exc))


def _field_error(base: str, exc: msgspec.ValidationError) -> FieldError:
    m = _AT.match(str(exc))
    message, sub = m.group("msg"), (m.group("path") or "$")
    loc = base + sub[1:]
    named = re.search(r"field `([^`]+)`", message)
    field = named.group(1) if named else None
    if named and "missing required" in message or named and "unknown field" in message:
        loc = f"{loc}.{field}"
    elif field is None:
        last = re.search(r"\.([A-Za-z_][A-Za-z0-9_]*)(?:\[\d+\])*$", loc)
        field = last.group(1) if last else None
    idx = dict(_IDX.findall(loc))
    return FieldError(loc=loc, message=message, field=field,
                      block=int(idx["blocks"]) if "blocks" in idx else None,
                      hit=int(idx["hits"]) if "hits" in idx else None)


def _semantic_errors(upload: Upload, limits: Limits) -> list[FieldError]:
    """Rules a type cannot say: counts, end after start, one (t_ms, t_ns) per hit in a block."""
    errors: list[FieldError] = []
    if len(upload.blocks) > limits.max_blocks:
        return [FieldError("$.blocks", f"more than {limits.max_blocks} blocks", "blocks")]
    n_hits = sum(len(b.hits) for b in upload.blocks)
    if n_hits > limits.max_hits:
        return [FieldError("$.blocks", f"{n_hits} hits, more than {limits.max_hits} in one upload", "hits")]
    for i, b in enumerate(upload.blocks):
        if b.end_ms < b.start_ms:
            errors.append(FieldError(f"$.blocks[{i}].end_ms", "end_ms is before start_ms", "end_ms", block=i))
        if len({(h.t_ms, h.t_ns) for h in b.hits}) != len(b.hits):
            errors.extend(_duplicate_hits(b, i))
        if len(errors) >= limits.max_errors:
            break
    return errors[: limits.max_errors]


def _duplicate_hits(b: Block, i: int) -> list[FieldError]:
    seen: dict[tuple[int, int | None], int] = {}
    out = []
    for j, h in enumerate(b.hits):
        first = seen.setdefault((h.t_ms, h.t_ns), j)
        if first != j:
            out.append(FieldError(f"$.blocks[{i}].hits[{j}].t_ns",
                                  f"same (t_ms, t_ns) as hits[{first}]: set t_ns to tell them apart",
                                  "t_ns", block=i, hit=j))
    return out


def upload_stats(upload: Upload) -> tuple[int, int]:
    """(blocks, hits) of a validated upload: what the 202 reply reports."""
    return len(upload.blocks), sum(len(b.hits) for b in upload.blocks)


def run_uuid_of(block: Block, device_id: str) -> str:
    """The block's run id, or else the device's default run.

    Never derived from the upload: a client that lost a reply and re-sends the same blocks under
    a new upload_id must produce the same hit ids (a hit's identity is its device, run, block
    and time), or the index would hold its hits twice.
    """
    return str(block.run_id or uuid.uuid5(NAMESPACE, device_id))


def decode_upload(body: bytes, device_id: str) -> DecodedChunk:
    """Normalized records of a stored JSON upload, the same shape the protobuf decoder yields.

    `device_id` is the registered device's internal id (never put in a document). Raises
    UploadInvalid for a body that no longer validates (the indexer quarantines it).
    """
    upload = validate_upload(body, Limits(max_blocks=2**31, max_hits=2**31))
    det = upload.detector or Detector()
    runs: dict[str, RunRecord] = {}
    exposures: list[ExposureRecord] = []
    for index, block in enumerate(upload.blocks):
        run_uuid = run_uuid_of(block, device_id)
        if run_uuid not in runs:
            runs[run_uuid] = RunRecord(run_uuid, block.start_ms, det.build, None, det.model,
                                       {"detector-kind": det.kind}, {}, None, None, False)
        xbn = block.xbn if block.xbn is not None else index
        xb = _exposure(block, run_uuid, xbn, det)
        xb.events = [_event(h, block, run_uuid, xbn) for h in block.hits]
        xb.n_hits = len(xb.events)
        exposures.append(xb)
    return DecodedChunk(device_id=device_id, camera_id=None, header_run_uuid=None, client="json",
                        header_build=det.build, version_code=None, runs=list(runs.values()),
                        exposures=exposures, calibrations=[], precalibrations=[])


def _exposure(b: Block, run_uuid: str, xbn: int, det: Detector) -> ExposureRecord:
    live_s = b.live_s if b.live_s is not None else (b.end_ms - b.start_ms) / 1000.0
    none = dict.fromkeys(_XB_ABSENT)
    loc = b.location or _NO_FIX
    return ExposureRecord(
        run_uuid=run_uuid, run_uuid_from_header=False, xbn=xbn, state="DATA",
        start_ms=b.start_ms, end_ms=b.end_ms, lat=loc.lat, lon=loc.lon, altitude=loc.altitude,
        accuracy=loc.accuracy, stage_names=[], stage_config=[], stage_processed=[], stage_pass=[],
        stage_skip=[], aborted=b.aborted, live_s=live_s, hist=[], build=det.build,
        model=det.model, **none,
    )


_XB_ABSENT = (
    "start_nano", "end_nano", "start_ntp_ms", "end_ntp_ms", "fixtime_ms", "battery_temp_c",
    "battery_end_temp_c", "res_x", "res_y", "l1_threshold", "l2_threshold", "l2_task",
    "l0_processed", "l0_pass", "l0_skip", "l1_processed", "l1_pass", "l1_skip", "l2_processed",
    "l2_pass", "l2_skip", "l0_conf", "l1_conf", "l2_conf", "frames_dropped", "hot_hash",
    "wgt_hash", "precal_uuid",
)
_EV_ABSENT = dict.fromkeys((
    "t_ntp_ms", "t_target_ns", "exposure_ns", "fixtime_ms", "pressure", "orient_x", "orient_y",
    "orient_z", "avg", "std", "zero_bias",
))


class _NoFix:
    lat = lon = altitude = accuracy = None


_NO_FIX = _NoFix()


def _event(h: Hit, b: Block, run_uuid: str, xbn: int) -> EventRecord:
    loc = h.location or b.location or _NO_FIX
    pixels = [(p[0], p[1], p[2]) for p in h.pixels] if h.pixels else None
    max_val = h.amplitude
    if max_val is None and pixels:
        max_val = max(p[2] for p in pixels)
    return EventRecord(
        run_uuid=run_uuid, xbn=xbn, t_ms=h.t_ms, t_nano=h.t_ns,
        lat=loc.lat, lon=loc.lon, altitude=loc.altitude, accuracy=loc.accuracy,
        l2_format="pixels" if pixels else None,
        hits=[(p[0], p[1]) for p in pixels] if pixels else [],
        n_pix=len(pixels) if pixels else 0, max_val=max_val, pixels=pixels, is_hit=True,
        **_EV_ABSENT,
    )

"""Normalized records decoded from one /submit body: plain Python scalars, no protobuf types.

Conventions (docs/wire-protocol.md sections 5 and 6): times are int Unix ms (UTC) or int ns for the
monotonic `*_nano` clocks; positions are WGS84 degrees; anything the phone did not send, or sent
as a documented "unknown" marker (0/0 position without accuracy, battery 4294967295, pressure 0),
is None. Classes use slots and are built positionally by the decoder, because the indexer makes
one EventRecord per hit on its hot path.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class RunRecord:
    """One RunConfig: a run is one UUID + camera."""

    run_uuid: str                 # 8-4-4-4-12 text, from id_hi:id_lo (or the Run-id header)
    start_ms: int | None
    build: str | None             # crayfis_build (versionName), else the Crayfis-version header
    manufacturer: str | None      # hw_params build-manufacturer
    model: str | None             # hw_params build-model
    hw_params: dict[str, str]     # all key=value pairs of hw_params
    os_params: dict[str, str]     # all key=value pairs of os_params
    camera_params: str | None     # raw text ("Size: WxH, key: value, ...")
    camera_id: int | None         # RunConfig.camera_id, else the Camera-id header
    uuid_from_header: bool        # True when id_hi/id_lo looked truncated and Run-id was used


@dataclass(slots=True)
class ZeroBiasRecord:
    """The random 10x10 window L0 attached to a frame (raw values, row-major)."""

    x_min: int
    y_min: int
    values: list[int]


@dataclass(slots=True)
class EventRecord:
    """One Event of a DATA exposure block."""

    run_uuid: str | None
    xbn: int | None               # the parent XB's xbn (part of the dedup key)
    t_ms: int | None              # Event.timestamp: phone wall clock, Unix ms
    t_nano: int | None            # monotonic ns (only differences are meaningful)
    t_ntp_ms: int | None          # SNTP-corrected ms, builds before v0.8.0 only (junk later)
    t_target_ns: int | None       # sensor exposure start, device clock ns
    exposure_ns: int | None       # sensor exposure time, ns
    lat: float | None             # the event's own fix; None when 0/0 without accuracy
    lon: float | None
    altitude: float | None
    accuracy: float | None        # m, 68 % radius
    fixtime_ms: int | None
    pressure: float | None        # hPa; None when 0 (no barometer)
    orient_x: float | None        # azimuth, rad
    orient_y: float | None        # pitch, rad
    orient_z: float | None        # roll, rad
    avg: float | None             # frame mean weighted pixel value
    std: float | None
    l2_format: str | None         # "byte_block", "pixels" or None (no L2 payload)
    hits: list[tuple[int, int]]   # L2 hit coordinates (x, y), in wire order
    n_pix: int                    # number of L2 hits
    max_val: int | None           # largest raw value in the L2 payload
    pixels: list[tuple[int, int, int]] | None  # (x, y, val); None when decoded with with_pixels=False
    zero_bias: ZeroBiasRecord | None
    is_hit: bool                  # False for zero-bias random samples without L2 payload


@dataclass(slots=True)
class ExposureRecord:
    """One ExposureBlock (XB): a time slice of one run, with its events and trigger counters."""

    run_uuid: str | None
    run_uuid_from_header: bool    # True when the XB lacked run_id_hi and Run-id was used
    xbn: int | None
    state: str                    # "INIT", "CALIBRATION", "DATA", "PRECALIBRATION"
    start_ms: int | None
    end_ms: int | None
    start_nano: int | None
    end_nano: int | None
    start_ntp_ms: int | None      # builds before v0.8.0 only
    end_ntp_ms: int | None
    lat: float | None             # at XB start; None when 0/0 without accuracy
    lon: float | None
    altitude: float | None
    accuracy: float | None
    fixtime_ms: int | None
    battery_temp_c: float | None  # None when unknown (4294967295)
    battery_end_temp_c: float | None
    res_x: int | None
    res_y: int | None
    l1_threshold: float | None    # L1_thresh (+ L1_prescale on v1.0.x)
    l2_threshold: int | None
    l2_task: str | None           # e.g. "byteblock", "pixels", "default"
    stage_names: list[str]        # per stage, chain order, e.g. ["L0Processor", ...]
    stage_config: list[str]       # raw `config` strings
    stage_processed: list[int]
    stage_pass: list[int]         # L0/quality/L1 count frames, L2 counts pixels
    stage_skip: list[int]
    l0_processed: int | None      # legacy counters (<= 2018), None when not sent
    l0_pass: int | None
    l0_skip: int | None
    l1_processed: int | None
    l1_pass: int | None
    l1_skip: int | None
    l2_processed: int | None
    l2_pass: int | None
    l2_skip: int | None
    l0_conf: str | None
    l1_conf: str | None
    l2_conf: str | None
    frames_dropped: int | None
    aborted: bool
    live_s: float | None          # seconds (docs/wire-protocol.md section 6)
    hist: list[int]
    hot_hash: int | None          # -1 = no map
    wgt_hash: int | None
    precal_uuid: str | None
    build: str | None
    model: str | None
    events: list[EventRecord] = field(default_factory=list)
    n_hits: int = 0               # events that are hits (is_hit)
    n_zero_bias: int = 0          # events carrying a zero-bias square


@dataclass(slots=True)
class CalibrationRecord:
    run_uuid: str | None
    start_ms: int | None
    end_ms: int | None
    hist_maxpixel: list[int]
    hist_pixel: list[int]
    hist_l2pixel: list[int]
    hist_numpixel: list[int]


@dataclass(slots=True)
class PreCalibrationRecord:
    """A per-pixel weight / hot-cell map; keyed by (device, camera, res_x, res_y, hashes)."""

    run_uuid: str | None
    camera_id: int | None         # from the Camera-id header (the record has no camera field)
    end_ms: int | None
    res_x: int | None
    res_y: int | None
    hot_hash: int
    wgt_hash: int
    compressed_weights: bytes     # JPEG of the transposed, downsampled weight map
    compressed_format: str | None
    hotcell: list[int]            # x + res_x * y
    interpolation: int | None
    battery_temp_c: float | None
    precal_config: str | None
    second_hist: list[int]
    precal_uuid: str | None


@dataclass(slots=True)
class DecodedChunk:
    """Everything one /submit body held, plus what its headers said."""

    device_id: str | None         # raw Device-id header: internal only, never put in a document
    camera_id: int | None
    header_run_uuid: str | None
    client: str | None            # "a" (<= v0.10.1) or "b" (>= v0.11.0)
    header_build: str | None      # versionName from Crayfis-version
    version_code: int | None
    runs: list[RunRecord]
    exposures: list[ExposureRecord]
    calibrations: list[CalibrationRecord]
    precalibrations: list[PreCalibrationRecord]
    n_precal_skipped: int = 0     # PreCalibrationResults with absent/negative hashes

    @property
    def events(self) -> list[EventRecord]:
        return [ev for xb in self.exposures for ev in xb.events]

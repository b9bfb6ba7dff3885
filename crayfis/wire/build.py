"""Build DataChunks the way the v1.0.4 app does (for the phone simulator and for tests).

Every helper returns a protobuf message; `data_chunk(...)` serializes. Units follow the wire:
Unix ms, ns for the monotonic clocks, degrees, 0.1 degC for battery temperatures (pass degC here,
None for unknown), and the fractional L1 threshold split into L1_thresh + L1_prescale.
"""
from __future__ import annotations

import math
import uuid as uuid_mod
from collections.abc import Iterable, Sequence

from crayfis.wire import crayfis_pb2 as pb
from crayfis.wire.byteblock import PixelSource, encode_block
from crayfis.wire.decode import UNKNOWN_TEMP

__all__ = [
    "split_uuid", "run_config", "byte_block", "zero_bias_square", "event", "exposure_block",
    "calibration_result", "precalibration_result", "data_chunk", "submit_headers",
    "V104_STAGES",
]

# Stage chain of a v1.0.4 DATA block (docs/wire-protocol.md section 4, ExposureBlock.config).
V104_STAGES = ("L0Processor", "QualityProcessor", "L1Processor", "L2Processor")


def split_uuid(run_uuid: str | uuid_mod.UUID) -> tuple[int, int]:
    """(hi, lo) unsigned 64-bit halves of a UUID, as RunConfig.id_hi/id_lo carry them."""
    n = (run_uuid if isinstance(run_uuid, uuid_mod.UUID) else uuid_mod.UUID(str(run_uuid))).int
    return n >> 64, n & 0xFFFFFFFFFFFFFFFF


def run_config(run_uuid, *, start_ms: int, build: str = "v1.0.4", manufacturer: str = "Google",
               model: str = "Pixel 4a", os_release: str = "12", sdk_int: int = 31,
               camera_id: int = 0, res: tuple[int, int] = (1920, 1080)) -> pb.RunConfig:
    hi, lo = split_uuid(run_uuid)
    return pb.RunConfig(
        id_hi=hi, id_lo=lo, start_time=start_ms, crayfis_build=build,
        hw_params=f"build-manufacturer={manufacturer};build-model={model};",
        os_params=f"version-release={os_release};version-sdk-int={sdk_int};",
        camera_params=f"Size: {res[0]}x{res[1]}, ", camera_id=camera_id,
    )


def byte_block(hits: Sequence[tuple[int, int]], values: PixelSource, res_x: int, res_y: int,
               side_length: int = 5) -> pb.ByteBlock:
    """The app's ByteBlock for L2 hits `hits` [(x, y)], values read from `values` (see encode_block)."""
    xs = [int(h[0]) for h in hits]
    ys = [int(h[1]) for h in hits]
    vals = encode_block(xs, ys, values, side_length, res_x, res_y)
    return pb.ByteBlock(x=xs, y=ys, val=vals, side_length=side_length)


def zero_bias_square(x_min: int, y_min: int, values: Iterable[int]) -> pb.ZeroBiasSquare:
    return pb.ZeroBiasSquare(x_min=x_min, y_min=y_min, val=[int(v) for v in values])


def event(timestamp_ms: int, *, xbn: int, timestamp_nano: int | None = None,
          hits: Sequence[tuple[int, int]] = (), values: PixelSource | None = None,
          res: tuple[int, int] = (1920, 1080), side_length: int = 5,
          lat: float | None = None, lon: float | None = None, accuracy: float | None = None,
          altitude: float | None = None, fixtime_ms: int | None = None,
          pressure: float | None = None, orient: tuple[float, float, float] | None = None,
          avg: float | None = None, std: float | None = None,
          exposure_ns: int | None = 33_000_000, timestamp_target: int | None = None,
          zero_bias: pb.ZeroBiasSquare | None = None) -> pb.Event:
    """A v1.0.4 Event: L2 output as a byte_block when `hits` is non-empty."""
    ev = pb.Event(timestamp=timestamp_ms, xbn=xbn)
    if timestamp_nano is not None:
        ev.timestamp_nano = timestamp_nano
    if hits:
        if values is None:
            raise ValueError("hits need pixel values")
        ev.byte_block.CopyFrom(byte_block(hits, values, res[0], res[1], side_length))
    if lat is not None and lon is not None:
        ev.gps_lat, ev.gps_lon = lat, lon
    for name, v in (("gps_accuracy", accuracy), ("gps_altitude", altitude), ("gps_fixtime", fixtime_ms),
                    ("pressure", pressure), ("avg", avg), ("std", std),
                    ("exposure_time", exposure_ns), ("timestamp_target", timestamp_target)):
        if v is not None:
            setattr(ev, name, v)
    if orient is not None:
        ev.orient_x, ev.orient_y, ev.orient_z = orient
    if zero_bias is not None:
        ev.zero_bias.CopyFrom(zero_bias)
    return ev


def _battery(temp_c: float | None) -> int:
    """0.1 degC as the app writes it: a Java int in a uint32 (negative values wrap)."""
    return UNKNOWN_TEMP if temp_c is None else int(round(temp_c * 10)) & 0xFFFFFFFF


def exposure_block(run_uuid, *, xbn: int, start_ms: int, end_ms: int,
                   events: Iterable[pb.Event] = (), state: str = "DATA",
                   lat: float | None = None, lon: float | None = None, accuracy: float | None = None,
                   altitude: float | None = None, fixtime_ms: int | None = None,
                   l1_threshold: float | None = 11.37, l2_threshold: int | None = 11,
                   l2_task: str = "byteblock", stages: Sequence[str] = V104_STAGES,
                   processed: Sequence[int] = (), passed: Sequence[int] = (), skipped: Sequence[int] | None = None,
                   frames_dropped: int = 0, aborted: bool = False, res: tuple[int, int] = (1920, 1080),
                   battery_temp_c: float | None = None, battery_end_temp_c: float | None = None,
                   start_nano: int | None = None, end_nano: int | None = None,
                   hist: Sequence[int] = (), hot_hash: int | None = None,
                   wgt_hash: int | None = None) -> pb.ExposureBlock:
    """A v1.0.4 ExposureBlock with per-stage config/processed/pass/skip.

    `l1_threshold` 11.37 is sent as L1_thresh 11 + L1_prescale 0.37; `passed` is the `pass` list
    (a Python keyword on the message).
    """
    hi, lo = split_uuid(run_uuid)
    xb = pb.ExposureBlock(
        run_id=lo, run_id_hi=hi, xbn=xbn, start_time=start_ms, end_time=end_ms,
        daq_state=pb.ExposureBlock.State.Value(state), aborted=aborted, frames_dropped=frames_dropped,
        res_x=res[0], res_y=res[1],
        battery_temp=_battery(battery_temp_c), battery_end_temp=_battery(battery_end_temp_c),
    )
    xb.events.extend(events)
    if lat is not None and lon is not None:
        xb.gps_lat, xb.gps_lon = lat, lon
    for name, v in (("gps_accuracy", accuracy), ("gps_altitude", altitude), ("gps_fixtime", fixtime_ms),
                    ("start_time_nano", start_nano), ("end_time_nano", end_nano),
                    ("L2_thresh", l2_threshold), ("hot_hash", hot_hash), ("wgt_hash", wgt_hash)):
        if v is not None:
            setattr(xb, name, v)
    if l1_threshold is not None:
        whole = math.floor(l1_threshold)
        xb.L1_thresh = int(whole)
        xb.L1_prescale = l1_threshold - whole
    configs = {
        "L0Processor": "L0Processor: default; prescale = 0.001",
        "QualityProcessor": "QualityProcessor: facedown",
        "L1Processor": f"L1Processor: default; l1thresh = {l1_threshold}",
        "L2Processor": f"L2Processor: {l2_task}; npix = 120; radius = 2",
        "PreCalibrator": "PreCalibrator: stats; maxframes = 25000",
    }
    xb.config.extend(configs.get(s, s) for s in stages)
    xb.processed.extend(processed)
    getattr(xb, "pass").extend(passed)
    xb.skip.extend(skipped if skipped is not None else [0] * len(stages))
    xb.hist.extend(hist)
    return xb


def calibration_result(run_uuid, *, end_ms: int, hist_maxpixel: Sequence[int]) -> pb.CalibrationResult:
    hi, lo = split_uuid(run_uuid)
    return pb.CalibrationResult(run_id=lo, run_id_hi=hi, end_time=end_ms, hist_maxpixel=list(hist_maxpixel))


def precalibration_result(run_uuid, *, end_ms: int, res: tuple[int, int], hot_hash: int, wgt_hash: int,
                          weights_jpeg: bytes, hotcell: Sequence[int] = (), interpolation: int = 2,
                          battery_temp_c: float | None = None, second_hist: Sequence[int] = (),
                          precal_config: str = ("stats; maxframes = 25000; grid_size = 1500 -> secondmax; "
                                                "maxframes = 50000"),
                          ) -> pb.PreCalibrationResult:
    hi, lo = split_uuid(run_uuid)
    pr = pb.PreCalibrationResult(
        run_id=lo, run_id_hi=hi, end_time=end_ms, res_x=res[0], res_y=res[1],
        hot_hash=hot_hash, wgt_hash=wgt_hash, compressed_weights=weights_jpeg, compressed_format=".jpeg",
        hotcell=list(hotcell), interpolation=interpolation, second_hist=list(second_hist),
        precal_config=precal_config,
    )
    if battery_temp_c is not None:
        pr.battery_temp = _battery(battery_temp_c)
    return pr


def data_chunk(run_configs: Iterable[pb.RunConfig] = (), exposure_blocks: Iterable[pb.ExposureBlock] = (),
               calibration_results: Iterable[pb.CalibrationResult] = (),
               precalibration_results: Iterable[pb.PreCalibrationResult] = ()) -> bytes:
    """Serialized DataChunk: the exact /submit body."""
    chunk = pb.DataChunk()
    chunk.run_configs.extend(run_configs)
    chunk.exposure_blocks.extend(exposure_blocks)
    chunk.calibration_results.extend(calibration_results)
    chunk.precalibration_results.extend(precalibration_results)
    return chunk.SerializeToString()


def submit_headers(device_id: str, run_uuid, *, camera_id: int | None = 0, build: str = "v1.0.4",
                   version_code: int = 256, client: str = "b") -> dict[str, str]:
    """The request headers a phone sends with a /submit body."""
    headers = {
        "Content-type": "application/octet-stream",
        "Device-id": device_id,
        "Run-id": str(uuid_mod.UUID(str(run_uuid))),
        "Crayfis-version": f"{client} {build}",
        "Crayfis-version-code": str(version_code),
    }
    if camera_id is not None:
        headers["Camera-id"] = str(camera_id)
    return headers

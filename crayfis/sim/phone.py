"""What a v1.0.4 phone writes: its fixed profile and the protobuf records of one run.

Records follow docs/wire-protocol.md sections 4-6 and are built with crayfis.wire.build. Values the
backend only displays (pixel values, histograms, temperatures, orientation) are plausible
random draws; values it computes with (timestamps, positions, frame counters, live time) are
consistent with the simulated hits and live intervals.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np

from crayfis.definition import DAY_MS, HOUR_MS
from crayfis.sim.fleet import Fleet
from crayfis.wire import build
from crayfis.wire import crayfis_pb2 as pb

BUILD = "v1.0.4"
VERSION_CODE = 256
RES = (1920, 1080)
CAMERA_ID = 0
CALIBRATION_FRAMES = 1000  # hist_maxpixel over 1000 frames sets L1 (section 6)
DEAD_TIME = 0.01
MODELS = (("Google", "Pixel 4a", "12", 31), ("Google", "Pixel 3", "11", 30),
          ("samsung", "SM-G973F", "11", 30), ("samsung", "SM-A515F", "12", 31),
          ("motorola", "moto g(7) power", "10", 29), ("OnePlus", "GM1913", "11", 30),
          ("Xiaomi", "Redmi Note 8 Pro", "10", 29), ("LGE", "LM-G710", "10", 29))


@dataclass(frozen=True)
class PhoneProfile:
    """A phone's fixed traits: hardware, L1 threshold, monotonic clock origin, altitude."""

    device_id: str
    manufacturer: str
    model: str
    os_release: str
    sdk_int: int
    l1_threshold: float
    boot_ms: int  # phone-clock ms when the monotonic (nano) clock read 0
    altitude_m: float
    battery_c: float
    azimuth_rad: float  # orientation of the phone lying on its back

    @property
    def l2_threshold(self) -> int:
        return int(np.floor(self.l1_threshold))


def make_profiles(fleet: Fleet, start_ms: int, rng: np.random.Generator) -> list[PhoneProfile]:
    n = fleet.n
    model = rng.integers(0, len(MODELS), n)
    l1 = np.round(rng.uniform(6.0, 30.0, n), 2)
    boot = start_ms - rng.integers(HOUR_MS, 30 * DAY_MS, n)
    alt = rng.uniform(370.0, 500.0, n)
    batt = rng.normal(31.0, 3.0, n)
    az = rng.uniform(-np.pi, np.pi, n)
    return [PhoneProfile(fleet.device_id[i], *MODELS[model[i]], float(l1[i]), int(boot[i]),
                         float(alt[i]), float(batt[i]), float(az[i])) for i in range(n)]


def new_run_uuid(rng: np.random.Generator) -> str:
    """A random (version 4) UUID drawn from the Generator, so runs are reproducible."""
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def run_config_record(p: PhoneProfile, run_uuid: str, start_ms: int) -> pb.RunConfig:
    return build.run_config(run_uuid, start_ms=start_ms, build=BUILD, manufacturer=p.manufacturer,
                            model=p.model, os_release=p.os_release, sdk_int=p.sdk_int,
                            camera_id=CAMERA_ID, res=RES)


def calibration_records(p: PhoneProfile, run_uuid: str, xbn: int, start_ms: int, end_ms: int,
                        lat: float, lon: float, accuracy: float,
                        rng: np.random.Generator) -> tuple[pb.ExposureBlock, pb.CalibrationResult]:
    """The CALIBRATION block (no events) and the CalibrationResult that sets L1."""
    frames = CALIBRATION_FRAMES
    top = int(np.ceil(p.l1_threshold)) + 4
    weights = np.exp(-np.abs(np.arange(256) - p.l1_threshold + 3) / 2.0)
    weights[top:] = 0.0
    hist = rng.multinomial(frames, weights / weights.sum())
    xb = build.exposure_block(
        run_uuid, xbn=xbn, start_ms=start_ms, end_ms=end_ms, state="CALIBRATION",
        lat=lat, lon=lon, accuracy=accuracy, altitude=p.altitude_m, fixtime_ms=start_ms - 2000,
        l1_threshold=None, l2_threshold=None, stages=build.V104_STAGES[:3],
        processed=[frames, frames, frames], passed=[int(rng.poisson(1.0)), frames, frames],
        res=RES, battery_temp_c=round(p.battery_c, 1), battery_end_temp_c=round(p.battery_c, 1),
        start_nano=(start_ms - p.boot_ms) * 1_000_000, end_nano=(end_ms - p.boot_ms) * 1_000_000)
    cal = build.calibration_result(run_uuid, end_ms=end_ms, hist_maxpixel=hist.tolist())
    return xb, cal


@dataclass
class BlockHits:
    """The events of one DATA block: hits (phone-clock ms, reported position) and frame count."""

    t_ms: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    accuracy: np.ndarray
    n_frames: int
    zero_bias_t_ms: np.ndarray  # frames sampled by L0 (may coincide with a hit frame)


def data_block_record(p: PhoneProfile, run_uuid: str, xbn: int, start_ms: int, end_ms: int,
                      lat: float, lon: float, accuracy: float, hits: BlockHits, aborted: bool,
                      rng: np.random.Generator) -> pb.ExposureBlock:
    """A DATA ExposureBlock whose events are exactly ``hits`` (+ zero-bias samples)."""
    res_x, res_y = RES
    n_frames = hits.n_frames
    dropped = int(rng.poisson(n_frames * 5e-4))
    quality_fail = int(rng.binomial(n_frames, 2e-4))
    times = np.union1d(hits.t_ms, hits.zero_bias_t_ms)
    n_ev = len(times)
    hit_row = {int(t): i for i, t in enumerate(hits.t_ms)}
    zero_bias = {int(t) for t in hits.zero_bias_t_ms}
    # Per-event draws in bulk (one Generator call per quantity, not per event).
    pool = iter(rng.integers(0, p.l2_threshold + 1, size=80 * max(n_ev, 1)).tolist())
    nano_frac = rng.integers(0, 10**6, n_ev).tolist()
    fix_age = rng.integers(0, 60_000, n_ev).tolist()
    tilt = rng.normal(0.0, 0.02, (n_ev, 2)).tolist()
    avg = np.abs(rng.normal(1.5, 0.3, n_ev)).tolist()
    std = np.abs(rng.normal(1.2, 0.2, n_ev)).tolist()
    hists = _frame_hists(p, n_ev + 1, rng)
    clusters = _hit_clusters(p, n_ev, rng)
    exposure_ns = int(1e9 / 30 * (1 - DEAD_TIME))
    events, n_pix_total = [], 0
    for j, t in enumerate(times.tolist()):
        i = hit_row.get(t)
        ev_lat, ev_lon, ev_acc = ((hits.lat[i], hits.lon[i], hits.accuracy[i]) if i is not None
                                  else (lat, lon, accuracy))
        kw = {}
        if i is not None:
            xy, peak = clusters[j]
            n_pix_total += len(xy)
            kw = {"hits": xy, "values": _pixel_source(peak, pool)}
        if t in zero_bias:
            kw["zero_bias"] = build.zero_bias_square(
                int(rng.integers(0, res_x - 10)), int(rng.integers(0, res_y - 10)),
                rng.integers(0, p.l2_threshold + 1, 100).tolist())
        ev = build.event(
            t, xbn=xbn, timestamp_nano=(t - p.boot_ms) * 1_000_000 + nano_frac[j],
            res=RES, lat=float(ev_lat), lon=float(ev_lon), accuracy=float(ev_acc),
            altitude=p.altitude_m, fixtime_ms=t - fix_age[j], pressure=0.0,
            orient=(p.azimuth_rad, tilt[j][0], tilt[j][1]), avg=avg[j], std=std[j],
            exposure_ns=exposure_ns, timestamp_target=(t - p.boot_ms - 40) * 1_000_000, **kw)
        ev.timestamp_ntp = t - p.boot_ms  # v0.8.0+: ms since boot (junk, as the app sends)
        ev.hist.extend(hists[j])
        events.append(ev)
    n_l1 = len(hits.t_ms)
    q_pass = n_frames - quality_fail
    temp = round(p.battery_c + float(rng.normal(0, 0.5)), 1)
    return build.exposure_block(
        run_uuid, xbn=xbn, start_ms=start_ms, end_ms=end_ms, events=events, state="DATA",
        lat=lat, lon=lon, accuracy=accuracy, altitude=p.altitude_m, fixtime_ms=start_ms - 5000,
        l1_threshold=p.l1_threshold, l2_threshold=p.l2_threshold, l2_task="byteblock",
        processed=[n_frames, n_frames, q_pass, n_l1],
        passed=[len(hits.zero_bias_t_ms), q_pass, n_l1, n_pix_total],
        frames_dropped=dropped, aborted=aborted, res=RES, battery_temp_c=temp,
        battery_end_temp_c=round(temp + abs(float(rng.normal(0.3, 0.3))), 1),
        start_nano=(start_ms - p.boot_ms) * 1_000_000, end_nano=(end_ms - p.boot_ms) * 1_000_000,
        hist=[v * n_frames for v in hists[-1]], hot_hash=-1, wgt_hash=-1)


def _hit_clusters(p: PhoneProfile, n: int, rng: np.random.Generator):
    """n L2 clusters of 1 + Poisson(0.2) pixels within 2 px (about 1.2 per event, as observed):
    [(hit coordinates, {coordinate: raw value above L2})]."""
    size = 1 + np.minimum(rng.poisson(0.2, n), 4)
    centre = rng.integers(0, RES, (n, 2)).tolist()
    step = rng.integers(-2, 3, (n, 8, 2)).tolist()
    peak = rng.integers(p.l2_threshold + 1, 256, (n, 5)).tolist()
    out = []
    for i, k in enumerate(size.tolist()):
        x0, y0 = centre[i]
        xy = [(x0, y0)]
        for dx, dy in step[i]:
            if len(xy) == k:
                break
            c = (min(max(x0 + dx, 0), RES[0] - 1), min(max(y0 + dy, 0), RES[1] - 1))
            if c not in xy:
                xy.append(c)
        out.append((xy, dict(zip(xy, peak[i]))))
    return out


def _pixel_source(peak: dict, pool):
    return lambda x, y: peak[(x, y)] if (x, y) in peak else next(pool)


def _frame_hists(p: PhoneProfile, n: int, rng: np.random.Generator) -> list[list[int]]:
    """n weighted-pixel histograms of one frame, bins 0..ceil(L1): steeply falling counts."""
    bins = np.arange(int(np.ceil(p.l1_threshold)) + 1)
    expected = 2_073_600 * 0.6 * 0.4 ** bins
    return rng.poisson(expected, (n, bins.size)).tolist()

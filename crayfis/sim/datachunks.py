"""Turn simulated hits into the /submit uploads a v1.0.4 phone would send.

Each live interval of a phone is one run: RunConfig, a CALIBRATION block of 1000 frames just
before the interval, the CalibrationResult, then 180 s DATA blocks covering the interval (the
last one cut short by unplugging, so ``aborted``). Like the app, every record is serialized as
its own DataChunk and appended to the run's cache file; once the file reaches
``datachunk_size`` bytes (default 50 000) it is uploaded, and when the run ends the partial
file goes too. A chunk is therefore at most ``datachunk_size`` plus one record.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from crayfis.sim import phone as ph
from crayfis.sim.fleet import ACCURACY_TO_SIGMA, Fleet
from crayfis.sim.network import SimResult
from crayfis.sim.projection import offset_latlon
from crayfis.wire import build

DATACHUNK_SIZE = 50_000
XB_PERIOD_MS = 180_000
ZERO_BIAS_PRESCALE = 0.001
UPLOAD_DELAY_MS = 1_000  # a full file goes out about this long after its last record


@dataclass
class Upload:
    """One POST /submit: body, headers, and when (phone clock) the app would send it."""

    device_id: str
    run_uuid: str
    body: bytes
    headers: dict[str, str]
    send_ms: int
    n_events: int  # events in the body
    n_hits: int  # events with L2 payload (the hits)


@dataclass
class ChunkBuffer:
    """The app's cache file of one run: append records, upload at datachunk_size."""

    device_id: str
    run_uuid: str
    datachunk_size: int = DATACHUNK_SIZE
    _parts: list[bytes] = field(default_factory=list)
    _size: int = 0
    _events: int = 0
    _hits: int = 0
    opened_ms: int | None = None

    def add(self, record, at_ms: int, n_events: int = 0, n_hits: int = 0) -> Upload | None:
        """Append one record (RunConfig, ExposureBlock or CalibrationResult); the upload if full."""
        kind = {"RunConfig": "run_configs", "ExposureBlock": "exposure_blocks",
                "CalibrationResult": "calibration_results"}[type(record).__name__]
        data = build.data_chunk(**{kind: [record]})
        if self.opened_ms is None:
            self.opened_ms = at_ms
        self._parts.append(data)
        self._size += len(data)
        self._events += n_events
        self._hits += n_hits
        if self._size >= self.datachunk_size:
            return self.flush(at_ms + UPLOAD_DELAY_MS)
        return None

    def flush(self, at_ms: int) -> Upload | None:
        """Upload whatever the file holds (run end, or max age in realtime mode)."""
        if not self._parts:
            return None
        up = Upload(self.device_id, self.run_uuid, b"".join(self._parts),
                    build.submit_headers(self.device_id, self.run_uuid, camera_id=ph.CAMERA_ID,
                                         build=ph.BUILD, version_code=ph.VERSION_CODE),
                    at_ms, self._events, self._hits)
        self._parts, self._size, self._events, self._hits = [], 0, 0, 0
        self.opened_ms = None
        return up

    @property
    def size(self) -> int:
        return self._size


@dataclass
class PhoneHits:
    """One phone's hits in phone-clock order (columns of the hit table)."""

    t_ms: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    accuracy: np.ndarray


class RunRecorder:
    """One run of one phone, recorded as the app does: call ``start`` once, then ``advance``
    with the phone's hits as time passes; uploads come back as cache files fill or the run ends.

    The run covers the live interval [start_ms, end_ms): 180 s DATA blocks from start_ms, the
    last one cut at end_ms (aborted); RunConfig and the CALIBRATION records come first.
    """

    def __init__(self, fleet: Fleet, origin_ms: int, device: int, profile: ph.PhoneProfile,
                 start_ms: int, end_ms: int, rng: np.random.Generator, *,
                 datachunk_size: int = DATACHUNK_SIZE, xb_period_ms: int = XB_PERIOD_MS,
                 zero_bias_prescale: float = ZERO_BIAS_PRESCALE):
        self.fleet, self.origin_ms, self.device, self.profile = fleet, origin_ms, device, profile
        self.start_ms, self.end_ms, self.rng = start_ms, end_ms, rng
        self.xb_period_ms, self.zero_bias_prescale = xb_period_ms, zero_bias_prescale
        self.run_uuid = ph.new_run_uuid(rng)
        self.buffer = ChunkBuffer(profile.device_id, self.run_uuid, datachunk_size)
        self.xbn = 1
        self.xb_start = start_ms
        self.finished = False

    def start(self) -> list[Upload]:
        """RunConfig, the CALIBRATION block of 1000 frames before start_ms, CalibrationResult."""
        calib_ms = int(round(ph.CALIBRATION_FRAMES * self.fleet.frame_ms))
        run_start = self.start_ms - calib_ms
        out: list[Upload] = []
        self._push(out, ph.run_config_record(self.profile, self.run_uuid, run_start), run_start)
        xb, cal = ph.calibration_records(self.profile, self.run_uuid, self.xbn, run_start,
                                         self.start_ms, *self._fix(), self.rng)
        self.xbn += 1
        self._push(out, xb, self.start_ms)
        self._push(out, cal, self.start_ms)
        return out

    def advance(self, now_ms: int, hits: PhoneHits) -> list[Upload]:
        """Close every DATA block that ended by now_ms; ``hits`` must hold all their hits."""
        out: list[Upload] = []
        while not self.finished:
            b0 = self.xb_start
            b1 = min(b0 + self.xb_period_ms, self.end_ms)
            if b1 > now_ms:
                break
            self._push(out, *self._data_block(b0, b1, hits))
            self.xb_start = b1
            if b1 >= self.end_ms:
                self.finished = True
                last = self.buffer.flush(self.end_ms + 5_000)  # data taking stopped
                if last is not None:
                    out.append(last)
        return out

    def _data_block(self, b0: int, b1: int, hits: PhoneHits):
        fleet, d, origin = self.fleet, self.device, self.origin_ms
        k0 = int(fleet.first_frame_at_or_after(d, b0, origin))
        k1 = int(fleet.first_frame_at_or_after(d, b1, origin))
        n_zb = int(self.rng.poisson(self.zero_bias_prescale * max(k1 - k0, 0)))
        zb_frames = np.unique(self.rng.integers(k0, max(k1, k0 + 1), n_zb))
        zb = fleet.frame_time_ms(d, zb_frames, origin)
        i0, i1 = np.searchsorted(hits.t_ms, [b0, b1])
        block = ph.BlockHits(hits.t_ms[i0:i1], hits.lat[i0:i1], hits.lon[i0:i1],
                             hits.accuracy[i0:i1], max(k1 - k0, 0), zb)
        record = ph.data_block_record(self.profile, self.run_uuid, self.xbn, b0, b1, *self._fix(),
                                      block, aborted=b1 - b0 < self.xb_period_ms, rng=self.rng)
        self.xbn += 1
        return record, b1, len(record.events), int(i1 - i0)

    def _fix(self) -> tuple[float, float, float]:
        """A GPS fix for a block: true position + jitter of the phone's accuracy."""
        acc = float(self.fleet.gps_accuracy_m[self.device])
        d_east, d_north = self.rng.normal(0.0, acc * ACCURACY_TO_SIGMA, 2)
        lat, lon = offset_latlon(self.fleet.lat[self.device], self.fleet.lon[self.device],
                                 d_east, d_north)
        return float(lat), float(lon), float(np.float32(acc))

    def _push(self, out: list[Upload], record, at_ms: int, n_events: int = 0,
              n_hits: int = 0) -> None:
        up = self.buffer.add(record, at_ms, n_events, n_hits)
        if up is not None:
            out.append(up)


def run_uploads(result: SimResult, device: int, profile: ph.PhoneProfile, start_ms: int,
                end_ms: int, hits: PhoneHits, rng: np.random.Generator, **options) -> list[Upload]:
    """All uploads of one run = one live interval [start_ms, end_ms) of ``device``."""
    rec = RunRecorder(result.fleet, result.config.start_ms, device, profile, start_ms, end_ms,
                      rng, **options)
    return rec.start() + rec.advance(end_ms, hits)


def iter_uploads(result: SimResult, rng: np.random.Generator | int | None = None, *,
                 devices: np.ndarray | None = None, datachunk_size: int = DATACHUNK_SIZE,
                 xb_period_ms: int = XB_PERIOD_MS,
                 zero_bias_prescale: float = ZERO_BIAS_PRESCALE) -> Iterator[Upload]:
    """Every upload of every run of the chosen devices (all by default), device by device.

    Sort the result by ``send_ms`` to replay them in the order the network would send them.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    profile_rng, run_rng = rng.spawn(2)
    profiles = ph.make_profiles(result.fleet, result.config.start_ms, profile_rng)
    base = int(run_rng.integers(0, 2**63))
    h = result.hits
    dev = h.column("device_index").to_numpy()
    t = h.column("t_ms").to_numpy()
    order = np.lexsort((t, dev))
    dev_sorted = dev[order]
    cols = {name: h.column(name).to_numpy()[order] for name in ("t_ms", "lat", "lon",
                                                                 "gps_accuracy")}
    live = result.live
    chosen = np.arange(result.fleet.n) if devices is None else np.asarray(devices)
    for d in chosen.tolist():
        r0, r1 = np.searchsorted(dev_sorted, [d, d + 1])
        mine = PhoneHits(cols["t_ms"][r0:r1], cols["lat"][r0:r1], cols["lon"][r0:r1],
                         cols["gps_accuracy"][r0:r1])
        device_rng = np.random.default_rng([base, d])  # same draws whichever devices are chosen
        l0, l1 = np.searchsorted(live.device, [d, d + 1])
        for i in range(l0, l1):
            s, e = int(live.start_ms[i]), int(live.end_ms[i])
            a, b = np.searchsorted(mine.t_ms, [s, e])
            yield from run_uploads(
                result, d, profiles[d], s, e,
                PhoneHits(mine.t_ms[a:b], mine.lat[a:b], mine.lon[a:b], mine.accuracy[a:b]),
                device_rng, datachunk_size=datachunk_size, xb_period_ms=xb_period_ms,
                zero_bias_prescale=zero_bias_prescale)

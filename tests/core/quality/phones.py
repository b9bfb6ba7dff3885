"""Simulated phones for the data-quality tests: a small network of well-behaved v1.0.4 phones
(crayfis.sim: fleet, hits, the app's uploads), a few of them hot (noisy) by the simulator's own
draw, and copies of well-behaved phones altered the way a real phone goes wrong, one fault each:

- ``uncovered``: light reaches the sensor: the app's darkness check refuses most frames and the
  frames that pass are bright and noisy;
- ``without_fix``: location off: no position in any exposure block or event;
- ``poor_fix``: positions with a 400 m accuracy radius;
- ``clock_ahead``: the phone's clock runs ahead of the server's, so every event is dated after
  the upload holding it arrived;
- ``short_blocks``: exposure blocks cut after 30 s instead of the app's 180 s (a phone that keeps
  aborting them);
- a stale calibration needs no alteration: a phone calibrates when its run starts, so any run
  longer than the limit trips it (the tests lower the limit to fit a one-hour run).

Every upload carries the phone-clock time the app would send it (``send_ms``); the server
receives it at that time less the phone's clock lead.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace

from crayfis.definition import MINUTE_MS
from crayfis.sim.config import FleetConfig, ShowerConfig, SimConfig
from crayfis.sim.datachunks import Upload, iter_uploads
from crayfis.sim.network import SimResult, simulate_network
from crayfis.wire import crayfis_pb2 as pb

N_PHONES = 12
HOURS = 1.0
SEED = 5
CLOCK_LEAD_MS = 10 * MINUTE_MS


@dataclass(frozen=True)
class Phone:
    device_id: str
    uploads: tuple[Upload, ...]
    clock_lead_ms: int = 0     # how far the phone's clock is ahead of the server's

    def received_ms(self, upload: Upload) -> int:
        return upload.send_ms - self.clock_lead_ms


@functools.lru_cache(maxsize=4)
def network(start_ms: int, xb_period_ms: int = 180_000) -> tuple[SimResult, dict[str, Phone]]:
    """N_PHONES phones live for HOURS from start_ms; about one in four hot (see ``hot``)."""
    cfg = SimConfig(start_ms=start_ms, hours=HOURS,
                    fleet=FleetConfig(n_phones=N_PHONES, area_km=0.5, duty_cycle="always", rate_per_min=20.0,
                                      hot_fraction=0.25, hot_factor=(6.0, 8.0), gps_accuracy_m=(5.0, 20.0)),
                    showers=ShowerConfig(natural=False))
    result = simulate_network(cfg, SEED)
    by_device: dict[str, list[Upload]] = {}
    for up in iter_uploads(result, SEED, xb_period_ms=xb_period_ms):
        by_device.setdefault(up.device_id, []).append(up)
    return result, {d: Phone(d, tuple(ups)) for d, ups in by_device.items()}


def hot(result: SimResult) -> set[str]:
    return {str(d) for d, is_hot in zip(result.fleet.device_id, result.fleet.hot) if is_hot}


def well_behaved(result: SimResult, phones: dict[str, Phone]) -> list[Phone]:
    return [p for d, p in sorted(phones.items()) if d not in hot(result)]


def _edit(phone: Phone, change: Callable[[pb.DataChunk], None], suffix: str, **extra) -> Phone:
    """A copy of the phone under a Device-id of its own, every upload's DataChunk changed."""
    device_id = phone.device_id[:-len(suffix)] + suffix
    out = []
    for up in phone.uploads:
        chunk = pb.DataChunk.FromString(up.body)
        change(chunk)
        out.append(replace(up, device_id=device_id, body=chunk.SerializeToString(),
                           headers={**up.headers, "Device-id": device_id}))
    return Phone(device_id, tuple(out), **extra)


def _data_blocks(chunk: pb.DataChunk):
    return [xb for xb in chunk.exposure_blocks if xb.daq_state == pb.ExposureBlock.State.Value("DATA")]


def uncovered(phone: Phone) -> Phone:
    def change(chunk):
        for xb in _data_blocks(chunk):
            passed = getattr(xb, "pass")
            passed[1] = xb.processed[1] // 5          # the darkness check refuses 80 % of the frames
            for ev in xb.events:
                ev.avg, ev.std = ev.avg + 60.0, ev.std + 25.0
    return _edit(phone, change, "c0ve")


def without_fix(phone: Phone) -> Phone:
    def change(chunk):
        for xb in chunk.exposure_blocks:
            for msg in (xb, *xb.events):
                for name in ("gps_lat", "gps_lon", "gps_accuracy", "gps_altitude", "gps_fixtime"):
                    msg.ClearField(name)
    return _edit(phone, change, "0f1x")


def poor_fix(phone: Phone) -> Phone:
    def change(chunk):
        for xb in chunk.exposure_blocks:
            for msg in (xb, *xb.events):
                if msg.HasField("gps_accuracy"):
                    msg.gps_accuracy = 400.0
    return _edit(phone, change, "bad9")


def clock_ahead(phone: Phone, lead_ms: int = CLOCK_LEAD_MS) -> Phone:
    """The same records, received lead_ms before the phone's clock says it sent them."""
    return _edit(phone, lambda chunk: None, "a4ead", clock_lead_ms=lead_ms)


def short_blocks(start_ms: int, device_id: str) -> Phone:
    """The same phone (same hits) with exposure blocks of 30 s."""
    _, phones = network(start_ms, xb_period_ms=30_000)
    return _edit(phones[device_id], lambda chunk: None, "5b10")

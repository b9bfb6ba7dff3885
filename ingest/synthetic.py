"""Realistic synthetic /submit bodies (v1.0.4 DataChunks) for load tests, benchmarks and demos.

A v1.0.4 phone uploads when its cached chunk passes 50,000 bytes: about three 180 s DATA
exposure blocks of ~50 events each, every event an L1 pass with one to a few L2 hits as a
byte_block of 5x5 raw values, plus the occasional zero-bias square. `make_chunk` builds such a
chunk with crayfis.wire.build, deterministic for a given seed and start. The default start is
yesterday, 00:00 UTC: recent enough for the indexer's event-time window (a fixed date would
drift out of it), fixed for a day.
"""
from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass

from crayfis.wire import build

RES = (1920, 1080)


@dataclass(frozen=True, slots=True)
class Chunk:
    body: bytes
    headers: dict[str, str]
    n_events: int
    first_ms: int
    last_ms: int


def _event(rng: random.Random, t_ms: int, xbn: int, lat: float, lon: float, nano: int):
    n_hits = rng.choice((1, 2, 3, 3, 4, 4, 5, 6))
    x0, y0 = rng.randrange(3, RES[0] - 16), rng.randrange(3, RES[1] - 16)
    hits = [(x0 + rng.randrange(0, 12), y0 + rng.randrange(0, 12)) for _ in range(n_hits)]
    hits = list(dict.fromkeys(hits))
    zero_bias = None
    if rng.random() < 0.02:
        zero_bias = build.zero_bias_square(rng.randrange(0, 1900), rng.randrange(0, 1060),
                                           [rng.randrange(0, 40) for _ in range(100)])
    return build.event(t_ms, xbn=xbn, timestamp_nano=nano, hits=hits,
                       values=lambda x, y: rng.randrange(0, 256), res=RES,
                       lat=lat, lon=lon, accuracy=rng.uniform(3, 30), altitude=rng.uniform(0, 800),
                       fixtime_ms=t_ms - rng.randrange(0, 60_000), pressure=rng.uniform(950, 1030),
                       orient=(rng.uniform(-3.1, 3.1), rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1)),
                       avg=rng.uniform(0.5, 3.0), std=rng.uniform(0.5, 2.0), exposure_ns=33_000_000,
                       zero_bias=zero_bias)


def yesterday_ms() -> int:
    """Yesterday, 00:00 UTC, in Unix ms."""
    return (int(time.time()) // 86_400 - 1) * 86_400_000


def make_chunk(seed: int, *, device_id: str | None = None, n_events: int = 150, events_per_xb: int = 50,
               start_ms: int | None = None, lat: float | None = None, lon: float | None = None) -> Chunk:
    """One upload of `n_events` events in DATA blocks of `events_per_xb`, ~320 bytes per event (~48 kB for 150),
    starting within an hour after `start_ms` (default `yesterday_ms()`)."""
    start_ms = yesterday_ms() if start_ms is None else start_ms
    rng = random.Random(seed)
    device_id = device_id or f"{rng.getrandbits(64):016x}"
    run = uuid.UUID(int=rng.getrandbits(128), version=4)
    lat = rng.uniform(-60, 70) if lat is None else lat
    lon = rng.uniform(-180, 180) if lon is None else lon
    t = start_ms + rng.randrange(0, 3_600_000)
    nano = rng.randrange(10**12, 10**14)
    blocks, first, xbn = [], t, rng.randrange(1, 50)
    remaining = n_events
    while remaining > 0:
        n = min(events_per_xb, remaining)
        xb_start = t
        events = []
        for _ in range(n):
            t += rng.randrange(500, 6000)
            events.append(_event(rng, t, xbn, lat, lon, nano + (t - first) * 1_000_000))
        blocks.append(build.exposure_block(
            run, xbn=xbn, start_ms=xb_start, end_ms=t + 1, events=events, lat=lat, lon=lon,
            accuracy=10.0, altitude=100.0, processed=[5400, 5390, 5390, n], passed=[5, 5390, n, 2 * n],
            battery_temp_c=31.0, battery_end_temp_c=32.5, res=RES))
        remaining -= n
        xbn += 1
    body = build.data_chunk(run_configs=[build.run_config(run, start_ms=first - 600_000, res=RES)],
                            exposure_blocks=blocks)
    headers = {k: v for k, v in build.submit_headers(device_id, run).items() if k != "Content-type"}
    return Chunk(body, headers, n_events, first, t)

"""The whole simulated network: plan (fleet, live time, showers) then hits block by block.

``plan_network`` draws everything that is small (phones, live intervals, showers and the
phones they hit); ``iter_hit_blocks`` then makes the noise hits one time block at a time, so
memory stays bounded by ``config.max_hits_per_block`` however long the run. Every random
stream is a child of the caller's Generator (``Generator.spawn``), so a seed fixes the output
for a given config.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crayfis.sim.background import background_frames
from crayfis.sim.config import SimConfig
from crayfis.sim.fleet import ACCURACY_TO_SIGMA, Fleet, make_fleet
from crayfis.sim.live import LiveIntervals, plan_live_intervals
from crayfis.sim.projection import wrap_latlon
from crayfis.sim.showers import ShowerHits, ShowerTable, sample_showers, shower_hits

Progress = Callable[[int, int], None]  # (done, total)

HIT_SCHEMA = pa.schema([
    ("hit_id", pa.string()),  # "<device_id>-<t_ms>": unique, one event per device and frame
    ("device_id", pa.string()),
    ("t_ms", pa.int64()),  # phone clock, Unix ms
    ("lat", pa.float64()),  # reported = true + GPS jitter
    ("lon", pa.float64()),
    ("gps_accuracy", pa.float32()),  # m, 68 % radius
    ("shower_id", pa.int64()),  # truth: -1 = noise
    ("device_index", pa.int32()),  # index into the fleet (integer id for kernels)
])


@dataclass
class NetworkPlan:
    config: SimConfig
    fleet: Fleet
    live: LiveIntervals
    showers: ShowerTable
    shower_hits: ShowerHits
    block_ms: int
    block_rng_parent: np.random.Generator

    @property
    def n_blocks(self) -> int:
        return -(-(self.config.end_ms - self.config.start_ms) // self.block_ms)


@dataclass
class SimResult:
    """Everything one simulation produced, with truth labels."""

    config: SimConfig
    fleet: Fleet
    live: LiveIntervals  # phone-clock live intervals (= DATA exposure time)
    showers: ShowerTable
    hits: pa.Table  # HIT_SCHEMA, sorted by t_ms

    def live_table(self) -> pa.Table:
        return self.live.to_arrow(self.fleet.device_id_array())


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def plan_network(config: SimConfig, rng: np.random.Generator | int | None = None) -> NetworkPlan:
    rng = as_generator(rng)
    fleet_rng, live_rng, shower_rng, hit_rng, block_rng = rng.spawn(5)
    fleet = make_fleet(config.fleet, fleet_rng)
    live = plan_live_intervals(config.fleet, fleet.lon, config.start_ms, config.end_ms, live_rng)
    f = config.fleet
    showers = sample_showers(config.showers, f.area_km, f.center_lat, f.center_lon,
                             config.start_ms, config.end_ms, live, shower_rng)
    hits = shower_hits(showers, fleet, live, config.start_ms, config.showers, hit_rng)
    per_ms = max(fleet.rate_hz.sum() / 1000.0, 1e-12)  # hits per ms with every phone live
    block_ms = int(min(max(60_000, config.max_hits_per_block / per_ms), 2**40))
    return NetworkPlan(config, fleet, live, showers, hits, block_ms, block_rng)


def iter_hit_blocks(plan: NetworkPlan, progress: Progress | None = None) -> Iterator[pa.Table]:
    """Hit tables (HIT_SCHEMA) per time block, in time order; noise and shower hits merged."""
    cfg = plan.config
    sh = plan.shower_hits
    ids = plan.fleet.device_id_array()
    for b in range(plan.n_blocks):
        b0 = cfg.start_ms + b * plan.block_ms
        b1 = min(b0 + plan.block_ms, cfg.end_ms)
        rng = plan.block_rng_parent.spawn(1)[0]
        dev, frame = background_frames(plan.fleet, plan.live.clip(b0, b1), cfg.start_ms, rng)
        inside = (sh.t_ms >= b0) & (sh.t_ms < b1)
        dev = np.concatenate([dev, sh.device[inside]])
        frame = np.concatenate([frame, sh.frame[inside]])
        sid = np.concatenate([np.full(dev.size - inside.sum(), -1, np.int64), sh.shower_id[inside]])
        yield assemble_hits(plan.fleet, ids, dev, frame, sid, cfg.start_ms, rng)
        if progress:
            progress(b + 1, plan.n_blocks)


def assemble_hits(fleet: Fleet, ids: pa.Array, dev: np.ndarray, frame: np.ndarray,
                  shower_id: np.ndarray, origin_ms: int, rng: np.random.Generator) -> pa.Table:
    """One event per (device, frame), a shower hit winning over noise; reported columns.

    ``dev``/``frame`` of noise must be distinct already (background_frames); shower rows
    (shower_id >= 0) replace a noise event in the same frame of the same device.
    """
    showers = shower_id >= 0
    if showers.any():
        k0 = int(frame.min())
        stride = np.int64(int(frame.max()) - k0 + 1)
        key = dev.astype(np.int64) * stride + (frame - k0)
        shower_rows = np.flatnonzero(showers)
        # Two showers in one frame of one device: keep the later id, as the hit is one event.
        shower_rows = shower_rows[np.argsort(-shower_id[shower_rows], kind="stable")]
        _, first = np.unique(key[shower_rows], return_index=True)
        shower_rows = shower_rows[first]
        drop = ~showers & np.isin(key, key[shower_rows])
        keep = ~showers & ~drop
        keep[shower_rows] = True
        dev, frame, shower_id = dev[keep], frame[keep], shower_id[keep]
    t = fleet.frame_time_ms(dev, frame, origin_ms)
    order = _time_order(t, dev, fleet.n)
    dev, t, shower_id = dev[order], t[order], shower_id[order]
    # GPS jitter, first order around each phone (per-device degrees per metre, see geo).
    deg_north, deg_east = fleet.degrees_per_metre()
    sigma = fleet.gps_accuracy_m * ACCURACY_TO_SIGMA
    jitter = rng.standard_normal((2, dev.size))
    lat = fleet.lat[dev] + jitter[1] * (sigma * deg_north)[dev]
    lon = fleet.lon[dev] + jitter[0] * (sigma * deg_east)[dev]
    lat, lon = wrap_latlon(lat, lon)
    device_id, hit_id = _id_columns(fleet, ids, dev, t)
    t_arr = pa.array(t, type=pa.int64())
    return pa.Table.from_arrays(
        [hit_id, device_id, t_arr, pa.array(lat), pa.array(lon),
         pa.array(fleet.gps_accuracy_m[dev].astype(np.float32)), pa.array(shower_id),
         pa.array(dev.astype(np.int32))], schema=HIT_SCHEMA)


def _id_columns(fleet: Fleet, ids: pa.Array, dev: np.ndarray,
                t: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """device_id and hit_id ("<device_id>-<t_ms>") string columns.

    Fast path: 16-char ids and 13-digit times (2001-2286) give fixed-width strings built as one
    byte matrix and wrapped as Arrow buffers (~20x faster than casting and joining strings).
    """
    n = dev.size
    id_bytes = fleet.device_id_bytes()
    if n == 0 or id_bytes is None or t.min() < 10**12 or t.max() >= 10**13:
        device_id = ids.take(pa.array(dev))
        t_text = pc.cast(pa.array(t, type=pa.int64()), pa.string())
        return device_id, pc.binary_join_element_wise(device_id, t_text, "-")
    id_rows = id_bytes[dev]
    rows = np.empty((n, 30), dtype=np.uint8)
    rows[:, :16] = id_rows
    rows[:, 16] = ord("-")
    # 13 digits as 6 + 7 in int32 arithmetic (much faster than int64 division).
    hi, lo = np.divmod(t, 10**7)
    hi, lo = hi.astype(np.int32), lo.astype(np.int32)
    digits = np.empty((13, n), dtype=np.uint8)
    for row in range(12, 5, -1):
        lo, digits[row] = np.divmod(lo, 10)
    for row in range(5, -1, -1):
        hi, digits[row] = np.divmod(hi, 10)
    rows[:, 17:] = digits.T + ord("0")
    return _fixed_width_strings(id_rows), _fixed_width_strings(rows)


def _fixed_width_strings(rows: np.ndarray) -> pa.Array:
    n, width = rows.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(rows))  # no copy


def _time_order(t: np.ndarray, dev: np.ndarray, n_devices: int) -> np.ndarray:
    """Permutation sorting by (t, device) through one int64 key when it fits."""
    if t.size == 0:
        return np.zeros(0, np.int64)
    t0 = int(t.min())
    if (int(t.max()) - t0 + 1) * n_devices < 2**62:
        return np.argsort((t - t0) * np.int64(n_devices) + dev, kind="stable")
    return np.lexsort((dev, t))


def simulate_network(config: SimConfig, rng: np.random.Generator | int | None = None,
                     progress: Progress | None = None) -> SimResult:
    """Simulate the network in memory (use crayfis.sim.parquet for runs too big for RAM)."""
    plan = plan_network(config, rng)
    blocks = list(iter_hit_blocks(plan, progress))
    hits = pa.concat_tables(blocks) if blocks else HIT_SCHEMA.empty_table()
    return SimResult(config, plan.fleet, plan.live, plan.showers, hits)

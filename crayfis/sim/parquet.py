"""Write a simulation to disk in the Spark coincidence job's input layout.

DIR/hits/part-NNNNN.parquet  hits (HIT_SCHEMA: hit_id, device_id, t_ms, lat, lon + truth
                             columns gps_accuracy, shower_id, device_index), one file per block
DIR/live.parquet             live intervals (device_id, start_ms, end_ms) = exposure time
DIR/devices.parquet          the fleet's true per-phone parameters
DIR/showers.parquet          the shower table (truth)
DIR/truth.json               config, seed, showers, live-time summary, hit counts
Blocks are written as they are made, so memory stays bounded for long runs.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from crayfis.definition import HOUR_MS
from crayfis.sim.config import SimConfig
from crayfis.sim.network import HIT_SCHEMA, Progress, iter_hit_blocks, plan_network

# Columns with few distinct values; dictionary-encoding the unique hit_id would only waste time.
DICTIONARY_COLUMNS = ["device_id", "gps_accuracy", "shower_id", "device_index"]


@dataclass
class ParquetSummary:
    directory: Path
    n_hits: int
    n_shower_hits: int
    n_files: int
    n_showers: int


def write_parquet(config: SimConfig, directory: str | os.PathLike, seed: int | None = None,
                  progress: Progress | None = None, compression: str = "snappy") -> ParquetSummary:
    """Simulate ``config`` with ``seed`` and write it under ``directory`` (created if needed).

    Refuses a directory that already holds hits, so two runs never mix.
    """
    out = Path(directory)
    hits_dir = out / "hits"
    if hits_dir.exists() and any(hits_dir.iterdir()):
        raise FileExistsError(f"{hits_dir} already holds files")
    hits_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_network(config, np.random.default_rng(seed))
    n_hits = n_shower = n_files = 0
    for i, block in enumerate(iter_hit_blocks(plan, progress)):
        if block.num_rows == 0:
            continue
        pq.write_table(block, hits_dir / f"part-{i:05d}.parquet", compression=compression,
                       use_dictionary=DICTIONARY_COLUMNS)
        n_hits += block.num_rows
        n_shower += int((block.column("shower_id").to_numpy() >= 0).sum())
        n_files += 1
    ids = plan.fleet.device_id_array()
    pq.write_table(plan.live.to_arrow(ids), out / "live.parquet")
    pq.write_table(plan.fleet.to_arrow(), out / "devices.parquet")
    pq.write_table(plan.showers.to_arrow(), out / "showers.parquet")
    live_ms = plan.live.live_ms_per_device(plan.fleet.n)
    truth = {
        "config": config.to_dict(),
        "seed": seed,
        "n_hits": n_hits,
        "n_shower_hits": n_shower,
        "n_noise_hits": n_hits - n_shower,
        "hit_files": n_files,
        "showers": plan.showers.to_records(),
        "live": {
            "n_intervals": len(plan.live),
            "n_devices_live": int((live_ms > 0).sum()),
            "total_live_hours": float(live_ms.sum() / HOUR_MS),
            "mean_live_hours_per_device": float(live_ms.mean() / HOUR_MS),
        },
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1, default=_json_default))
    return ParquetSummary(out, n_hits, n_shower, n_files, len(plan.showers))


def read_hits(directory: str | os.PathLike) -> pa.Table:
    """All hits written by write_parquet, in file (= time block) order."""
    files = sorted((Path(directory) / "hits").glob("part-*.parquet"))
    if not files:
        return HIT_SCHEMA.empty_table()
    return pa.concat_tables(pq.read_table(f) for f in files)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value)!r}")

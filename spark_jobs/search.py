"""The distributed coincidence search: plan partitions, run the kernel per partition, collect.

Stages (each a Spark job over numbers only):
1. ``prepare``: one pass for per-device counts and spans (device codes, rates), one for the
   count and quantiles of t (slab boundaries; Parquet file list for hit codes).
2. ``encode``: hits -> (hit_code, device_code, t_ms, lat, lon) by a broadcast join on the small
   device table, so no string crosses into Python.
3. ``search_partitions``: mapInArrow copies every hit into its home partition and the halo
   partitions that need it (partitioning.py), a shuffle groups by partition, and applyInArrow
   runs ``kernel.triggered_windows`` per partition with only core anchors evaluated. Output:
   one row per (triggered anchor, window member) plus one statistics row per partition.
The driver then merges windows into candidates (candidates.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spark_jobs.hits_input import InputHits
from spark_jobs.partitioning import PartitionPlan, aligned_cuts, balanced_cuts

HISTOGRAM_BINS = 16384

ENCODED_SCHEMA = "hit_code long, device_code long, t_ms long, lat double, lon double"
ASSIGNED = pa.schema([("pkey", pa.int64()), ("home", pa.bool_()), ("hit_code", pa.int64()),
                      ("device_code", pa.int64()), ("t_ms", pa.int64()), ("lat", pa.float64()),
                      ("lon", pa.float64())])
# kind 0: one (triggered anchor, member) pair; kind 1: one row of partition statistics.
WINDOW_ROWS = pa.schema([
    ("kind", pa.int8()), ("pkey", pa.int64()), ("anchor", pa.int64()), ("member", pa.int64()),
    ("device_code", pa.int64()), ("t_ms", pa.int64()), ("lat", pa.float64()), ("lon", pa.float64()),
    ("window_devices", pa.int64()), ("n_rows", pa.int64()), ("n_core", pa.int64()),
    ("n_triggered", pa.int64()), ("expected", pa.float64()), ("lambdas", pa.list_(pa.float64())),
])


@dataclass(frozen=True)
class SearchParams:
    """The definition's parameters plus how to cut the work."""

    window_ms: int
    radius_m: float
    min_devices: int
    tile_deg: float = 2.0
    n_slabs: int | None = None  # None: from rows_per_task and the parallelism
    slab_ms: int | None = None  # fixed slabs at multiples of this (instead of count-balanced)
    rows_per_task: int = 1_000_000


@dataclass
class Prepared:
    hits: object  # DataFrame (hit_code, hit_id, device_id, t_ms, lat, lon), valid rows
    devices: pa.Table  # device_id, device_code, n_hits, t_min_ms, t_max_ms, lat, lon
    rows_in_range: int
    n_hits: int
    t_min_ms: int | None
    t_max_ms: int | None
    plan: PartitionPlan
    n_tasks: int


def device_table(coded) -> tuple[pa.Table, int, int]:
    """Per device: hits, first and last time, and position; codes 0..D-1 in device_id order.

    The position is the significance model's: the per-coordinate (lower) median of the
    device's unit vectors (significance.device_background), exact via percentile_disc.
    One pass over all rows in range (``coded`` has a ``valid`` column); also returns the number
    of rows in range and of valid rows without a hit_code (a Parquet file not in the list).
    """
    from pyspark.sql import functions as F

    from crayfis.coincidence.geo import centroid_lat_lon

    ok = F.col("valid")
    lat, lon = F.radians("lat"), F.radians("lon")
    unit = {"ux": F.cos(lat) * F.cos(lon), "uy": F.cos(lat) * F.sin(lon), "uz": F.sin(lat)}
    agg = (coded.select("device_id", "t_ms", "hit_code", "valid",
                        *[F.when(ok, v).alias(k) for k, v in unit.items()])
           .groupBy("device_id")
           .agg(F.count_if(ok).alias("n_hits"), F.count(F.lit(1)).alias("n_rows"),
                F.min(F.when(ok, F.col("t_ms"))).alias("t_min_ms"),
                F.max(F.when(ok, F.col("t_ms"))).alias("t_max_ms"),
                *[F.expr(f"percentile_disc(0.5) WITHIN GROUP (ORDER BY {k})").alias(k)
                  for k in unit],
                F.count_if(ok & F.col("hit_code").isNull()).alias("uncoded"))
           .toArrow())
    rows_in_range = int(np.sum(agg.column("n_rows").to_numpy()))
    uncoded = int(np.sum(agg.column("uncoded").to_numpy()))
    agg = agg.filter(pc.greater(agg.column("n_hits"), 0)).sort_by("device_id")
    d_lat, d_lon = centroid_lat_lon(*(agg.column(k).to_numpy() for k in unit))
    table = pa.table({
        "device_id": agg.column("device_id"),
        "device_code": np.arange(agg.num_rows, dtype=np.int64),
        "n_hits": agg.column("n_hits"),
        "t_min_ms": agg.column("t_min_ms"),
        "t_max_ms": agg.column("t_max_ms"),
        "lat": d_lat,
        "lon": d_lon,
    })
    return table, rows_in_range, uncoded


def time_histogram(hits, t_min: int, t_max: int, n_bins: int = HISTOGRAM_BINS):
    """(edges, counts) of t over [t_min, t_max] in equal bins: one pass over t only."""
    from pyspark.sql import functions as F

    width = max(1, -(-(t_max - t_min + 1) // n_bins))
    rows = (hits.groupBy(F.floor((F.col("t_ms") - F.lit(t_min)) / F.lit(width)).alias("b"))
            .count().toArrow())
    counts = np.zeros(n_bins, dtype=np.int64)
    counts[rows.column("b").to_numpy().astype(np.int64)] = rows.column("count").to_numpy()
    return t_min + width * np.arange(n_bins + 1, dtype=np.int64), counts


def prepare(spark, inp: InputHits, params: SearchParams) -> Prepared:
    """Device codes, statistics and the partition plan for one search (two passes)."""
    from pyspark.sql import functions as F

    coded = inp.coded(inp.listed_files())
    devices, rows_in_range, uncoded = device_table(coded)
    if uncoded:  # the listing spelled a path differently from the scan: number the scan's names
        coded = inp.coded(inp.scanned_files())
        devices, rows_in_range, uncoded = device_table(coded)
        if uncoded:
            raise RuntimeError(f"{uncoded} hits could not be numbered by file")
    hits = coded.where(F.col("valid")).drop("valid")
    n_hits = int(np.sum(devices.column("n_hits").to_numpy())) if devices.num_rows else 0
    t_min = int(np.min(devices.column("t_min_ms").to_numpy())) if n_hits else None
    t_max = int(np.max(devices.column("t_max_ms").to_numpy())) if n_hits else None
    parallelism = spark.sparkContext.defaultParallelism
    n_slabs = params.n_slabs or max(2 * parallelism if n_hits >= 200_000 else 1,
                                    math.ceil(n_hits / max(1, params.rows_per_task)))
    cuts = np.zeros(0, dtype=np.int64)
    if n_hits and params.slab_ms:
        cuts = aligned_cuts(t_min, t_max, params.slab_ms)
    elif n_hits and n_slabs > 1:
        cuts = balanced_cuts(*time_histogram(hits, t_min, t_max), n_slabs)
    plan = PartitionPlan.build(cuts, params.window_ms, params.tile_deg, params.radius_m)
    n_tasks = max(parallelism, min(plan.n_slabs * 4, 4 * max(1, n_hits // 50_000)))
    return Prepared(hits=hits, devices=devices, rows_in_range=rows_in_range, n_hits=n_hits,
                    t_min_ms=t_min, t_max_ms=t_max, plan=plan, n_tasks=n_tasks)


def encode(spark, prep: Prepared):
    """Numeric hits: device_id -> device_code by a broadcast join; hit_id left behind."""
    from pyspark.sql import functions as F

    codes = spark.createDataFrame(prep.devices.select(["device_id", "device_code"]))
    return (prep.hits.join(F.broadcast(codes), "device_id")
            .select("hit_code", "device_code", "t_ms", "lat", "lon"))


@dataclass(frozen=True)
class TimeSlide:
    """Shift device d's times by offsets[d] modulo the span, as significance.time_slides does."""

    t0: int
    span: int
    offsets_ms: np.ndarray  # per device code

    def apply(self, t_ms: np.ndarray, device_code: np.ndarray) -> np.ndarray:
        return self.t0 + np.mod(t_ms - self.t0 + self.offsets_ms[device_code], self.span)


def _assign_batches(plan: PartitionPlan, slide: TimeSlide | None):
    def assign(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            if b.num_rows == 0:
                continue
            code = b.column("hit_code").to_numpy()
            dev = b.column("device_code").to_numpy()
            t = b.column("t_ms").to_numpy()
            lat = b.column("lat").to_numpy()
            lon = b.column("lon").to_numpy()
            if slide is not None:
                t = slide.apply(t, dev)
            idx, key, home = plan.assign(t, lat, lon)
            yield pa.RecordBatch.from_arrays(
                [pa.array(key), pa.array(home), pa.array(code[idx]), pa.array(dev[idx]),
                 pa.array(t[idx]), pa.array(lat[idx]), pa.array(lon[idx])], schema=ASSIGNED)
    return assign


def _kernel_on_partition(params: SearchParams, background, max_multiplicity: int):
    """Per partition: triggered windows of core anchors, and their analytic background.

    ``background`` (significance.DeviceBackground over device codes, or None) gives the core
    anchors' expected accidental triggers and Lambda(m) for m = 1..max_multiplicity, which
    add up over partitions because every anchor is a core anchor of exactly one partition.
    """
    def run(table: pa.Table) -> pa.Table:
        from crayfis.coincidence.kernel import triggered_windows
        from crayfis.coincidence.significance import estimate_background

        home = table.column("home").to_numpy(zero_copy_only=False)
        code = table.column("hit_code").to_numpy()
        dev = table.column("device_code").to_numpy()
        t = table.column("t_ms").to_numpy()
        lat = table.column("lat").to_numpy()
        lon = table.column("lon").to_numpy()
        pkey = int(table.column("pkey")[0].as_py())
        tw = triggered_windows(t, lat, lon, dev, params.window_ms, params.radius_m,
                               params.min_devices, anchor_mask=home)
        expected, lambdas = 0.0, None
        if background is not None and home.any():
            est = estimate_background(t[home], lat[home], lon[home], dev[home], params.window_ms,
                                      params.radius_m, params.min_devices, devices=background,
                                      max_multiplicity=max_multiplicity)
            expected = est.expected_triggers
            lambdas = est.expected_windows(np.arange(1, max_multiplicity + 1)).tolist()
        per = np.diff(tw.member_offsets)
        a = np.repeat(tw.anchors, per)
        m = tw.members
        n = len(m)
        cols = {
            "kind": np.r_[np.zeros(n, np.int8), np.int8(1)],
            "pkey": np.full(n + 1, pkey, dtype=np.int64),
            "anchor": np.r_[code[a], -1], "member": np.r_[code[m], -1],
            "device_code": np.r_[dev[m], -1], "t_ms": np.r_[t[m], 0],
            "lat": np.r_[lat[m], np.nan], "lon": np.r_[lon[m], np.nan],
            "window_devices": np.r_[np.repeat(tw.window_devices, per), 0],
            "n_rows": np.r_[np.zeros(n, np.int64), len(t)],
            "n_core": np.r_[np.zeros(n, np.int64), int(home.sum())],
            "n_triggered": np.r_[np.zeros(n, np.int64), len(tw.anchors)],
            "expected": np.r_[np.zeros(n), expected],
        }
        arrays = [pa.array(cols[f.name], type=f.type) for f in WINDOW_ROWS if f.name in cols]
        arrays.append(pa.array([None] * n + [lambdas], type=pa.list_(pa.float64())))
        return pa.Table.from_arrays(arrays, schema=WINDOW_ROWS)
    return run


def search_partitions(encoded, plan: PartitionPlan, params: SearchParams, n_tasks: int,
                      slide: TimeSlide | None = None, background=None,
                      max_multiplicity: int = 0) -> pa.Table:
    """Triggered windows of all core anchors (WINDOW_ROWS), gathered on the driver."""
    from pyspark.sql.pandas.types import from_arrow_schema

    assigned = encoded.mapInArrow(_assign_batches(plan, slide), from_arrow_schema(ASSIGNED))
    run = _kernel_on_partition(params, background, max_multiplicity)
    out = (assigned.repartition(n_tasks, "pkey").groupBy("pkey")
           .applyInArrow(run, from_arrow_schema(WINDOW_ROWS)))
    return out.toArrow()

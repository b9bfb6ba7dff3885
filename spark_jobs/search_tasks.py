"""The general path of the coincidence search: slabs x tiles, one shuffle, the kernel per partition.

Stages:
1. ``prepare``: per-device counts, spans and positions, and the hit count and time range, from
   which the time slabs are cut evenly. Parquet: the source tasks read the row groups
   themselves (``ordered_parquet.device_partials``), device codes in device_id order.
   Elasticsearch: one Spark SQL pass grouped by a 64-bit hash of device_id (numeric, so Spark
   aggregates it without strings), device codes in hash order.
2. Copies (copy_stage.py): every hit -> its home partition and the halo partitions that need
   it (``PartitionPlan.assign``, compiled), grouped by destination task into packed blocks.
3. ``search_partitions``: one shuffle of those blocks moves each task's copies to it, and
   mapInArrow runs ``kernel.triggered_windows`` on each (slab, tile) partition with only home
   copies as anchors, plus the background model on the same anchors. Output: one row per
   (triggered anchor, window member), the members' hit_ids where the task can read them
   (Parquet), plus one statistics row per task.
The driver then merges windows into candidates (candidates.py).

Device hashes (ES input): xxhash64 of device_id. Two different device ids with one hash would
count as one device; for D devices the chance is about D^2 / 2^65 (3e-8 for a million
devices). Candidate members' device ids are read back and a collision among them stops the job
(job_steps.py).
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from crayfis.coincidence.device_partials import DEVICE_PARTIALS
from crayfis.coincidence.device_partials import device_table as partials_device_table
from crayfis.coincidence.distance import centroid_lat_lon
from crayfis.coincidence.kernel import triggered_windows
from crayfis.coincidence.malloc_tuning import keep_freed_memory
from crayfis.coincidence.significance import estimate_background
from crayfis.definition import SearchParams
from spark_jobs import ordered_parquet
from spark_jobs.copy_stage import CopyPlan, FrameSource, RowGroupSource, TimeSlide, unpack_copies
from spark_jobs.driver_tasks import run_table
from spark_jobs.hits_input import InputHits
from spark_jobs.job_config import WorkSplit
from spark_jobs.parquet_files import read_parquet_hit_ids
from spark_jobs.partitioning import PartitionPlan, aligned_cuts, uniform_cuts
from spark_jobs.row_group_plan import RowGroup
from spark_jobs.task_rows import (
    MEMBER_NAMES,
    PACKED,
    SearchRows,
    collect_windows,
    no_search_rows,
    packed,
    stats_batch,
    window_batch,
)


@dataclass
class Prepared:
    devices: pa.Table  # device_code 0..D-1, n_hits, t_min_ms, t_max_ms, lat, lon, and either
    # device_id (Parquet: codes in device_id order) or device_hash (ES: codes in hash order)
    files: list[str]  # Parquet files by file number (hit_code >> ROW_BITS)
    rows_in_range: int
    n_hits: int
    t_min_ms: int | None
    t_max_ms: int | None
    plan: PartitionPlan
    task_of_slab: np.ndarray  # slab -> task
    task_keys: np.ndarray  # task -> repartition key value that lands in its own task
    hits: object = None  # ES: DataFrame (hit_code, hit_id, device_id, t_ms, lat, lon), valid rows
    source: object = None  # RowGroupSource or FrameSource: where the copy stage reads hits

    @property
    def device_hashes(self) -> np.ndarray:
        return self.devices.column("device_hash").to_numpy()

    def device_keys(self):
        """What the copy stage looks device codes up by: device ids (Parquet) or hashes (ES)."""
        if "device_id" in self.devices.column_names:
            return self.devices.column("device_id").combine_chunks()
        return self.device_hashes


def device_hash_col():
    return F.xxhash64(F.col("device_id"))


def device_table(coded) -> tuple[pa.Table, int]:
    """Per device: hits, first and last time, position; codes 0..D-1 in device-hash order.

    The position is the normalised mean of the device's unit vectors (a hash aggregate; an
    exact median per device costs a sort of all hits), with the vectors of
    ``distance.unit_vector`` restated in Spark SQL: the JVM's trigonometry may differ from it in
    the last bit, which moves a device's position by far less than a millimetre. Positions only
    place the background model's neighbours, never the search; tests/spark/test_coincidence_job
    holds the job's background to the kernel's on the same hits. One pass over all rows in range
    (``coded`` has a ``valid`` column); also returns the number of rows in range.
    """
    ok = F.col("valid")
    lat, lon = F.radians("lat"), F.radians("lon")
    unit = {"x": F.cos(lat) * F.cos(lon), "y": F.cos(lat) * F.sin(lon), "z": F.sin(lat)}
    agg = (coded.groupBy(device_hash_col().alias("device_hash"))
           .agg(F.count_if(ok).alias("n_hits"), F.count(F.lit(1)).alias("n_rows"),
                F.min(F.when(ok, F.col("t_ms"))).alias("t_min_ms"),
                F.max(F.when(ok, F.col("t_ms"))).alias("t_max_ms"),
                *[F.sum(F.when(ok, v)).alias(k) for k, v in unit.items()])
           .toArrow())
    rows_in_range = int(np.sum(agg.column("n_rows").to_numpy()))
    agg = agg.filter(pc.greater(agg.column("n_hits"), 0)).sort_by("device_hash")
    d_lat, d_lon = centroid_lat_lon(*(agg.column(k).to_numpy() for k in unit))
    table = pa.table({
        "device_code": np.arange(agg.num_rows, dtype=np.int64),
        "device_hash": agg.column("device_hash"),
        "n_hits": agg.column("n_hits"),
        "t_min_ms": agg.column("t_min_ms"),
        "t_max_ms": agg.column("t_max_ms"),
        "lat": d_lat,
        "lon": d_lon,
    })
    return table, rows_in_range


def device_ids(prep: Prepared) -> np.ndarray:
    """device_id of every device code (one pass over the hits' distinct device ids).

    Needed only for exposure lookups and time slides; stops the job on a hash collision."""
    if "device_id" in prep.devices.column_names:
        return np.asarray(prep.devices.column("device_id").to_pylist(), dtype=object)
    rows = (prep.hits.select("device_id").distinct()
            .select("device_id", device_hash_col().alias("device_hash")).toArrow())
    ids = np.asarray(rows.column("device_id").to_pylist(), dtype=object)
    hashes = rows.column("device_hash").to_numpy()
    order = np.argsort(hashes, kind="stable")
    ids, hashes = ids[order], hashes[order]
    if len(hashes) != prep.devices.num_rows or not np.array_equal(hashes, prep.device_hashes):
        raise RuntimeError("two device ids share one 64-bit hash; the search cannot tell them apart")
    return ids


def task_keys(spark, n_tasks: int) -> np.ndarray:
    """Key values k_0..k_{n-1} whose Spark hash partition is 0..n-1, so repartition(n, key)
    puts task j's copies (key k_j) alone in Spark partition j: equal slabs dealt to tasks in
    turn make balanced tasks, which hashing slab numbers would not."""
    if n_tasks <= 1:
        return np.zeros(1, dtype=np.int64)
    rows = (spark.range(0, 64 * n_tasks, 1, 1)
            .select("id", F.expr(f"pmod(hash(id), {n_tasks})").alias("p")).toArrow())
    ids, part = rows.column("id").to_numpy(), rows.column("p").to_numpy()
    first = np.full(n_tasks, -1, dtype=np.int64)
    for p in range(n_tasks):  # n_tasks small values
        hit = np.flatnonzero(part == p)
        if len(hit) == 0:
            raise RuntimeError("no key value found for a task")
        first[p] = ids[hit[0]]
    return first


def prepare(spark, inp: InputHits, params: SearchParams, split: WorkSplit, start_ms: int | None,
            end_ms: int | None, groups: list[RowGroup] | None = None) -> Prepared:
    """Device table, counts and the partition plan for one search (one pass over the hits).

    Parquet whose row groups pyarrow can list (``groups``): the source tasks read them;
    otherwise (ES) one Spark SQL pass over the coded rows."""
    parallelism = spark.sparkContext.defaultParallelism
    files = inp.files()
    if groups is not None:
        specs = row_group_runs(groups, start_ms, end_ms, split.rows_per_slab, 2 * parallelism)
        partials = run_table(spark.sparkContext, len(specs),
                             ordered_parquet.device_partials(files, groups, specs, start_ms, end_ms),
                             DEVICE_PARTIALS)
        devices, rows_in_range = partials_device_table(partials)
        hits, source = None, RowGroupSource(files, groups, specs, start_ms, end_ms)
    else:
        coded = inp.coded()
        devices, rows_in_range = device_table(coded)
        hits = coded.where(F.col("valid")).drop("valid")
        source = FrameSource(hits.select("hit_code", device_hash_col().alias("device_hash"),
                                         "t_ms", "lat", "lon"))
    n_hits = int(np.sum(devices.column("n_hits").to_numpy())) if devices.num_rows else 0
    t_min = int(np.min(devices.column("t_min_ms").to_numpy())) if n_hits else None
    t_max = int(np.max(devices.column("t_max_ms").to_numpy())) if n_hits else None
    n_slabs = split.n_slabs or max(2 * parallelism if n_hits >= 200_000 else 1,
                                   math.ceil(n_hits / max(1, split.rows_per_slab)))
    cuts = np.zeros(0, dtype=np.int64)
    if n_hits and split.slab_ms:
        cuts = aligned_cuts(t_min, t_max, split.slab_ms)
    elif n_hits and n_slabs > 1:
        cuts = uniform_cuts(t_min, t_max, n_slabs, params.window_ms)
    plan = PartitionPlan.build(cuts, params.window_ms, split.tile_deg, params.radius_m)
    n_tasks = max(1, min(plan.n_slabs, max(2 * parallelism, -(-n_hits // max(1, split.rows_per_task)))))
    return Prepared(devices=devices, files=files, rows_in_range=rows_in_range, n_hits=n_hits,
                    t_min_ms=t_min, t_max_ms=t_max, plan=plan,
                    task_of_slab=np.arange(plan.n_slabs, dtype=np.int64) % n_tasks,
                    task_keys=task_keys(spark, n_tasks), hits=hits, source=source)


def row_group_runs(groups: list[RowGroup], start_ms: int | None, end_ms: int | None,
                   rows_per_run: int, at_least: int) -> list[list[int]]:
    """Row groups that may hold hits in [start_ms, end_ms) (all, where a footer gives no time
    range), in runs of about ``rows_per_run`` rows and at least ``at_least`` runs: the source
    tasks of the statistics and copy stages, each reading its run once."""
    lo = -(1 << 62) if start_ms is None else start_ms
    hi = (1 << 62) if end_ms is None else end_ms - 1
    used = [i for i, g in enumerate(groups)
            if g.t_min is None or (g.t_max >= lo and g.t_min <= hi)]
    if not used:
        return []
    cum = np.cumsum([groups[i].n_rows for i in used])
    n = max(at_least, -(-int(cum[-1]) // max(1, rows_per_run)))
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, n) / n, side="left") + 1
    bounds = np.unique(np.r_[0, cuts[(cuts > 0) & (cuts < len(used))], len(used)])
    return [used[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]


def _search_groups(params: SearchParams, background, max_multiplicity: int, files: list[str] | None):
    """mapInArrow body for one task: every (slab, tile) partition among its copies, one at a time.

    ``background``: a Spark broadcast of a significance.SegmentModel over device codes (each
    Python worker loads it once), or None; it gives the core anchors' expected accidental
    triggers and Lambda(m) for m = 1..max_multiplicity, which add up over tasks because every
    hit is a core anchor of exactly one partition. ``files``: Parquet input, whose members'
    hit_ids the task reads from their row groups.
    """
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        keep_freed_memory()
        cols = unpack_copies(batches)
        home_all = cols["home"]
        order = np.argsort(cols["pkey"], kind="stable")
        pkey = cols["pkey"][order]
        bounds = np.flatnonzero(np.r_[True, pkey[1:] != pkey[:-1], True])
        stats = dict(n_groups=len(bounds) - 1, max_group_rows=0, n_rows=len(order), n_core=0,
                     n_triggered=0, uncoded=0, expected=0.0, kernel_cpu_s=0.0, background_cpu_s=0.0)
        lambdas = None
        if background is not None and home_all.any():  # once per task
            c0 = time.process_time()
            est = estimate_background(*(cols[c][home_all] for c in ("t_ms", "lat", "lon", "device_code")),
                                      params.window_ms, params.radius_m, params.min_devices,
                                      model=background.value, max_multiplicity=max_multiplicity)
            stats["expected"] = est.expected_triggers
            lambdas = est.expected_windows(np.arange(1, max_multiplicity + 1)).tolist()
            stats["background_cpu_s"] = time.process_time() - c0
        members = []
        for g0, g1 in zip(bounds[:-1], bounds[1:]):  # a loop over partitions, not hits
            rows = order[g0:g1]
            code, dev, t, lat, lon = (cols[c][rows] for c in
                                      ("hit_code", "device_code", "t_ms", "lat", "lon"))
            home = home_all[rows]
            stats["max_group_rows"] = max(stats["max_group_rows"], len(rows))
            stats["n_core"] += int(home.sum())
            stats["uncoded"] += int((code[home] < 0).sum())
            c0 = time.process_time()
            tw = triggered_windows(t, lat, lon, dev, params.window_ms, params.radius_m,
                                   params.min_devices, anchor_mask=home)
            stats["kernel_cpu_s"] += time.process_time() - c0
            stats["n_triggered"] += len(tw.anchors)
            if len(tw.anchors):
                yield packed(window_batch(tw, code, dev, t, lat, lon))
                members.append(code[tw.members])
        if files is not None and members:
            names = read_parquet_hit_ids(files, np.concatenate(members), columns=("hit_id",))
            yield packed(pa.RecordBatch.from_arrays([names.column("hit_code").combine_chunks(),
                                                     names.column("hit_id").combine_chunks()],
                                                    schema=MEMBER_NAMES))
        yield packed(stats_batch(stats, lambdas))
    return run


def search_partitions(spark, prep: Prepared, params: SearchParams, slide: TimeSlide | None = None,
                      background=None, max_multiplicity: int = 0, with_names: bool = True) -> SearchRows:
    """Triggered windows of all core anchors and per-task statistics: the copy stage, one
    shuffle of its blocks by task, the search stage (which also reads the members' hit_ids
    from Parquet when ``with_names``)."""
    if not prep.n_hits:
        return no_search_rows()
    cp = CopyPlan(prep.plan, prep.task_of_slab, prep.task_keys, slide)
    sc = spark.sparkContext
    shared_copy = sc.broadcast((prep.device_keys(), cp))
    shared_model = sc.broadcast(background) if background is not None else None
    files = prep.files if with_names and isinstance(prep.source, RowGroupSource) else None
    try:
        out = (prep.source.copies(spark, shared_copy)
               .repartition(cp.n_tasks, "task_key")
               .mapInArrow(_search_groups(params, shared_model, max_multiplicity, files),
                           from_arrow_schema(PACKED)))
        return collect_windows(out)
    finally:
        shared_copy.destroy()
        if shared_model is not None:
            shared_model.destroy()

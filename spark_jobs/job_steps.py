"""The coincidence job's steps in order, on an existing SparkSession (coincidence.py is the CLI,
job_config.py what it asks for).

read input -> statistics and device codes -> distributed search -> merge into candidates ->
hit ids for members -> significance -> optional time slides -> outputs (files, ES).
"""
from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

import numpy as np
import pyarrow as pa

from crayfis.coincidence.device_partials import DEVICE_PARTIALS, device_table
from crayfis.coincidence.malloc_tuning import keep_freed_memory
from crayfis.coincidence.merge import merge_windows
from crayfis.coincidence.significance import SegmentModel, min_slide_shift_ms, slide_offsets
from spark_jobs import ordered_parquet, significance_step
from spark_jobs.candidates import distinct_names, distinct_pairs, lookup_hit_ids, merge_candidates, windows_from_rows
from spark_jobs.cli import UserError
from spark_jobs.driver_tasks import run_table, run_tasks
from spark_jobs.es_source import point_in_time
from spark_jobs.es_staging import staged_input
from spark_jobs.hits_input import es_input, parquet_input
from spark_jobs.job_config import JobConfig, es_prefix_for, stage_parent
from spark_jobs.output import CANDIDATE_SCHEMA, index_candidates, write_outputs
from spark_jobs.partitioning import PartitionPlan
from spark_jobs.row_group_plan import MAX_READ_SHARE, RowGroupPlan, plan_tasks
from spark_jobs.search_tasks import Prepared, TimeSlide, device_ids, prepare, search_partitions
from spark_jobs.task_rows import SearchRows, no_search_rows, search_rows


@contextlib.contextmanager
def open_input(spark, cfg: JobConfig):
    """The job's InputHits; for es:// a point-in-time held open until the job is done."""
    if not cfg.input.startswith("es://"):
        inp = parquet_input(spark, cfg.input)
        if not inp.listed:
            raise UserError(f"no Parquet files under {cfg.input}")
        yield inp
        return
    pattern = cfg.input[len("es://"):]
    slices = cfg.es_slices or spark.sparkContext.defaultParallelism
    parent = stage_parent(spark.sparkContext.master, cfg.es_stage_dir)
    with point_in_time(cfg.es_url, pattern) as pit:
        if parent is not None:
            with staged_input(spark, cfg.es_url, pattern, cfg.start_ms, cfg.end_ms, pit, slices,
                              parent) as inp:
                yield inp
            return
        inp = es_input(spark, cfg.es_url, pattern, cfg.start_ms, cfg.end_ms, pit, slices)
        try:
            yield inp
        finally:
            inp.raw.unpersist()


def partition_stats(stats: pa.Table) -> dict[str, Any]:
    """Totals over the search tasks' statistics rows (search.TASK_STATS)."""

    def total(name):
        return int(stats.column(name).to_numpy().sum())

    uncoded = total("uncoded")
    if uncoded:
        raise RuntimeError(f"{uncoded} hits could not be numbered by their Parquet file "
                           "(a path spelled differently by the listing and the scan)")
    return {
        "tasks": int(stats.num_rows),
        "partitions": total("n_groups"),
        "rows_with_halo": total("n_rows"),
        "max_partition_rows": int(stats.column("max_group_rows").to_numpy().max()),
        "max_task_rows": int(stats.column("n_rows").to_numpy().max()),
        "core_anchors": total("n_core"),
        "triggered_anchors": total("n_triggered"),
        "kernel_cpu_s": round(float(stats.column("kernel_cpu_s").to_numpy().sum()), 3),
        "background_cpu_s": round(float(stats.column("background_cpu_s").to_numpy().sum()), 3),
    }


def candidates_table(c, significance: dict[str, np.ndarray]) -> pa.Table:
    """The output rows: one per candidate, in canonical order."""
    hit_ids = pa.ListArray.from_arrays(pa.array(c.offsets, pa.int32()), c.member_hit_id)
    # distinct device ids per candidate, sorted
    n = c.n
    label = np.repeat(np.arange(n), np.diff(c.offsets))
    pairs = distinct_pairs(label, c.member_device_rank)
    dev_offsets = np.searchsorted(pairs[0], np.arange(n + 1))
    lists = pa.ListArray.from_arrays(pa.array(dev_offsets, pa.int32()),
                                     c.device_id_by_rank.take(pa.array(pairs[1])))
    return pa.table({
        "candidate_id": pa.array(c.ids(), pa.string()), "hit_ids": hit_ids,
        "devices": lists,
        "n_hits": pa.array(np.diff(c.offsets), pa.int64()),
        "n_devices": pa.array(c.n_devices, pa.int64()),
        "multiplicity": pa.array(c.multiplicity, pa.int64()),
        "t_start_ms": pa.array(c.t_start_ms, pa.int64()), "t_end_ms": pa.array(c.t_end_ms, pa.int64()),
        "lat": pa.array(c.lat, pa.float64()), "lon": pa.array(c.lon, pa.float64()),
        "n_triggered_anchors": pa.array(c.n_triggered_anchors, pa.int64()),
        "expected_background": pa.array(significance.get("expected_background", np.full(n, np.nan))),
        "p_value": pa.array(significance.get("p_value", np.full(n, np.nan))),
        "far_per_year": pa.array(significance.get("far_per_year", np.full(n, np.nan))),
    }, schema=CANDIDATE_SCHEMA)


def run_time_slides(spark, prep: Prepared, cfg: JobConfig) -> dict[str, Any]:
    """N searches with each device's times shifted (modulo the span): accidental counts.

    The slides of ``significance.time_slides`` with rng = default_rng(seed): its offsets
    (``slide_offsets``), its shift (``slid_times``, applied by the copy stage) and its
    counts, so the two give the same numbers on the same hits.
    """
    if cfg.time_slides <= 0 or prep.n_hits == 0:
        return {}
    span = prep.t_max_ms - prep.t_min_ms + 1
    shift = min_slide_shift_ms(cfg.params.window_ms)
    try:
        offsets = slide_offsets(np.random.default_rng(cfg.slide_seed), cfg.time_slides,
                                prep.devices.num_rows, span, shift)
    except ValueError as exc:
        raise UserError(f"time slides: {exc}") from None
    # the offsets are drawn per device in device_id order; device codes may follow hash order
    rank = np.argsort(np.argsort(device_ids(prep).astype(str), kind="stable"), kind="stable")
    offsets = offsets[:, rank]
    anchors, cands = [], []
    for s in range(cfg.time_slides):
        slide = TimeSlide(prep.t_min_ms, span, offsets[s])
        rows = search_partitions(spark, prep, cfg.params, slide=slide, with_names=False)
        anchors.append(partition_stats(rows.stats)["triggered_anchors"])
        w = windows_from_rows(rows.pairs)
        cands.append(merge_windows(w.anchors, w.offsets, w.members).n_candidates)
    return {
        "n": cfg.time_slides, "seed": cfg.slide_seed,
        "min_shift_ms": shift,
        "triggered_anchors": anchors, "candidates": cands,
        "mean_triggered_anchors": float(np.mean(anchors)),
        "std_error_triggered_anchors": (float(np.std(anchors, ddof=1) / np.sqrt(len(anchors)))
                                        if len(anchors) > 1 else None),
        "mean_candidates": float(np.mean(cands)),
    }


def background_for(prep: Prepared, cfg: JobConfig):
    """The device background: exposures' live intervals for es:// input when there are any."""
    blocks, source = None, "observed_span"
    if cfg.input.startswith("es://") and cfg.use_exposures and prep.n_hits:
        blocks = significance_step.read_live_blocks(
            cfg.es_url, f"{es_prefix_for(cfg)}-exposures-*",
            device_ids(prep).tolist(), cfg.start_ms, cfg.end_ms)
        if len(blocks.device_code):
            source = "exposures"
        else:
            blocks = None
    return significance_step.device_background(prep.devices, blocks, searched_span(prep, cfg)), source


def searched_span(prep: Prepared, cfg: JobConfig) -> tuple[int, int]:
    """[start, end) searched: --start and --end where given, else the hits' own range."""
    lo = cfg.start_ms if cfg.start_ms is not None else (prep.t_min_ms if prep.n_hits else 0)
    hi = cfg.end_ms if cfg.end_ms is not None else (prep.t_max_ms + 1 if prep.n_hits else lo + 1)
    return lo, hi


def segment_model(background, params):
    """The background model's device-level half, built once here rather than once per task."""
    return SegmentModel.build(background, params.radius_m) if background is not None else None


def ordered_layout(spark, cfg: JobConfig, inp):
    """(files, row groups, plan) when the shuffle-free path applies (ordered_parquet.py): the
    footers give every row group's time range, the tasks would read at most
    ``MAX_READ_SHARE`` rows per input row, and none would search more than
    ``max(2 x rows_per_task, hits / parallelism)`` rows (row_group_plan.py)."""
    if not inp.is_parquet or cfg.time_slides or not cfg.split.ordered_fast_path:
        return None
    files = inp.files()
    groups = ordered_parquet.row_groups(files)
    if any(g.t_min is None for g in groups):
        return None
    parallelism = spark.sparkContext.defaultParallelism
    n_rows = sum(g.n_rows for g in groups)
    # one kernel call per task here; few tasks: the background model's fixed cost is per task
    n_tasks = max(2 * parallelism, -(-n_rows // max(1, cfg.split.rows_per_task)))
    plan = plan_tasks(groups, cfg.params.window_ms, cfg.start_ms, cfg.end_ms, n_tasks)
    if plan.read_share > MAX_READ_SHARE:
        return None
    if plan.largest_task_rows > max(2 * cfg.split.rows_per_task, -(-plan.input_rows // parallelism)):
        return None  # hits packed in a few milliseconds: slabs x tiles would split them
    return files, groups, plan


def search_ordered(spark, cfg: JobConfig, files, groups, plan: RowGroupPlan, max_m: int, lap):
    """Device table and kernel stage straight from the row groups (no shuffle, no Spark SQL:
    both stages are driver_tasks on the SparkContext). The device table takes the statistics the
    archive stores for files read whole and counts the rest in a first stage, skipped when there
    is no rest. Also returns how many files had statistics stored."""
    params = cfg.params
    sc = spark.sparkContext
    stored = ordered_parquet.stored_partials(files, groups, cfg.start_ms, cfg.end_ms)
    stat_specs = ordered_parquet.statistics_specs(groups, plan.tasks,
                                                  max(2 * sc.defaultParallelism, len(plan.tasks)),
                                                  known_files=stored.keys())
    counted = run_table(sc, len(stat_specs),
                        ordered_parquet.device_partials(files, groups, stat_specs, cfg.start_ms,
                                                        cfg.end_ms),
                        DEVICE_PARTIALS)
    devices, rows_in_range = device_table(pa.concat_tables([*stored.values(), counted]))
    n_hits = int(np.sum(devices.column("n_hits").to_numpy())) if devices.num_rows else 0
    prep = Prepared(hits=None, devices=devices, files=files, rows_in_range=rows_in_range,
                    n_hits=n_hits,
                    t_min_ms=int(np.min(devices.column("t_min_ms").to_numpy())) if n_hits else None,
                    t_max_ms=int(np.max(devices.column("t_max_ms").to_numpy())) if n_hits else None,
                    plan=PartitionPlan.build([], params.window_ms, cfg.split.tile_deg, params.radius_m),
                    task_of_slab=np.zeros(1, np.int64), task_keys=np.zeros(1, np.int64))
    lap("prepare_s")
    background, live_source = background_for(prep, cfg)
    model = segment_model(background, params)
    if not n_hits:
        rows = no_search_rows()
    else:
        shared = sc.broadcast((devices.column("device_id").combine_chunks(), model))
        body = ordered_parquet.search_tasks(files, groups, plan.tasks, shared, params, max_m)
        try:
            rows = search_rows(run_tasks(sc, len(plan.tasks), body))
        finally:
            shared.destroy()
    lap("search_s")
    return prep, rows, background, live_source, len(stored)


def search_general(spark, cfg: JobConfig, inp, max_m: int, lap):
    """Device table and kernel stage through slabs x tiles and one shuffle (search_tasks.py)."""
    params = cfg.params
    groups = ordered_parquet.row_groups(inp.files()) if inp.is_parquet else None
    prep = prepare(spark, inp, params, cfg.split, cfg.start_ms, cfg.end_ms, groups)
    lap("prepare_s")
    background, live_source = background_for(prep, cfg)
    rows = search_partitions(spark, prep, params, background=segment_model(background, params),
                             max_multiplicity=max_m)
    lap("search_s")
    layout = {"layout": "slabs x tiles (shuffle)", "time_slabs": prep.plan.n_slabs,
              "tiles": prep.plan.grid.n_tiles}
    return prep, rows, background, live_source, layout


def member_ids(spark, prep: Prepared, rows: SearchRows, windows):
    """(hit_code, hit_id[, device_id]) of every window member, and the device_id of each device
    code where codes are device table rows (else None: the members' device ids come along)."""
    if prep.hits is None:  # Parquet: the search tasks read their members' ids
        return distinct_names(rows.names), prep.devices.column("device_id").combine_chunks()
    return lookup_hit_ids(spark, prep.hits, windows.hit_code), None


def search_and_write(spark, cfg: JobConfig) -> dict[str, Any]:
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    mark = [t0]

    def lap(name):
        now = time.perf_counter()
        timings[name] = round(now - mark[0], 3)
        mark[0] = now

    # the driver merges millions of window members in numpy: a batch process like the workers
    keep_freed_memory()
    params = cfg.params
    max_m = params.min_devices + significance_step.MULTIPLICITY_MARGIN
    slides = None
    with open_input(spark, cfg) as inp:
        ordered = ordered_layout(spark, cfg, inp)
        # listing, footers and task plan (for staged es:// input also its read): the part of
        # prepare_s before the first stage
        timings["input_s"] = round(time.perf_counter() - t0, 3)
        if ordered is not None:
            files, groups, plan = ordered
            prep, rows, background, live_source, stored = search_ordered(spark, cfg, files, groups,
                                                                         plan, max_m, lap)
            layout = {"layout": "row groups by time", "time_slabs": len(plan.tasks), "tiles": 1,
                      "row_group_read_share": round(plan.read_share, 3),
                      "files": len(files), "files_with_stored_device_statistics": stored}
        else:
            prep, rows, background, live_source, layout = search_general(spark, cfg, inp, max_m, lap)
        if cfg.input.startswith("es://"):
            layout["es_read"] = ("no hit to read" if not prep.n_hits
                                 else "staged as Parquet" if inp.staged else "Spark rows")
        pstats = partition_stats(rows.stats)
        if pstats["core_anchors"] != prep.n_hits:
            raise RuntimeError(f"{pstats['core_anchors']} core anchors for {prep.n_hits} hits")
        windows = windows_from_rows(rows.pairs)
        cands = merge_candidates(windows, *member_ids(spark, prep, rows, windows))
        lap("candidates_s")
        sig = significance_step.combine(rows.stats, background, cands.multiplicity, live_source)
        if ordered is None and cfg.time_slides:
            slides = run_time_slides(spark, prep, cfg)
            lap("time_slides_s")
    table = candidates_table(cands, sig.per_candidate)
    wall = time.perf_counter() - t0
    summary = {
        "input": cfg.input,
        "parameters": {"window_ms": params.window_ms, "radius_m": params.radius_m,
                       "min_devices": params.min_devices, "start_ms": cfg.start_ms,
                       "end_ms": cfg.end_ms, "tile_deg": cfg.split.tile_deg,
                       "time_slides": cfg.time_slides, **layout},
        "rows_in_range": prep.rows_in_range,
        "hits_read": prep.n_hits,
        "hits_skipped_invalid": prep.rows_in_range - prep.n_hits,
        "devices": prep.devices.num_rows,
        "t_min_ms": prep.t_min_ms, "t_max_ms": prep.t_max_ms,
        **pstats,
        "candidates": table.num_rows,
        **sig.summary,
        "time_slides": slides or None,
        "timings": timings,
        "wall_s": round(wall, 3),
        "hits_per_s": round(prep.n_hits / wall, 1) if wall > 0 else None,
    }
    job_id = uuid.uuid4().hex
    summary["job_id"] = job_id
    if cfg.to_es:
        summary["indexed_candidates"] = index_candidates(
            cfg.es_url, es_prefix_for(cfg), table, summary["parameters"], job_id)
    write_outputs(cfg.output, table, summary)
    return summary

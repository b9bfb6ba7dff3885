"""Spark job: the exact coincidence search over Parquet or Elasticsearch hits.

    python -m spark_jobs.coincidence --input hits.parquet --output out/ \
        --window-ms 5 --radius-m 1000 --min-devices 3 [--start ISO --end ISO] \
        [--master local[2]] [--to-es] [--time-slides N] [--es-url URL]

Also runs under spark-submit (then --master is left to spark-submit). Writes
DIR/candidates.parquet and DIR/summary.json; see docs/coincidence.md.
"""
from __future__ import annotations

import functools
import importlib
import time

from crayfis.definition import SearchParams
from spark_jobs.cli import (
    OneLineParser,
    check_input,
    check_stage_dir,
    exit_now,
    iso_time,
    non_negative_int,
    positive_float,
    positive_int,
    run_main,
)
from spark_jobs.driver_tasks import start_workers
from spark_jobs.job_config import NO_STAGING, JobConfig, WorkSplit, default_es_url, es_rows_in_jvm
from spark_jobs.session import COORDINATOR_JVM, start_spark

PROG = "spark_jobs.coincidence"
TASK_MODULE = "spark_jobs.ordered_parquet"  # what the search tasks run


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Exact coincidence search (docs/coincidence.md).")
    p.add_argument("--input", required=True, help="Parquet file/dir, or es://INDEX-PATTERN")
    p.add_argument("--output", required=True, help="output directory")
    p.add_argument("--window-ms", required=True, type=non_negative_int, help="tau, ms")
    p.add_argument("--radius-m", required=True, type=positive_float, help="R, metres")
    p.add_argument("--min-devices", required=True, type=positive_int, help="k distinct devices")
    p.add_argument("--start", type=iso_time, help="first time searched (ISO 8601 or Unix ms)")
    p.add_argument("--end", type=iso_time, help="end of the searched span (exclusive)")
    p.add_argument("--master", help="Spark master, e.g. local[2] (default: spark-submit's)")
    p.add_argument("--to-es", action="store_true", help="also index candidates into ES")
    p.add_argument("--time-slides", type=non_negative_int, default=JobConfig.time_slides,
                   help="background estimate from N time-shifted searches")
    p.add_argument("--slide-seed", type=int, default=JobConfig.slide_seed,
                   help="seed of the time-slide offsets")
    p.add_argument("--es-url", default=default_es_url(), help="Elasticsearch URL")
    p.add_argument("--es-prefix", help="index prefix for --to-es (default: from es:// input, "
                   "else CRAYFIS_ES_PREFIX or 'crayfis')")
    p.add_argument("--es-slices", type=positive_int, help="PIT slices (default: parallelism)")
    p.add_argument("--es-stage-dir", metavar="DIR",
                   help="es:// input: stage the hits read as Parquet in a new folder under DIR, "
                   "one every worker sees (default: the temporary folder with a local master; "
                   f"'{NO_STAGING}', or a cluster without DIR: read into Spark rows)")
    p.add_argument("--no-exposures", action="store_true",
                   help="es:// input: rates from observed spans even where exposures exist")
    p.add_argument("--shuffle", action="store_true",
                   help="always partition by slabs x tiles with a shuffle, even for Parquet whose "
                   "row groups are in time order (see docs/coincidence.md)")
    p.add_argument("--tile-deg", type=positive_float, default=WorkSplit.tile_deg,
                   help="spatial tile size, degrees (tiles never narrower than 2R)")
    p.add_argument("--time-slabs", type=positive_int, help="number of time slabs (default: auto)")
    p.add_argument("--slab-ms", type=positive_int,
                   help="fixed time slabs at multiples of this many ms (default: even slabs)")
    p.add_argument("--rows-per-slab", type=positive_int, default=WorkSplit.rows_per_slab,
                   help="target hits per time slab when --time-slabs is not given")
    p.add_argument("--rows-per-task", type=positive_int, default=WorkSplit.rows_per_task,
                   help="target hits per Spark task (a task searches several slabs)")
    return p


def parse_args(argv: list[str] | None = None) -> JobConfig:
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.start is not None and a.end is not None and a.start >= a.end:
        parser.error("--start must be before --end")
    params = SearchParams(window_ms=a.window_ms, radius_m=a.radius_m, min_devices=a.min_devices)
    split = WorkSplit(tile_deg=a.tile_deg, n_slabs=a.time_slabs, slab_ms=a.slab_ms,
                      rows_per_slab=a.rows_per_slab, rows_per_task=a.rows_per_task,
                      ordered_fast_path=not a.shuffle)
    return JobConfig(input=a.input, output=a.output, params=params, split=split, start_ms=a.start,
                     end_ms=a.end, master=a.master, to_es=a.to_es, time_slides=a.time_slides,
                     slide_seed=a.slide_seed, es_url=a.es_url, es_prefix=a.es_prefix,
                     es_slices=a.es_slices, es_stage_dir=a.es_stage_dir, use_exposures=not a.no_exposures)


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)

    def body():
        check_input(cfg.input, cfg.es_url)
        if cfg.input.startswith("es://"):
            check_stage_dir(cfg.es_stage_dir)
        t0 = time.perf_counter()
        # Parquet and staged es:// input run as Python tasks (driver_tasks.py, or a shuffle of
        # byte blocks); es:// input read into Spark rows makes the JVM convert every hit
        jvm = "" if es_rows_in_jvm(cfg) else COORDINATOR_JVM
        spark = start_spark("crayfis-coincidence", cfg.master, jvm_options=jvm)
        started = time.perf_counter() - t0
        # Python workers start (seconds in a new process) while this one imports the job's steps
        warming = start_workers(spark.sparkContext, functools.partial(importlib.import_module, TASK_MODULE))
        try:
            summary = run_job(spark, cfg)
        finally:
            warming.join()
        summary["session_start_s"] = round(started, 3)
        print(f"{summary['hits_read']} hits, {summary['triggered_anchors']} triggered anchors, "
              f"{summary['candidates']} candidates in {summary['wall_s']:.1f} s "
              f"({summary['hits_per_s']:.0f} hits/s; session start {started:.2f} s) -> {cfg.output}")
        return 0

    return run_main(PROG, body)


def run_job(spark, cfg: JobConfig) -> dict:
    """The whole job on an existing session; writes the outputs and returns the summary."""
    # imported here, not above: the CLI starts Spark and its workers first (main)
    from spark_jobs.job_steps import search_and_write

    return search_and_write(spark, cfg)


if __name__ == "__main__":
    exit_now(main())

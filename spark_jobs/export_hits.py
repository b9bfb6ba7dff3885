"""Spark job: export Elasticsearch hits to Parquet for scientists, partitioned by UTC day.

    python -m spark_jobs.export_hits --input es://crayfis-hits-* --start 2026-01-01 \
        --end 2026-01-08 --output hits/ [--master local[2]] [--es-url URL]

Columns: the coincidence job's input schema (hit_id, device_id = the device pseudonym, t_ms,
lat, lon) plus every other field of the hit mapping (geo_points as NAME_lat, NAME_lon), and
the partition directories day=YYYY-MM-DD. The output can be fed straight back to
``spark_jobs.coincidence --input``. The Spark tasks read slices of per-index points-in-time
(es_source.py) and write their rows with pyarrow (day_files.py); the driver commits the files
of one successful attempt per task, so a retried task never duplicates a hit.
"""
from __future__ import annotations

import sys
import time

from spark_jobs.cli import OneLineParser, UserError, check_input, iso_time, positive_int, run_main
from spark_jobs.job_config import default_es_url

PROG = "spark_jobs.export_hits"
_INPUT_SOURCES = {"hit_id", "device", "t_ms", "location"}  # read as the input columns


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Export ES hits to Parquet partitioned by day.")
    p.add_argument("--input", required=True, help="es://INDEX-PATTERN")
    p.add_argument("--start", required=True, type=iso_time, help="ISO 8601 or Unix ms (inclusive)")
    p.add_argument("--end", required=True, type=iso_time, help="ISO 8601 or Unix ms (exclusive)")
    p.add_argument("--output", required=True, help="output directory (local path or pyarrow URI)")
    p.add_argument("--master", help="Spark master, e.g. local[2] (default: spark-submit's)")
    p.add_argument("--es-url", default=default_es_url())
    p.add_argument("--es-slices", type=positive_int, help="read tasks (default: parallelism)")
    p.add_argument("--mode", choices=("error", "overwrite"), default="error",
                   help="when the output exists: fail (default) or replace it")
    return p


def export_query(es_url: str, pattern: str, start_ms: int | None, end_ms: int | None):
    """What the export reads: the input columns and every other field the hit mapping has."""
    from crayfis.es.client import make_client
    from spark_jobs.es_source import EsHitsQuery, mapped_fields

    es = make_client(es_url)
    try:
        fields = mapped_fields(es, pattern)
    finally:
        es.close()
    extra = tuple(sorted((name, kind) for name, kind in fields.items()
                         if name not in _INPUT_SOURCES and kind != "object"))
    return EsHitsQuery(es_url, pattern, start_ms, end_ms, extra=extra)


def export(spark, es_url: str, pattern: str, start_ms: int, end_ms: int, output: str,
           slices: int | None = None, mode: str = "error") -> dict:
    """Write the hits of ``pattern`` in [start_ms, end_ms) under ``output``/day=.../.

    Raises FileExistsError when ``output`` exists and ``mode`` is "error"; writes nothing when
    no hit matches."""
    from spark_jobs import day_files
    from spark_jobs.es_source import map_read_tasks, point_in_time

    t0 = time.perf_counter()
    q = export_query(es_url, pattern, start_ms, end_ms)
    schema = q.schema()
    filesystem, root = day_files.output_dir(output)
    day_files.prepare(filesystem, root, mode)
    staging = day_files.staging_dir(root)
    n = 0
    with point_in_time(es_url, pattern) as pits:
        if pits:
            writer = day_files.task_writer(output, staging, schema)
            written = map_read_tasks(spark, q, pits, slices or spark.sparkContext.defaultParallelism,
                                     writer, day_files.WRITTEN).toArrow()
            if written.num_rows:
                n = day_files.commit(filesystem, root, staging, written)
            elif day_files.exists(filesystem, staging):
                filesystem.delete_dir(f"{root}/_temporary")
    wall = time.perf_counter() - t0
    return {"hits": n, "wall_s": round(wall, 3), "columns": list(schema.names) + ["day"]}


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if a.start >= a.end:
        build_parser().error("--start must be before --end")

    def body():
        if not a.input.startswith("es://"):
            raise UserError("--input must be es://INDEX-PATTERN")
        check_input(a.input, a.es_url)
        from spark_jobs.session import build_session

        spark = build_session("crayfis-export-hits", a.master)
        try:
            result = export(spark, a.es_url, a.input[5:], a.start, a.end, a.output, a.es_slices, a.mode)
        except FileExistsError as exc:
            raise UserError(str(exc)) from None
        print(f"{result['hits']} hits in {result['wall_s']:.1f} s -> {a.output}")
        return 0

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())

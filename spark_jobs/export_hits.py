"""Spark job: export Elasticsearch hits to Parquet for scientists, partitioned by UTC day.

    python -m spark_jobs.export_hits --input es://crayfis-hits-* --start 2026-01-01 \
        --end 2026-01-08 --output hits/ [--master local[2]] [--es-url URL]

Columns: the coincidence job's input schema (hit_id, device_id = the device pseudonym, t_ms,
lat, lon) plus every other field of the hit mapping (geo_points as NAME_lat, NAME_lon), and
the partition column day=YYYY-MM-DD. The output can be fed straight back to
``spark_jobs.coincidence --input``. Read through one point-in-time with sliced search_after.
"""
from __future__ import annotations

import sys
import time

from pyspark.sql import functions as F

from crayfis.es.client import make_client
from spark_jobs.cli import OneLineParser, UserError, check_input, iso_time, positive_int, run_main
from spark_jobs.es_source import EsHitsQuery, hits_dataframe, mapped_fields, point_in_time
from spark_jobs.job_config import default_es_url
from spark_jobs.session import build_session

PROG = "spark_jobs.export_hits"
_INPUT_SOURCES = {"hit_id", "device", "t_ms", "location"}


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Export ES hits to Parquet partitioned by day.")
    p.add_argument("--input", required=True, help="es://INDEX-PATTERN")
    p.add_argument("--start", required=True, type=iso_time, help="ISO 8601 or Unix ms (inclusive)")
    p.add_argument("--end", required=True, type=iso_time, help="ISO 8601 or Unix ms (exclusive)")
    p.add_argument("--output", required=True, help="output directory")
    p.add_argument("--master", help="Spark master, e.g. local[2] (default: spark-submit's)")
    p.add_argument("--es-url", default=default_es_url())
    p.add_argument("--es-slices", type=positive_int, help="PIT slices (default: parallelism)")
    p.add_argument("--mode", choices=("error", "overwrite"), default="error",
                   help="when the output exists: fail (default) or replace it")
    return p


def export(spark, es_url: str, pattern: str, start_ms: int, end_ms: int, output: str,
           slices: int | None = None, mode: str = "error") -> dict:
    """Write the hits of ``pattern`` in [start_ms, end_ms) under ``output``/day=.../."""


    t0 = time.perf_counter()
    es = make_client(es_url)
    try:
        fields = mapped_fields(es, pattern)
    finally:
        es.close()
    extra = tuple(sorted((name, kind) for name, kind in fields.items()
                         if name not in _INPUT_SOURCES and kind != "object"))
    q = EsHitsQuery(es_url, pattern, start_ms, end_ms, extra=extra)
    with point_in_time(es_url, pattern) as pit:
        df = hits_dataframe(spark, q, pit, slices or spark.sparkContext.defaultParallelism)
        day = F.date_format(F.timestamp_millis(F.col("t_ms")), "yyyy-MM-dd")
        rows = df.withColumn("day", day).persist()  # ES is read once, for the count and the write
        try:
            n = rows.count() if pit else 0
            if n:
                rows.write.mode(mode).partitionBy("day").parquet(output)
        finally:
            rows.unpersist()
    wall = time.perf_counter() - t0
    return {"hits": n, "wall_s": round(wall, 3), "columns": list(q.schema().names) + ["day"]}


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if a.start >= a.end:
        build_parser().error("--start must be before --end")

    def body():
        if not a.input.startswith("es://"):
            raise UserError("--input must be es://INDEX-PATTERN")
        check_input(a.input, a.es_url)

        spark = build_session("crayfis-export-hits", a.master)
        result = export(spark, a.es_url, a.input[5:], a.start, a.end, a.output, a.es_slices, a.mode)
        print(f"{result['hits']} hits in {result['wall_s']:.1f} s -> {a.output}")
        return 0

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())

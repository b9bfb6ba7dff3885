"""Export hits to Parquet for scientists, partitioned by UTC day: from Elasticsearch (a Spark
job) or from the Parquet hit archive (pyarrow alone, no Spark).

    python -m spark_jobs.export_hits --input es://crayfis-hits-* --start 2026-01-01 \
        --end 2026-01-08 --output hits/ [--master local[2]] [--es-url URL]
    python -m spark_jobs.export_hits --input var/archive --start 2026-01-01 --end 2026-01-08 \
        --output hits/

Both write the partition directories day=YYYY-MM-DD (no day column inside the files), which
``spark_jobs.coincidence --input`` reads as they are, each hit once; ``--mode error`` (the
default) refuses an existing output, ``overwrite`` replaces it.

``es://PATTERN``: the coincidence job's input schema (hit_id, device_id = the device pseudonym,
t_ms, lat, lon) plus every other field of the hit mapping (geo_points as NAME_lat, NAME_lon),
zero-bias samples (is_hit false) included. The Spark tasks read slices of per-index
points-in-time (es_source.py) and write their rows with pyarrow (day_files.py); the driver
commits the files of one successful attempt per task, so a retried task never duplicates a hit.

An archive root (a directory or pyarrow URI, as the job's ``--input``): the sealed days' hits in
[start, end), in the archive's columns (crayfis/archive/schema.py: hit_id, device_id, t_ms, lat,
lon, gps_accuracy, altitude, fixtime_ms, t_nano, exposure_ns, n_pix, max_val, avg, std,
pressure, orient_x, orient_y, orient_z, zero_bias, run, xbn, xb_id, build, model, upload,
received_ms) with the archive files' metadata (units, licence), rows in (t_ms, hit_id) order.
Only hits are archive rows, and a sealed day holds each once; hits staged for a day and not yet
compacted (docs/archive.md) are not exported. The days are streamed a batch at a time
(crayfis/archive/reader.py `scan_hits`) into one file per day under ``_temporary/``, moved into
place when every day is written.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from crayfis.archive.reader import scan_hits, sealed_days_in
from crayfis.archive.schema import SCHEMA
from crayfis.archive.store import HitArchive
from spark_jobs import day_files
from spark_jobs.cli import OneLineParser, UserError, check_input, iso_time, positive_int, run_main
from spark_jobs.job_config import default_es_url

PROG = "spark_jobs.export_hits"
_INPUT_SOURCES = {"hit_id", "device", "t_ms", "location"}  # read as the input columns


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Export hits (Elasticsearch or the archive) to Parquet by day.")
    p.add_argument("--input", required=True, help="es://INDEX-PATTERN, or an archive root (directory or URI)")
    p.add_argument("--start", required=True, type=iso_time, help="ISO 8601 or Unix ms (inclusive)")
    p.add_argument("--end", required=True, type=iso_time, help="ISO 8601 or Unix ms (exclusive)")
    p.add_argument("--output", required=True, help="output directory (local path or pyarrow URI)")
    p.add_argument("--master", help="Spark master for es://, e.g. local[2] (default: spark-submit's)")
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
            n = day_files.finish(filesystem, root, staging, written)
    wall = time.perf_counter() - t0
    return {"hits": n, "wall_s": round(wall, 3), "columns": list(schema.names) + ["day"]}


def _archive_schema(archive, days: list[str]) -> pa.Schema:
    """The archive's columns with the metadata of its files (description, units, licence)."""
    files = [f for d in days[:1] for f in archive.day_files(d)[:1]]
    meta = pq.read_schema(files[0], filesystem=archive.fs).metadata if files else None
    return SCHEMA.with_metadata(meta or {})


def export_archive(root: str, start_ms: int, end_ms: int, output: str, mode: str = "error",
                   progress: Callable[[str, int], None] | None = None) -> dict:
    """Write the sealed days' hits of the archive at ``root`` in [start_ms, end_ms) under
    ``output``/day=.../, a day at a time (``progress(day, rows)`` after each).

    Raises FileExistsError when ``output`` exists and ``mode`` is "error"; writes nothing when
    no hit matches."""
    t0 = time.perf_counter()
    archive = HitArchive(root)
    days = sealed_days_in(archive, start_ms, end_ms)
    schema = _archive_schema(archive, days)
    filesystem, out = day_files.output_dir(output)
    day_files.prepare(filesystem, out, mode)
    staging = day_files.staging_dir(out)
    writers = day_files.DayWriters(output, staging, schema)
    for day in days:
        rows = 0
        for table in scan_hits(archive, [day], start_ms, end_ms):
            for batch in table.to_batches():
                writers.write(batch)
            rows += table.num_rows
        writers.finish_day(day)
        if progress is not None:
            progress(day, rows)
    written = pa.Table.from_batches([writers.close()])
    n = day_files.finish(filesystem, out, staging, written)
    wall = time.perf_counter() - t0
    return {"hits": n, "wall_s": round(wall, 3), "columns": list(schema.names) + ["day"]}


def _export_es(a) -> dict:
    check_input(a.input, a.es_url)
    from spark_jobs.session import build_session

    spark = build_session("crayfis-export-hits", a.master)
    return export(spark, a.es_url, a.input[5:], a.start, a.end, a.output, a.es_slices, a.mode)


def _export_archive(a) -> dict:
    check_input(a.input, a.es_url)
    bar = tqdm(desc="export", unit="day", file=sys.stderr)

    def progress(day: str, rows: int) -> None:
        bar.set_postfix_str(f"{day}: {rows} hits")
        bar.update(1)

    try:
        return export_archive(a.input, a.start, a.end, a.output, a.mode, progress)
    except FileExistsError:
        raise
    except OSError as exc:
        raise UserError(f"cannot read the archive {a.input} or write {a.output}: {exc}") from None
    finally:
        bar.close()


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if a.start >= a.end:
        build_parser().error("--start must be before --end")

    def body():
        try:
            result = _export_es(a) if a.input.startswith("es://") else _export_archive(a)
        except FileExistsError as exc:
            raise UserError(str(exc)) from None
        print(f"{result['hits']} hits in {result['wall_s']:.1f} s -> {a.output}")
        return 0

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())

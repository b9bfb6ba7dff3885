"""The job's input: Parquet files (read by the job's own tasks, see ordered_parquet.py and
copy_stage.py) or Elasticsearch hits as one DataFrame: hit_code, hit_id, device_id, t_ms, lat, lon.

``hit_code`` is an int64 that names a hit for the whole job, so the kernel stage carries only
numbers and hit_id strings are read back only for candidate members. It must come out the same
every time a hit is read:
- Parquet: (file number << ROW_BITS) | row index within the file, the file number being the
  file's place in the sorted listing (``InputHits.files``), independent of filters and task
  order (parquet_files.py);
- Elasticsearch: (slice << 40) | position in the slice, under one point-in-time whose
  _shard_doc order is fixed; that DataFrame is also persisted so ES is read once.
Rows without a usable time, device or position (or outside [-90, 90] x [-180, 180]) are left
out and counted.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import functions as F

from spark_jobs.es_source import EsHitsQuery, hits_dataframe
from spark_jobs.parquet_files import local_parquet_files, normal_path

COLUMNS = ("hit_code", "hit_id", "device_id", "t_ms", "lat", "lon")


def valid_hit():
    """Column predicate: the row can take part in the search."""

    return (F.col("t_ms").isNotNull() & F.col("device_id").isNotNull()
            & F.col("lat").between(-90.0, 90.0) & F.col("lon").between(-180.0, 180.0))


def in_range(start_ms: int | None, end_ms: int | None):

    cond = F.lit(True)
    if start_ms is not None:
        cond = cond & (F.col("t_ms") >= F.lit(start_ms))
    if end_ms is not None:
        cond = cond & (F.col("t_ms") < F.lit(end_ms))
    return cond


@dataclass
class InputHits:
    """The job's input: Parquet files (listed, ``listed``) or ES hits in the time range (``raw``)."""

    raw: object  # DataFrame of ES hits (hit_code, hit_id, device_id, t_ms, lat, lon); None for Parquet
    is_parquet: bool
    path: str | None = None
    listed: tuple[str, ...] = ()  # Parquet: the files, in numbering order
    staged: bool = False  # Parquet files the job wrote from es:// input (es_staging.py)

    def files(self) -> list[str]:
        """Parquet files in numbering order (file number = place in this list)."""
        return list(self.listed)

    def coded(self):
        """ES rows in range as (hit_code, hit_id, device_id, t_ms, lat, lon, valid)."""
        return self.raw.select(*COLUMNS, valid_hit().alias("valid"))


def parquet_input(spark, path: str) -> InputHits:
    """The Parquet files under ``path`` (the tasks read them with pyarrow): a local path is
    listed here (``local_parquet_files``), any other (s3a://, hdfs://, globs) by Spark."""
    files = local_parquet_files(path)
    if files is None:
        files = sorted({normal_path(f) for f in spark.read.parquet(path).inputFiles()})
    return InputHits(None, is_parquet=True, path=path, listed=tuple(files))


def es_input(spark, url: str, pattern: str, start_ms: int | None, end_ms: int | None,
             pit_id: str | None, n_slices: int) -> InputHits:
    """ES hits in range under one PIT, coded by (slice, position) and persisted (read once)."""

    q = EsHitsQuery(url, pattern, start_ms, end_ms, only_hits=True)
    df = hits_dataframe(spark, q, pit_id, n_slices, code_column="hit_code")
    return InputHits(df.where(in_range(start_ms, end_ms)).persist(StorageLevel.MEMORY_AND_DISK),
                     is_parquet=False)

"""The job's input: Parquet files (read by the job's own tasks, see ordered_parquet.py and
copy_stage.py) or Elasticsearch hits as one DataFrame: hit_code, hit_id, device_id, t_ms, lat, lon.

``hit_code`` is an int64 that names a hit for the whole job, so the kernel stage carries only
numbers and hit_id strings are read back only for candidate members. It must come out the same
every time a hit is read:
- Parquet: (file number << 36) | row index within the file, the file number being the file's
  place in the sorted listing (``InputHits.files``), independent of filters and task order;
- Elasticsearch: (slice << 40) | position in the slice, under one point-in-time whose
  _shard_doc order is fixed; that DataFrame is also persisted so ES is read once.
Rows without a usable time, device or position (or outside [-90, 90] x [-180, 180]) are left
out and counted.
"""
from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs
from pyspark import StorageLevel
from pyspark.sql import functions as F

from spark_jobs.es_source import EsHitsQuery, hits_dataframe

ROW_BITS = 36  # rows per Parquet file < 2**36; up to 2**27 files
COLUMNS = ("hit_code", "hit_id", "device_id", "t_ms", "lat", "lon")


def parse_time(text: str) -> int:
    """ISO 8601 (naive = UTC) or integer Unix ms -> Unix ms."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(round(value.timestamp() * 1000))


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
    """Rows in the time range (``raw``: ES hits, or the Parquet files as Spark lists them)."""

    raw: object  # DataFrame: ES hits (hit_code, hit_id, device_id, t_ms, lat, lon); Parquet: the files
    is_parquet: bool
    path: str | None = None

    def files(self) -> list[str]:
        """Parquet files in numbering order (file number = place in this list)."""
        if not self.is_parquet:
            return []
        return sorted({normal_path(f) for f in self.raw.inputFiles()})

    def coded(self):
        """ES rows in range as (hit_code, hit_id, device_id, t_ms, lat, lon, valid)."""
        return self.raw.select(*COLUMNS, valid_hit().alias("valid"))


def normal_path(uri: str) -> str:
    """One spelling of a local file URI: 'file:///x' and 'file:/x' both become 'file:/x'."""
    return "file:/" + uri[len("file:///"):] if uri.startswith("file:///") else uri


def open_parquet(uri: str, dictionary_ids: bool = False):
    """A pyarrow ParquetFile for a file URI as Spark lists it (file:/..., s3://, hdfs://).

    ``dictionary_ids``: device_id comes back dictionary-encoded, straight from the file's
    dictionary pages, so per-device work runs over small integers instead of strings."""


    kw = {"read_dictionary": ["device_id"]} if dictionary_ids else {}
    if uri.startswith("file:"):
        return pq.ParquetFile("/" + urllib.parse.unquote(uri[len("file:"):]).lstrip("/"),
                              filesystem=fs.LocalFileSystem(), **kw)
    filesystem, path = fs.FileSystem.from_uri(uri)
    return pq.ParquetFile(path, filesystem=filesystem, **kw)


def read_parquet_hit_ids(files: list[str], codes, columns=("hit_id", "device_id")):
    """(hit_code, *columns) table, as strings, for the given codes (sorted, distinct), read
    straight from the Parquet files: only the row groups that hold them, only those columns
    (the driver or a task reads a few row groups, not the data set)."""

    codes = np.sort(np.asarray(codes, dtype=np.int64))
    codes = codes[np.r_[True, codes[1:] != codes[:-1]]] if len(codes) else codes  # sort, not hash
    code_parts, parts = [], {c: [] for c in columns}
    file_no = codes >> ROW_BITS
    distinct_files = file_no[np.r_[True, file_no[1:] != file_no[:-1]]] if len(file_no) else file_no
    for f in distinct_files.tolist():  # a loop over files and row groups, not hits
        pf = open_parquet(files[f])
        sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)]
        starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        lo, hi = np.searchsorted(file_no, [f, f + 1])  # codes are sorted: one run per file
        mine = codes[lo:hi]
        rows = mine & ((1 << ROW_BITS) - 1)
        if len(rows) and rows[-1] >= starts[-1]:
            raise RuntimeError("a hit code beyond the end of its Parquet file")
        group = np.searchsorted(starts, rows, side="right") - 1
        cut = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
        for c0, c1 in zip(cut[:-1].tolist(), cut[1:].tolist()):  # one run per row group
            g = int(group[c0])
            part = pf.read_row_group(g, columns=list(columns))
            take = pa.array(rows[c0:c1] - starts[g])
            code_parts.append(mine[c0:c1])
            for c in columns:
                parts[c].extend(part.column(c).take(take).cast(pa.string()).chunks)
    # chunks, not ChunkedArrays: pa.chunked_array would convert those value by value in Python
    return pa.table({"hit_code": pa.array(np.concatenate(code_parts) if code_parts else [], pa.int64()),
                     **{c: pa.chunked_array(parts[c], pa.string()) for c in columns}})


def parquet_input(spark, path: str) -> InputHits:
    """The Parquet files under ``path``, as Spark lists them (the tasks read them with pyarrow)."""
    return InputHits(spark.read.parquet(path), is_parquet=True, path=path)


def es_input(spark, url: str, pattern: str, start_ms: int | None, end_ms: int | None,
             pit_id: str | None, n_slices: int) -> InputHits:
    """ES hits in range under one PIT, coded by (slice, position) and persisted (read once)."""

    q = EsHitsQuery(url, pattern, start_ms, end_ms, only_hits=True)
    df = hits_dataframe(spark, q, pit_id, n_slices, code_column="hit_code")
    return InputHits(df.where(in_range(start_ms, end_ms)).persist(StorageLevel.MEMORY_AND_DISK),
                     is_parquet=False)

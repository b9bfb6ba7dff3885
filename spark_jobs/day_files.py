"""Hits as Parquet partitioned by UTC day, written by the tasks that read them, committed once.

Each task attempt writes its rows with pyarrow under ``OUT/_temporary/<job>/<attempt>/day=D/``
(the rows never cross into the JVM) and returns one row per file it finished. The driver holds
the returned rows of exactly one successful attempt per task: it moves those files, and only
those, to ``OUT/day=D/part-<task>-<n>.parquet``, writes ``_SUCCESS`` and drops ``_temporary``.
A failed, retried or speculative attempt's files are never moved, so every hit is written once.

The layout is Spark's (``day=`` directories, no day column inside the files, rows without a
time under ``day=__HIVE_DEFAULT_PARTITION__``), so Spark, pyarrow.dataset and the coincidence
job read it as it is. OUT is a local path or a URI pyarrow understands (s3://, hdfs://, gs://).
"""
from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import fs

NULL_DAY = "__HIVE_DEFAULT_PARTITION__"
DAY_MS = 86_400_000
NO_DAY = np.iinfo(np.int64).min  # day number of rows without a time
ROW_GROUP_ROWS = 128 * 1024  # rows buffered per day before a row group is written
UNIQUE = {"hit_id"}  # columns with a value per row: a dictionary would be built only to be dropped
WRITTEN = pa.schema([("path", pa.string()), ("day", pa.string()), ("rows", pa.int64())])


def output_dir(uri: str) -> tuple[fs.FileSystem, str]:
    """(filesystem, root) of a local path (made absolute) or a filesystem URI."""
    if "://" in uri:
        filesystem, root = fs.FileSystem.from_uri(uri)
        return filesystem, root.rstrip("/")
    return fs.LocalFileSystem(), os.path.abspath(uri)


def exists(filesystem: fs.FileSystem, path: str) -> bool:
    return filesystem.get_file_info(path).type != fs.FileType.NotFound


def prepare(filesystem: fs.FileSystem, root: str, mode: str) -> None:
    """``mode`` "error": refuse an existing output; "overwrite": remove it first."""
    if not exists(filesystem, root):
        return
    if mode != "overwrite":
        raise FileExistsError(f"output exists: {root} (--mode overwrite replaces it)")
    if filesystem.get_file_info(root).type == fs.FileType.Directory:
        filesystem.delete_dir(root)
    else:
        filesystem.delete_file(root)


def day_numbers(t_ms: pa.Array) -> np.ndarray:
    """UTC day number (Unix ms // DAY_MS) of each time; NO_DAY where there is none."""
    t = pc.fill_null(t_ms, 0).to_numpy(zero_copy_only=False)
    days = np.floor_divide(t, DAY_MS)
    if t_ms.null_count:
        days[np.asarray(t_ms.is_null())] = NO_DAY
    return days


def day_name(day: int) -> str:
    """The partition value of a day number: YYYY-MM-DD, or NULL_DAY."""
    if day == NO_DAY:
        return NULL_DAY
    return (dt.datetime(1970, 1, 1) + dt.timedelta(days=int(day))).strftime("%Y-%m-%d")


@dataclass
class _DayFile:
    writer: pq.ParquetWriter
    path: str
    pending: list
    pending_rows: int = 0
    rows: int = 0
    closed: bool = False


class DayWriters:
    """One open Parquet file per day for one task attempt; row groups of ROW_GROUP_ROWS."""

    def __init__(self, uri: str, staging: str, schema: pa.Schema):
        self.filesystem, _ = output_dir(uri)
        self.staging = staging
        self.schema = schema
        self.files: dict[str, _DayFile] = {}

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        days = day_numbers(batch.column("t_ms"))
        distinct = np.unique(days)
        for number in distinct.tolist():
            part = batch if len(distinct) == 1 else batch.filter(pa.array(days == number))
            day = day_name(number)
            f = self.files.get(day)
            if f is None:
                self.filesystem.create_dir(f"{self.staging}/day={day}", recursive=True)
                path = f"{self.staging}/day={day}/part-{uuid.uuid4().hex}.parquet"
                writer = pq.ParquetWriter(path, self.schema, filesystem=self.filesystem,
                                          use_dictionary=[n for n in self.schema.names if n not in UNIQUE])
                f = self.files[day] = _DayFile(writer, path, [])
            f.pending.append(part)
            f.pending_rows += part.num_rows
            if f.pending_rows >= ROW_GROUP_ROWS:
                self._flush(f)

    def _flush(self, f: _DayFile) -> None:
        if f.pending_rows:
            f.writer.write_table(pa.Table.from_batches(f.pending, self.schema), row_group_size=f.pending_rows)
            f.rows += f.pending_rows
            f.pending, f.pending_rows = [], 0

    def finish_day(self, day: str) -> None:
        """Write out and close a day's file (a writer fed day after day holds one day's rows)."""
        f = self.files.get(day)
        if f is not None and not f.closed:
            self._flush(f)
            f.writer.close()
            f.closed = True

    def close(self) -> pa.RecordBatch:
        """Finish every file; one WRITTEN row per file."""
        for day in self.files:
            self.finish_day(day)
        days = list(self.files)
        return pa.RecordBatch.from_arrays(
            [pa.array([self.files[d].path for d in days], pa.string()), pa.array(days, pa.string()),
             pa.array([self.files[d].rows for d in days], pa.int64())], schema=WRITTEN)


def task_writer(uri: str, job_staging: str, schema: pa.Schema):
    """The function a read task runs on its (slice number, batch) stream: write, report files."""

    def write(pages: Iterator[tuple[int, pa.RecordBatch]]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        attempt = f"task-{ctx.partitionId()}-attempt-{ctx.taskAttemptId()}" if ctx else uuid.uuid4().hex
        writers = DayWriters(uri, f"{job_staging}/{attempt}", schema)
        for _, page in pages:
            writers.write(page)
        yield writers.close()

    return write


def staging_dir(root: str) -> str:
    return f"{root}/_temporary/{uuid.uuid4().hex}"


def commit(filesystem: fs.FileSystem, root: str, staging: str, written: pa.Table) -> int:
    """Move the reported files into place, write _SUCCESS, drop the staging; the rows moved."""
    rows = 0
    seen: dict[str, int] = {}
    for path, day, n in zip(*(written.column(c).to_pylist() for c in ("path", "day", "rows"))):
        k = seen.get(day, 0)
        seen[day] = k + 1
        filesystem.create_dir(f"{root}/day={day}", recursive=True)
        filesystem.move(path, f"{root}/day={day}/part-{k:05d}-{os.path.basename(path)[5:]}")
        rows += n
    with filesystem.open_output_stream(f"{root}/_SUCCESS"):
        pass
    filesystem.delete_dir(f"{root}/_temporary")
    return rows


def finish(filesystem: fs.FileSystem, root: str, staging: str, written: pa.Table) -> int:
    """End a job's writing: commit what its tasks reported, or drop an empty staging; the rows
    committed."""
    if written.num_rows:
        return commit(filesystem, root, staging, written)
    if exists(filesystem, staging):
        filesystem.delete_dir(f"{root}/_temporary")
    return 0

"""Where archive files live, and how a batch of hits is staged there.

Layout under the archive root (a local directory or any pyarrow filesystem URI):

    day=YYYY-MM-DD/part-NNNNN.parquet          a sealed UTC day, rows in (t_ms, hit_id) order,
                                               files and row groups in time order, no hit twice
    day=YYYY-MM-DD/late-KEY-sNNNNN.parquet     hits of that day that arrived after it was sealed
    day=YYYY-MM-DD/_devices/NAME.arrow         each sealed file's device statistics
                                               (device_sidecar.py)
    _incoming/day=YYYY-MM-DD/KEY.parquet       staged batches, not yet compacted (may repeat hits)
    _tmp/...                                   files being written

Readers (Spark, pyarrow.dataset) skip names starting with '_' at the root, so they see sealed
days only, each hit once. A file appears whole: it is written under `_tmp/` and then moved to
its name (a rename on a local or HDFS filesystem; object stores publish an object on close).
The indexer stages each batch it indexed (`HitArchive.stage`); compaction (compact.py) turns
staged batches into sealed days.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import fs

from crayfis.archive.device_sidecar import write_sidecar
from crayfis.archive.rows import HitColumns
from crayfis.archive.schema import SCHEMA, SORT_KEYS, with_metadata
from crayfis.coincidence.device_partials import table_partials
from crayfis.definition import DAY_MS

__all__ = ["ArchiveOptions", "HitArchive", "day_name", "day_start_ms"]

INCOMING = "_incoming"
TMP = "_tmp"
DAY_DIR = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")
# Strings that repeat across rows are dictionary-encoded; hit ids are unique, so they are not.
DICTIONARY_COLUMNS = ["device_id", "run", "xb_id", "build", "model"]


def day_name(day: int) -> str:
    """'YYYY-MM-DD' of a day number (Unix ms // DAY_MS), UTC."""
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(day))).isoformat()


def day_start_ms(name: str) -> int:
    """Unix ms of 00:00 UTC of the day 'YYYY-MM-DD'."""
    return (dt.date.fromisoformat(name) - dt.date(1970, 1, 1)).days * DAY_MS


@dataclass(frozen=True)
class ArchiveOptions:
    """How files are cut and labelled (the defaults are settings, CRAYFIS_ARCHIVE_*)."""

    licence: str
    rows_per_file: int
    row_group_rows: int
    staged_max_files: int


class HitArchive:
    """One archive root: staging, listing, and writing files atomically."""

    def __init__(self, uri: str, options: ArchiveOptions | None = None):
        """`options` say how files are written; a handle that only reads needs none."""
        if "://" in uri:
            self.fs, self.root = fs.FileSystem.from_uri(uri)
        else:
            self.fs, self.root = fs.LocalFileSystem(), str(Path(uri).resolve())
        self.root = self.root.rstrip("/")
        self.uri = uri
        self.options = options

    # --- paths ------------------------------------------------------------------------------

    def path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    def day_dir(self, day: str) -> str:
        return self.path(f"day={day}")

    def staged_dir(self, day: str) -> str:
        return self.path(INCOMING, f"day={day}")

    def _list(self, path: str, *, dirs: bool) -> list[fs.FileInfo]:
        infos = self.fs.get_file_info(fs.FileSelector(path, allow_not_found=True))
        kind = fs.FileType.Directory if dirs else fs.FileType.File
        return sorted((i for i in infos if i.type == kind), key=lambda i: i.path)

    def _days_under(self, path: str) -> list[str]:
        out = []
        for info in self._list(path, dirs=True):
            m = DAY_DIR.match(info.base_name)
            if m:
                out.append(m.group(1))
        return out

    def sealed_days(self) -> list[str]:
        """Days published under the root, oldest first."""
        return self._days_under(self.root)

    def is_sealed(self, day: str) -> bool:
        return self.fs.get_file_info(self.day_dir(day)).type == fs.FileType.Directory

    def staged_days(self) -> list[str]:
        return self._days_under(self.path(INCOMING))

    def staged_files(self, day: str) -> list[str]:
        return [i.path for i in self._list(self.staged_dir(day), dirs=False) if i.base_name.endswith(".parquet")]

    def day_files(self, day: str) -> list[str]:
        return [i.path for i in self._list(self.day_dir(day), dirs=False) if i.base_name.endswith(".parquet")]

    # --- writing ----------------------------------------------------------------------------

    def temp_path(self, suffix: str = "") -> str:
        return self.path(TMP, uuid.uuid4().hex + suffix)

    def writer(self, path: str, extra_metadata: dict[str, str] | None = None) -> pq.ParquetWriter:
        """A Parquet writer in the archive schema with its self-describing metadata."""
        schema = with_metadata(SCHEMA.empty_table(), self.options.licence, extra_metadata).schema
        self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        sorting = [pq.SortingColumn(SCHEMA.get_field_index(name)) for name, _ in SORT_KEYS]
        return pq.ParquetWriter(path, schema, filesystem=self.fs, compression="zstd",
                                use_dictionary=DICTIONARY_COLUMNS, sorting_columns=sorting,
                                write_statistics=True)

    def write_file(self, final: str, table: pa.Table, extra_metadata: dict[str, str] | None = None,
                   *, with_device_statistics: bool = False) -> None:
        """Write `table` (sorted already) to `final` so that it appears whole; with its device
        statistics (device_sidecar.py) in place before it appears, when asked."""
        tmp = self.temp_path(".parquet")
        with self.writer(tmp, extra_metadata) as w:
            w.write_table(table.cast(SCHEMA), row_group_size=self.options.row_group_rows)
        if with_device_statistics:
            partials = pa.Table.from_batches([table_partials(table)])
            write_sidecar(self.fs, tmp, partials, publish_as=final)
        self.publish(tmp, final)

    def publish(self, tmp: str, final: str) -> None:
        """Move a finished file or directory from `_tmp/` to its name."""
        self.fs.create_dir(final.rsplit("/", 1)[0], recursive=True)
        self.fs.move(tmp, final)

    def stage(self, hits: HitColumns, key: str) -> list[str]:
        """Stage a batch of indexed hits: one file per UTC day it touches, named by `key`.

        `key` names the batch (the indexer derives it from its upload ids), so staging the same
        batch again replaces its files with the same rows. Returns the staged paths.
        """
        if not len(hits):
            return []
        table = sort_hits(hits.table())
        days = table.column("t_ms").to_numpy() // DAY_MS
        cuts = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True])  # sorted by time: runs of a day
        out = []
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
            path = self.path(INCOMING, f"day={day_name(days[a])}", f"{key}.parquet")
            self.write_file(path, table.slice(a, b - a))
            out.append(path)
        return out

    def delete(self, paths: list[str]) -> None:
        for p in paths:
            self.fs.delete_file(p)

    def drop_staged_dir_if_empty(self, day: str) -> None:
        """Remove a staged day's directory on a local filesystem once it is empty. `rmdir`
        refuses a directory that is not empty, so a batch staged meanwhile stays (pyarrow's
        delete_dir would take it along); object stores have no directories to remove."""
        if isinstance(self.fs, fs.LocalFileSystem):
            try:
                os.rmdir(self.staged_dir(day))
            except OSError:  # not empty, or gone
                pass


def sort_hits(table: pa.Table) -> pa.Table:
    """Rows in archive order, (t_ms, hit_id)."""
    return table.take(pc.sort_indices(table, sort_keys=SORT_KEYS))


def drop_repeats(table: pa.Table) -> tuple[pa.Table, int]:
    """A table in archive order without rows whose hit_id repeats the row before (a hit's
    t_ms follows from the hit, so copies of it sort next to each other). Returns the table and
    the number of rows dropped."""
    n = table.num_rows
    if n < 2:
        return table, 0
    ids = table.column("hit_id").combine_chunks()
    same = pc.equal(ids.slice(1), ids.slice(0, n - 1)).fill_null(False)
    keep = pa.concat_arrays([pa.array([True]), pc.invert(same)])
    kept = table.filter(keep)
    return kept, n - kept.num_rows

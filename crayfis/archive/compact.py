"""Compaction: staged batches -> sealed days, each hit exactly once.

Staged files (`_incoming/day=D/`, store.py) may hold a hit more than once: an upload indexed
twice (a lease that ran out, two indexers, an upload re-queued, `rebuild_archive`) is staged
twice, under the same batch key or another. Compaction removes those copies (copies of a hit
share its t_ms and hit_id, so they sort next to each other) and decides per staged day:

- the day ended more than `seal_after_ms` ago and is not sealed yet: **seal** it. Its staged
  rows, read a time slice at a time (memory stays bounded), are sorted, deduplicated and written
  as files of about `rows_per_file` rows into a directory under `_tmp/`, which is then moved to
  `day=D` in one step, each with its device statistics (device_sidecar.py); then the staged
  files it read are deleted;
- the day is sealed: its staged rows are **late**. Those already in the day (same hit_id, looked
  up only in the row groups whose time range can hold them) are dropped, the rest written as
  `late-KEY-sNNNNN.parquet`, KEY naming the staged files read, one file per time slice, its
  device statistics in place before it appears;
- the day is still open and has more than `staged_max_files` staged files: **merge** the oldest
  into one staged file (still hidden), then delete them.

Each step publishes before it deletes, and a step interrupted anywhere leaves staged files that
the next run reads again: what it published is found in the day and not written twice (a sealed
day's late rows are checked against the day, late files of a re-run keep their names). Two
compactions must not run at once (the second would not see the first's unpublished files): the
caller holds a lease (indexer/archive.py) and `still_mine` says whether it still does before
each publishing move.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import blake2b

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow import fs

from crayfis.archive.device_sidecar import write_sidecar
from crayfis.archive.schema import SCHEMA
from crayfis.archive.store import TMP, HitArchive, day_start_ms, drop_repeats, sort_hits
from crayfis.coincidence.device_partials import DEVICE_PARTIALS, table_partials
from crayfis.definition import DAY_MS

__all__ = ["CompactionReport", "LeaseLost", "compact", "remove_stale_temp"]

SLICES_PER_FILE = 4     # a sealed file is filled from this many time slices (bounds memory)
STALE_TEMP_S = 86_400   # files under _tmp/ older than this are left-overs of a crash


class LeaseLost(RuntimeError):
    """Another compaction may be running: stop before publishing anything more."""


@dataclass
class CompactionReport:
    sealed: list[str] = field(default_factory=list)
    late_files: int = 0
    merged: int = 0
    staged_read: int = 0
    rows_in: int = 0
    rows_written: int = 0
    copies_dropped: int = 0
    already_archived: int = 0

    def as_dict(self) -> dict:
        return dict(vars(self))


def _staged_rows(archive: HitArchive, paths: list[str]) -> int:
    return sum(pq.ParquetFile(p, filesystem=archive.fs).metadata.num_rows for p in paths)


def _dataset(archive: HitArchive, paths: list[str]) -> ds.Dataset:
    return ds.dataset(paths, schema=SCHEMA, format="parquet", filesystem=archive.fs)


def _slices(data: ds.Dataset, day: str, rows: int, per_slice: int) -> list[tuple[int, int]]:
    """Time slices of a day holding about `per_slice` rows each, cut by a one-second histogram
    of the rows' times (read as one column, batch by batch). Staged rows fall inside their day
    by construction (store.stage cuts at UTC midnight)."""
    start = day_start_ms(day)
    n = max(1, math.ceil(rows / max(1, per_slice)))
    if n == 1:
        return [(start, start + DAY_MS)]
    counts = np.zeros(DAY_MS // 1000, dtype=np.int64)
    for batch in data.to_batches(columns=["t_ms"]):
        sec = (batch.column(0).to_numpy() - start) // 1000
        counts += np.bincount(np.clip(sec, 0, len(counts) - 1), minlength=len(counts))
    cum = np.cumsum(counts)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, n) / n, side="left") + 1
    edges = np.unique(np.r_[0, cuts, len(counts)]) * 1000 + start
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


def _in_slice(lo: int, hi: int) -> ds.Expression:
    return (ds.field("t_ms") >= lo) & (ds.field("t_ms") < hi)


def _key(paths: list[str]) -> str:
    return blake2b("\n".join(p.rsplit("/", 1)[-1] for p in paths).encode(), digest_size=8).hexdigest()


def _check(still_mine: Callable[[], bool]) -> None:
    if not still_mine():
        raise LeaseLost("the compaction lease was lost; stopping before publishing")


def seal_day(archive: HitArchive, day: str, staged: list[str], report: CompactionReport,
             still_mine: Callable[[], bool]) -> None:
    """Write a day's staged rows as its sealed files, then delete what was read."""
    opts = archive.options
    rows = _staged_rows(archive, staged)
    data = _dataset(archive, staged)
    work = archive.temp_path()
    part, writer, in_file, written_before = 0, None, 0, report.rows_written
    path, partials = "", []

    def close_file():
        writer.close()
        write_sidecar(archive.fs, path, pa.Table.from_batches(partials, schema=DEVICE_PARTIALS))
        partials.clear()

    try:
        for lo, hi in _slices(data, day, rows, opts.rows_per_file // SLICES_PER_FILE):
            table, dropped = drop_repeats(sort_hits(data.to_table(filter=_in_slice(lo, hi))))
            report.copies_dropped += dropped
            if not table.num_rows:
                continue
            if writer is None:
                path = f"{work}/day={day}/part-{part:05d}.parquet"
                writer = archive.writer(path, {"day": day})
            writer.write_table(table, row_group_size=opts.row_group_rows)
            partials.append(table_partials(table))
            report.rows_written += table.num_rows
            in_file += table.num_rows
            if in_file >= opts.rows_per_file:
                close_file()
                writer, in_file, part = None, 0, part + 1
        if writer is not None:
            close_file()
            writer = None
        if report.rows_written > written_before:
            _check(still_mine)
            archive.publish(f"{work}/day={day}", archive.day_dir(day))
    finally:
        if writer is not None:
            writer.close()
        _remove_dir(archive, work)
    archive.delete(staged)
    archive.drop_staged_dir_if_empty(day)
    report.sealed.append(day)
    report.rows_in += rows


def _remove_dir(archive: HitArchive, path: str) -> None:
    if archive.fs.get_file_info(path).type == fs.FileType.Directory:
        archive.fs.delete_dir(path)


def _archived_ids(archive: HitArchive, day: str, lo: int, hi: int, ids: pa.Array) -> pa.Array:
    """Which of `ids` (hits with lo <= t_ms <= hi) the day's files hold already."""
    files = archive.day_files(day)
    if not files:
        return pa.array([], pa.string())
    data = ds.dataset(files, format="parquet", filesystem=archive.fs)
    cond = (ds.field("t_ms") >= lo) & (ds.field("t_ms") <= hi) & ds.field("hit_id").isin(ids)
    return data.to_table(columns=["hit_id"], filter=cond).column("hit_id").combine_chunks()


def publish_late(archive: HitArchive, day: str, staged: list[str], report: CompactionReport,
                 still_mine: Callable[[], bool]) -> None:
    """Add a sealed day's staged rows it does not hold yet, then delete what was read."""
    opts = archive.options
    rows = _staged_rows(archive, staged)
    data = _dataset(archive, staged)
    key = _key(staged)
    for i, (lo, hi) in enumerate(_slices(data, day, rows, opts.rows_per_file)):
        table, dropped = drop_repeats(sort_hits(data.to_table(filter=_in_slice(lo, hi))))
        report.copies_dropped += dropped
        if not table.num_rows:
            continue
        t = table.column("t_ms")
        held = _archived_ids(archive, day, pc.min(t).as_py(), pc.max(t).as_py(), table.column("hit_id"))
        if len(held):
            table = table.filter(pc.invert(pc.is_in(table.column("hit_id"), value_set=held)))
            report.already_archived += len(held)
        if not table.num_rows:
            continue
        _check(still_mine)
        archive.write_file(f"{archive.day_dir(day)}/late-{key}-s{i:05d}.parquet", table, {"day": day},
                           with_device_statistics=True)
        report.late_files += 1
        report.rows_written += table.num_rows
    archive.delete(staged)
    archive.drop_staged_dir_if_empty(day)
    report.rows_in += rows


def merge_staged(archive: HitArchive, day: str, staged: list[str], report: CompactionReport) -> None:
    """Replace the oldest staged files of an open day by one (still staged, still hidden)."""
    take = staged[: archive.options.staged_max_files]
    table, dropped = drop_repeats(sort_hits(_dataset(archive, take).to_table()))
    report.copies_dropped += dropped
    archive.write_file(f"{archive.staged_dir(day)}/merged-{_key(take)}.parquet", table)
    archive.delete(take)
    report.merged += len(take)


def remove_stale_temp(archive: HitArchive, now_s: float, older_than_s: float = STALE_TEMP_S) -> int:
    """Delete what crashed writers left under _tmp/ (only entries older than `older_than_s`)."""
    removed = 0
    for info in archive.fs.get_file_info(fs.FileSelector(archive.path(TMP), allow_not_found=True)):
        if info.mtime is not None and now_s - info.mtime.timestamp() > older_than_s:
            if info.type == fs.FileType.Directory:
                archive.fs.delete_dir(info.path)
            else:
                archive.fs.delete_file(info.path)
            removed += 1
    return removed


def compact(archive: HitArchive, now_ms: int, seal_after_ms: int, *,
            still_mine: Callable[[], bool] = lambda: True,
            progress: Callable[[str, dict], None] | None = None) -> CompactionReport:
    """One compaction pass over every staged day (see the module docstring)."""
    report = CompactionReport()
    remove_stale_temp(archive, time.time())
    for day in archive.staged_days():
        staged = archive.staged_files(day)
        if not staged:
            continue
        before = report.rows_written
        if archive.is_sealed(day):
            report.staged_read += len(staged)
            publish_late(archive, day, staged, report, still_mine)
            step = "late"
        elif now_ms >= day_start_ms(day) + DAY_MS + seal_after_ms:
            report.staged_read += len(staged)
            seal_day(archive, day, staged, report, still_mine)
            step = "sealed"
        elif len(staged) > archive.options.staged_max_files:
            merge_staged(archive, day, staged, report)
            step = "merged"
        else:
            continue
        if progress is not None:
            progress(day, {"step": step, "staged_files": len(staged), "rows": report.rows_written - before})
    return report

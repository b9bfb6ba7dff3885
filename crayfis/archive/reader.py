"""Reading the archive: the sealed days' hits in a time range, with pyarrow.

The coincidence job reads the archive root itself (`--input DIR`: Spark discovers the `day=`
directories and skips `_incoming` and `_tmp`). This module is the same view for Python callers:
only sealed days, only the row groups whose time range meets the request.

`read_hits` returns one table; `scan_hits` streams the same rows batch by batch in (t_ms,
hit_id) order with bounded memory (the read API and export_hits use it). A sealed day is one
sorted run of `part-*` files (files and row groups follow each other in time) plus one sorted run
per `late-*` file, whose times overlap the day's: `scan_hits` merges a day's runs holding one
batch of each, never a whole day. `complete_days` says which days the archive holds completely
(sealed, nothing staged for them), so a reader can answer those from it and the rest elsewhere.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from crayfis.archive.schema import SCHEMA
from crayfis.archive.store import HitArchive, day_name, sort_hits
from crayfis.definition import DAY_MS
from crayfis.es.geobox import double_box

__all__ = ["complete_days", "days_of", "in_box", "read_hits", "scan_hits", "sealed_days_in"]

LATE_PREFIX = "late-"
SCAN_BATCH_ROWS = 65_536   # rows per batch a scan holds per run (a day has one run per late file, plus one)


def days_of(start_ms: int, end_ms: int) -> list[str]:
    """The UTC days [start_ms, end_ms) touches, oldest first."""
    if end_ms <= start_ms:
        return []
    return [day_name(d) for d in range(start_ms // DAY_MS, (end_ms - 1) // DAY_MS + 1)]


def complete_days(archive: HitArchive, start_ms: int, end_ms: int) -> set[str]:
    """The days of [start_ms, end_ms) the archive holds completely: sealed, and nothing staged
    for them (a staged file of a sealed day is a late hit the next compaction adds).

    The staged files are listed before the sealed days: a late file published after this call
    comes from a file staged after it (compaction publishes before it deletes what it read), that
    is from a hit indexed after the call, as a point in time opened now would not see either."""
    if end_ms <= start_ms:
        return set()
    staged = {d for d in _in_range(archive.staged_days(), start_ms, end_ms) if archive.staged_files(d)}
    return {d for d in sealed_days_in(archive, start_ms, end_ms) if d not in staged}


def in_box(lat: str, lon: str, bbox: tuple[float, float, float, float]) -> ds.Expression:
    """(min_lon, min_lat, max_lon, max_lat) on two double columns, with exactly the edges of
    Elasticsearch's geo_bounding_box on a geo_point (crayfis/es/geobox.py `double_box`); min_lon >
    max_lon crosses the antimeridian, min_lat > max_lat is empty. Nulls are outside."""
    min_lon, min_lat, max_lon, max_lat = bbox
    if min_lat > max_lat:
        return ds.scalar(False)
    box = double_box(min_lon, min_lat, max_lon, max_lat)
    la, lo = ds.field(lat), ds.field(lon)
    inside_lat = (la >= box.lat_min) & (la <= box.lat_max)
    if box.crosses:
        return inside_lat & ((lo >= box.lon_min) | (lo <= box.lon_max))
    return inside_lat & (lo >= box.lon_min) & (lo <= box.lon_max)


def _time_filter(start_ms: int | None, end_ms: int | None) -> ds.Expression | None:
    cond = None
    if start_ms is not None:
        cond = ds.field("t_ms") >= start_ms
    if end_ms is not None:
        upper = ds.field("t_ms") < end_ms
        cond = upper if cond is None else cond & upper
    return cond


def _in_range(days: list[str], start_ms: int | None, end_ms: int | None) -> list[str]:
    """The days of `days` (names) that [start_ms, end_ms) touches (None: unbounded)."""
    if start_ms is not None:
        days = [d for d in days if d >= day_name(start_ms // DAY_MS)]
    if end_ms is not None:
        days = [d for d in days if d <= day_name((end_ms - 1) // DAY_MS)]
    return days


def sealed_days_in(archive: HitArchive, start_ms: int | None, end_ms: int | None) -> list[str]:
    """The sealed days [start_ms, end_ms) touches, oldest first."""
    return _in_range(archive.sealed_days(), start_ms, end_ms)


def read_hits(archive: HitArchive, start_ms: int | None = None, end_ms: int | None = None,
              columns: Sequence[str] | None = None) -> pa.Table:
    """Hits with start_ms <= t_ms < end_ms from the sealed days, in (t_ms, hit_id) order."""
    files = [f for d in sealed_days_in(archive, start_ms, end_ms) for f in archive.day_files(d)]
    wanted = list(columns) if columns is not None else SCHEMA.names
    if not files:
        return SCHEMA.empty_table().select(wanted)
    need = list(dict.fromkeys([*wanted, "t_ms", "hit_id"]))
    table = ds.dataset(files, schema=SCHEMA, format="parquet", filesystem=archive.fs).to_table(
        columns=need, filter=_time_filter(start_ms, end_ms))
    return sort_hits(table).select(wanted)


def _run(archive: HitArchive, files: list[str], columns: list[str], where: ds.Expression | None,
         batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The rows of files that follow each other in (t_ms, hit_id) order, batch by batch, in that
    order (the scanner yields fragments and their batches in order; only the row groups whose
    statistics can match are read)."""
    data = ds.dataset(files, schema=SCHEMA, format="parquet", filesystem=archive.fs)
    for batch in data.scanner(columns=columns, filter=where, batch_size=batch_rows).to_batches():
        if batch.num_rows:
            yield batch


def _at_most(table: pa.Table, t: int, hit_id: str) -> int:
    """How many leading rows of a sorted table come at or before (t, hit_id)."""
    ts, ids = table.column("t_ms"), table.column("hit_id")
    before = pc.or_(pc.less(ts, t), pc.and_(pc.equal(ts, t), pc.less_equal(ids, hit_id)))
    return pc.sum(before).as_py() or 0


def _merge(runs: list[Iterator[pa.RecordBatch]]) -> Iterator[pa.Table]:
    """Sorted runs -> their rows in (t_ms, hit_id) order, holding one batch per run: what comes
    at or before the smallest last key of the runs still going is complete, so it goes out."""
    held: list[pa.Table | None] = [None] * len(runs)
    live = [True] * len(runs)
    while True:
        for i, run in enumerate(runs):
            if live[i] and (held[i] is None or not held[i].num_rows):
                batch = next(run, None)
                if batch is None:
                    live[i] = False
                else:
                    held[i] = pa.Table.from_batches([batch])
        tables = [t for t in held if t is not None and t.num_rows]
        if not tables:
            return
        bounds = [(t.column("t_ms")[-1].as_py(), t.column("hit_id")[-1].as_py())
                  for t, on in zip(held, live) if on and t is not None and t.num_rows]
        if not bounds:
            yield sort_hits(pa.concat_tables(tables))
            return
        bound = min(bounds)
        out = []
        for i, t in enumerate(held):
            if t is None or not t.num_rows:
                continue
            n = _at_most(t, *bound)
            out.append(t.slice(0, n))
            held[i] = t.slice(n)
        yield sort_hits(pa.concat_tables(out))


def _day_runs(archive: HitArchive, day: str) -> tuple[list[str], list[str]]:
    files = archive.day_files(day)
    late = [f for f in files if f.rsplit("/", 1)[-1].startswith(LATE_PREFIX)]
    return [f for f in files if f not in late], late


def scan_hits(archive: HitArchive, days: Iterable[str], start_ms: int | None, end_ms: int | None,
              columns: Sequence[str] | None = None, where: ds.Expression | None = None,
              batch_rows: int = SCAN_BATCH_ROWS) -> Iterator[pa.Table]:
    """The hits of the sealed `days` (oldest first) with start_ms <= t_ms < end_ms that match
    `where`, in (t_ms, hit_id) order, as tables of up to about `batch_rows` rows per run.

    Memory holds one batch of each of a day's runs at a time. The columns include t_ms and hit_id
    (the merge keys) whether asked for or not."""
    wanted = list(dict.fromkeys([*(columns or SCHEMA.names), "t_ms", "hit_id"]))
    cond = _time_filter(start_ms, end_ms)
    if where is not None:
        cond = where if cond is None else cond & where
    for day in days:
        parts, late = _day_runs(archive, day)
        runs = [_run(archive, files, wanted, cond, batch_rows)
                for files in ([parts] if parts else []) + [[f] for f in late]]
        if len(runs) == 1:
            for batch in runs[0]:
                yield pa.Table.from_batches([batch])
        elif runs:
            for table in _merge(runs):
                if table.num_rows:
                    yield table


"""The hits of a stream (format=ndjson|parquet), from the Parquet archive where it is complete.

A day the archive holds completely (sealed, nothing staged for it: crayfis/archive/reader.py
`complete_days`) is read from the archive; the other days of the range from Elasticsearch
under one point in time. Both give the same rows for a day (the archive holds each indexed hit
once, and only hits, as the stream's query selects `is_hit`), with the same filters: time range,
device pseudonym (`device_id` in the archive), and the box with the same edges (the exact view's
on the position, crayfis/es/geobox.py; the public view's on the public cell centre, from the one
cell rule, crayfis/privacy.py). So a stream is the same bytes whichever store answers a day.

Rows come out as hit sources shaped like the Elasticsearch documents (`hit_id`, `t_ms`,
`device`, `location`, `cell`, `cell_location`, `gps_accuracy`, ...), in (t_ms, hit_id) order,
in batches of CRAYFIS_API_STREAM_BATCH, at most `max_rows` of them: the view (api/es_queries.py
`hit_view`) and the formats are the same code for both. Days are disjoint in time, so the
stream is the days' rows one segment after the other.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
from django.conf import settings

from api import es_queries
from crayfis.archive.reader import complete_days, days_of, in_box, scan_hits
from crayfis.archive.store import HitArchive, day_start_ms
from crayfis.definition import DAY_MS
from crayfis.privacy import public_cells
from indexer.archive import archive_from_settings

logger = logging.getLogger(__name__)

__all__ = ["Segment", "hit_sources", "plan"]

EXACT_COLUMNS = ["hit_id", "t_ms", "device_id", "lat", "lon", "gps_accuracy", "altitude", "t_nano", "n_pix",
                 "max_val", "model"]
PUBLIC_COLUMNS = ["hit_id", "t_ms", "lat", "lon", "n_pix", "max_val"]
Batches = Iterator[list[dict]]


@dataclass(frozen=True)
class Segment:
    """[from_ms, to_ms) answered from the archive or from Elasticsearch."""

    from_ms: int
    to_ms: int
    archive: bool


def stream_archive() -> HitArchive | None:
    """The archive streams read, or None (no archive, or CRAYFIS_API_ARCHIVE_READS off)."""
    if not settings.CRAYFIS_API_ARCHIVE_READS:
        return None
    return archive_from_settings()


def plan(archive: HitArchive | None, from_ms: int, to_ms: int) -> list[Segment]:
    """[from_ms, to_ms) cut into runs of days of one store each, in time order. An archive
    that cannot be listed answers nothing (Elasticsearch answers the whole range)."""
    complete: set[str] = set()
    if archive is not None:
        try:
            complete = complete_days(archive, from_ms, to_ms)
        except OSError as exc:
            logger.warning("read API: the archive cannot be listed, streaming from Elasticsearch: %s", exc)
    segments: list[Segment] = []
    at = from_ms
    for day in sorted(complete):
        start = day_start_ms(day)
        lo, hi = max(from_ms, start), min(to_ms, start + DAY_MS)
        if lo > at:
            segments.append(Segment(at, lo, False))
        if segments and segments[-1].archive and segments[-1].to_ms == lo:
            segments[-1] = Segment(segments[-1].from_ms, hi, True)
        else:
            segments.append(Segment(lo, hi, True))
        at = hi
    if at < to_ms:
        segments.append(Segment(at, to_ms, False))
    return segments


def _es_query(query: dict, segments: list[Segment]) -> dict:
    """The stream's query restricted to the segments Elasticsearch answers."""
    ranges = [es_queries.time_range("t_ms", s.from_ms, s.to_ms) for s in segments if not s.archive]
    return {"bool": {"filter": [query, {"bool": {"should": ranges, "minimum_should_match": 1}}]}}


def _with_cells(table: pa.Table) -> pa.Table:
    """The table with each hit's public cell (`cell`, `cell_lat`, `cell_lon`; null without a fix)."""
    lat = table.column("lat").to_numpy(zero_copy_only=False)
    lon = table.column("lon").to_numpy(zero_copy_only=False)
    ids, clat, clon = public_cells(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64))
    return (table.append_column("cell", pa.array(ids, pa.string()))
            .append_column("cell_lat", pa.array(clat, pa.float64(), mask=np.isnan(clat)))
            .append_column("cell_lon", pa.array(clon, pa.float64(), mask=np.isnan(clon))))


def _point(lat, lon) -> dict | None:
    return None if lat is None or lon is None else {"lat": lat, "lon": lon}


def _sources(table: pa.Table, exact: bool) -> list[dict]:
    """Archive rows as hit sources, the fields named as in the hit documents."""
    c = table.to_pydict()
    common = zip(c["hit_id"], c["t_ms"], c["cell"], c["cell_lat"], c["cell_lon"], c["n_pix"], c["max_val"],
                 strict=True)
    out = [{"hit_id": hid, "t_ms": t, "cell": cell, "cell_location": _point(clat, clon), "n_pix": n_pix,
            "max_val": max_val} for hid, t, cell, clat, clon, n_pix, max_val in common]
    if exact:
        more = zip(out, c["device_id"], c["lat"], c["lon"], c["gps_accuracy"], c["altitude"], c["t_nano"],
                   c["model"], strict=True)
        for src, device, lat, lon, accuracy, altitude, t_nano, model in more:
            src.update(device=device, location=_point(lat, lon), gps_accuracy=accuracy, altitude=altitude,
                       t_nano=t_nano, model=model)
    return out


def _archive_rows(archive: HitArchive, segment: Segment, *, exact: bool, bbox, devices) -> Iterator[list[dict]]:
    where = None
    if devices:
        where = ds.field("device_id").isin(list(devices))
    if bbox is not None and exact:
        box = in_box("lat", "lon", bbox)
        where = box if where is None else where & box
    public_box = in_box("cell_lat", "cell_lon", bbox) if bbox is not None and not exact else None
    days = days_of(segment.from_ms, segment.to_ms)
    columns = EXACT_COLUMNS if exact else PUBLIC_COLUMNS
    for table in scan_hits(archive, days, segment.from_ms, segment.to_ms, columns, where,
                           batch_rows=settings.CRAYFIS_API_STREAM_BATCH):
        table = _with_cells(table)
        if public_box is not None:
            table = table.filter(public_box)
        if table.num_rows:
            yield _sources(table, exact)


def _before(held: list[dict], batches: Batches, bound: int) -> tuple[list[dict], list[dict]]:
    """The next rows of `batches` (after `held`) with t_ms < bound, and what follows them."""
    rows = held or next(batches, None) or []
    if not rows:
        return [], []
    if rows[-1]["t_ms"] < bound:
        return rows, []
    n = next(i for i, r in enumerate(rows) if r["t_ms"] >= bound)
    return rows[:n], rows[n:]


def _segments(segments: list[Segment], es_rows: Batches, archive_rows: Callable[[Segment], Batches]) -> Batches:
    held: list[dict] = []
    for segment in segments:
        if segment.archive:
            yield from archive_rows(segment)
            continue
        while True:
            rows, held = _before(held, es_rows, segment.to_ms)
            if rows:
                yield rows
            if held or not rows:
                break


def _rebatch(batches: Batches, size: int, max_rows: int) -> Batches:
    """Batches of `size` rows (the last one shorter), at most `max_rows` rows in all."""
    out: list[dict] = []
    sent = 0
    for rows in batches:
        out.extend(rows[: max_rows - sent - len(out)])
        while len(out) >= size:
            yield out[:size]
            sent += size
            out = out[size:]
        if sent + len(out) >= max_rows:
            break
    if out:
        yield out


def hit_sources(es, prefix: str, query: dict, fields: tuple[str, ...], from_ms: int, to_ms: int, *,
                exact: bool, bbox, devices, max_rows: int) -> Batches:
    """The stream's hit sources in (t_ms, hit_id) order, batch by batch (see the module docstring).

    Elasticsearch's point in time is opened and its first batch read here, before any byte is
    sent, so an unreachable index raises now (the caller answers 503), not halfway."""
    batch = settings.CRAYFIS_API_STREAM_BATCH
    archive = stream_archive()
    segments = plan(archive, from_ms, to_ms)
    es_segments = [s for s in segments if not s.archive]
    scan = None
    first = None
    if es_segments:
        index = es_queries.month_indices(prefix, "hits", es_segments[0].from_ms, es_segments[-1].to_ms)
        es_query = query if len(es_segments) == len(segments) else _es_query(query, segments)
        scan = es_queries.scan_sorted(es, index, es_query, es_queries.HIT_SORT, batch, max_rows, fields)
        first = next(scan, None)

    def archive_rows(segment: Segment) -> Batches:
        return _archive_rows(archive, segment, exact=exact, bbox=bbox, devices=devices)

    def stream() -> Batches:
        es_rows = chain([first], scan) if first is not None else iter(())
        try:
            yield from _rebatch(_segments(segments, es_rows, archive_rows), batch, max_rows)
        finally:
            if scan is not None:
                scan.close()   # closes the point in time now, however the stream ends

    return stream()

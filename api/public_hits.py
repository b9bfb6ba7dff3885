"""The anonymous view of hits: whole seconds, no device, and nothing that orders hits within a second.

Truncating each hit's time to its second (docs/security.md, "Hits") is undone if anything
else an anonymous reader gets depends on the exact time. Three things would:

- the range: `from_ms`/`to_ms` in milliseconds bisect a second in a few requests (does a hit
  fall in [x, x + 1)?), so anonymous bounds are widened to whole seconds (``whole_seconds``);
- the order: rows sorted by exact time tell which of a second's hits came first, and a page
  boundary with limit=1 would spell that order out; so anonymous rows are ordered by (second,
  hit_id) and pages hold whole seconds (``page``), a second bigger than a page being paged by
  hit_id;
- the cursor: a search_after cursor holds the exact time of a page's last row; the anonymous
  cursor is (second, last hit_id of a second cut by the page, or "").

Hit ids are opaque hashes (crayfis/es/documents.py) and carry no time.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from crayfis.definition import SECOND_MS

__all__ = ["Cursor", "Search", "floor_second", "page", "reorder", "whole_seconds"]

Cursor = tuple[int, str]   # (second start ms, last hit_id already given of that second, or "")
# (query, sort, size) -> sources in that order
Search = Callable[[dict, list, int], list[dict]]
SECOND_ORDER = [{"hit_id": "asc"}]
EXACT_ORDER = [{"t_ms": "asc"}, {"hit_id": "asc"}]


def floor_second(t_ms: int) -> int:
    return int(t_ms) - int(t_ms) % SECOND_MS


def whole_seconds(from_ms: int, to_ms: int) -> tuple[int, int]:
    """[from, to) widened to whole seconds."""
    return floor_second(from_ms), -(-int(to_ms) // SECOND_MS) * SECOND_MS


def _and(query: dict, *filters: dict) -> dict:
    return {"bool": {"filter": [query, *filters]}}


def _second(s: int) -> dict:
    return {"range": {"t_ms": {"gte": s, "lt": s + SECOND_MS, "format": "epoch_millis"}}}


def _after(cursor: Cursor | None) -> list[dict]:
    """Filters for what follows the cursor in (second, hit_id) order."""
    if cursor is None:
        return []
    s, last = cursor
    later = {"range": {"t_ms": {"gte": s + (SECOND_MS if last else 0), "format": "epoch_millis"}}}
    if not last:
        return [later]
    rest_of_second = {"bool": {"filter": [_second(s), {"range": {"hit_id": {"gt": last}}}]}}
    return [{"bool": {"should": [later, rest_of_second], "minimum_should_match": 1}}]


def _ordered(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (floor_second(r["t_ms"]), r["hit_id"]))


def page(search: Search, query: dict, size: int, cursor: Cursor | None) -> tuple[list[dict], Cursor | None]:
    """One anonymous page of hit sources in (second, hit_id) order, and the next cursor.

    Reads the next size + 1 hits in exact order: if they span several seconds, the page is the
    seconds the read holds whole (the last one may be cut, so it starts the next page); if they
    all fall in one second, that second is paged by hit_id.
    """
    rows = search(_and(query, *_after(cursor)), EXACT_ORDER, size + 1)
    if len(rows) <= size:
        return _ordered(rows), None
    last = floor_second(rows[-1]["t_ms"])
    whole = [r for r in rows if floor_second(r["t_ms"]) != last]
    if whole:
        return _ordered(whole), (last, "")
    since = cursor[1] if cursor is not None and cursor[0] == last else ""
    filters = [_second(last)] + ([{"range": {"hit_id": {"gt": since}}}] if since else [])
    inside = search(_and(query, *filters), SECOND_ORDER, size + 1)
    if len(inside) > size:
        return inside[:size], (last, inside[size - 1]["hit_id"])
    return inside, (last + SECOND_MS, "")


def reorder(batches: Iterable[list[dict]]) -> Iterator[list[dict]]:
    """Batches of hit views in exact-time order -> the same rows in (second, hit_id) order, one
    batch out per batch in; a second that a batch boundary cuts moves whole into the next one."""
    held: list[dict] = []
    batches = iter(batches)
    batch = next(batches, None)
    while batch is not None:
        following = next(batches, None)
        rows = held + batch
        if following is None:
            held = []
        elif rows:
            last = floor_second(rows[-1]["t_ms"])
            held = [r for r in rows if floor_second(r["t_ms"]) == last]
            rows = [r for r in rows if floor_second(r["t_ms"]) != last]
        if rows:
            yield _ordered(rows)
        batch = following

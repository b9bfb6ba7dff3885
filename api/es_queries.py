"""Elasticsearch queries of the read API, and what of a document each reader may see.

Privacy (crayfis/privacy.py, docs/security.md, docs/api.md): anonymous readers get the public
view only. A hit: its coarse 0.1-degree cell and its time in whole seconds, with no device
identity (api/public_hits.py keeps the order and the paging from telling more); their bounding
box filters on the cell centre, so a tiny box cannot locate a hit more finely than its cell. A
candidate: public ones only (k trusted members), with counts, times, cell and significance,
never its members or hits. Scientist keys get everything: the device pseudonym and exact time
and position of every hit, every candidate with its members and which of them are trusted. No
reply ever holds a raw Device-id (documents do not contain one).

Every search carries the server-side time limit CRAYFIS_ES_SEARCH_TIMEOUT_S (``_timeout``; counts
are searches of size 0, since a _count cannot carry one). An answer that the limit or a failed
shard cut short raises PartialResults (crayfis/es/partial.py): a page cut short would skip the
rows behind its cursor, so the read API answers 503 instead of a partial page.

Hit indices of both hit schemas (crayfis/es/templates.py, crayfis/es/legacy.py) are read at
once and answer alike: the exact box filter matches a geo_point `location` (schema 1) or the
same box on its two doubles (schema 2, crayfis/es/geobox.py); the cell centre is the public
value however the index returns `cell_location`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from elasticsearch import Elasticsearch

from api.public_hits import floor_second
from crayfis.es.candidates import CONTINUOUS, selection
from crayfis.es.geobox import box_ranges
from crayfis.es.naming import index_for, index_pattern
from crayfis.es.partial import require_complete, search_timeout

MAX_NAMED_MONTHS = 24      # beyond this, search the wildcard pattern (keeps the URL short)
CELL_DECIMALS = 6          # public cell centres are given to 6 decimals (crayfis/privacy.py)
HIT_SORT = [{"t_ms": "asc"}, {"hit_id": "asc"}]
CANDIDATE_SORT = [{"t_start_ms": "asc"}, {"candidate_id": "asc"}]

PUBLIC_HIT_FIELDS = ("hit_id", "t_ms", "cell", "cell_location", "n_pix", "max_val")
EXACT_HIT_FIELDS = PUBLIC_HIT_FIELDS + ("device", "location", "gps_accuracy", "altitude", "t_nano", "model")
PUBLIC_CANDIDATE_FIELDS = ("candidate_id", "source", "job_id", "t_start_ms", "t_end_ms", "n_hits", "n_devices",
                           "n_trusted_devices", "multiplicity", "cell", "cell_location", "n_triggered_anchors",
                           "expected_background", "p_value", "false_alarm_per_year", "tau_ms", "radius_m", "k")
EXACT_CANDIDATE_FIELDS = PUBLIC_CANDIDATE_FIELDS + ("devices", "trusted_devices", "hit_ids", "public", "location")


def month_indices(prefix: str, kind: str, from_ms: int, to_ms: int) -> str:
    """Comma-joined monthly indices covering [from_ms, to_ms), or the pattern for long spans."""
    start = dt.datetime.fromtimestamp(from_ms / 1000, dt.UTC).replace(day=1, hour=0, minute=0,
                                                                             second=0, microsecond=0)
    last = max(to_ms - 1, from_ms)
    names: list[str] = []
    cur = start
    while int(cur.timestamp() * 1000) <= last:
        names.append(index_for(prefix, kind, int(cur.timestamp() * 1000)))
        if len(names) > MAX_NAMED_MONTHS:
            return index_pattern(prefix, kind)
        cur = (cur + dt.timedelta(days=32)).replace(day=1)
    return ",".join(names)


def time_range(field: str, from_ms: int, to_ms: int) -> dict:
    return {"range": {field: {"gte": from_ms, "lt": to_ms, "format": "epoch_millis"}}}


def bbox_filter(field: str, bbox: tuple[float, float, float, float]) -> dict:
    """(min_lon, min_lat, max_lon, max_lat); min_lon > max_lon crosses the antimeridian,
    min_lat > max_lat is empty."""
    min_lon, min_lat, max_lon, max_lat = bbox
    if min_lat > max_lat:
        return {"match_none": {}}
    return {"geo_bounding_box": {field: {"top_left": {"lat": max_lat, "lon": min_lon},
                                         "bottom_right": {"lat": min_lat, "lon": max_lon}}}}


def exact_hit_bbox_filter(bbox: tuple[float, float, float, float]) -> dict:
    """A box on a hit's exact position, whichever hit schema its index has: a geo_point
    `location` (schema 1) or `location.lat` / `location.lon` (schema 2, the same points)."""
    min_lon, min_lat, max_lon, max_lat = bbox
    if min_lat > max_lat:
        return {"match_none": {}}
    geo = bbox_filter("location", bbox)
    geo["geo_bounding_box"]["ignore_unmapped"] = True
    return {"bool": {"should": [geo, box_ranges("location.lat", "location.lon", *bbox)],
                     "minimum_should_match": 1}}


def hits_query(from_ms: int, to_ms: int, *, exact: bool, bbox=None, devices=None) -> dict:
    filters: list[dict] = [time_range("t_ms", from_ms, to_ms), {"term": {"is_hit": True}}]
    if bbox is not None:
        filters.append(exact_hit_bbox_filter(bbox) if exact else bbox_filter("cell_location", bbox))
    if devices:
        filters.append({"terms": {"device": list(devices)}})
    return {"bool": {"filter": filters}}


def candidates_query(from_ms: int, to_ms: int, *, exact: bool, bbox=None, min_devices=None,
                     max_p_value=None, devices=None, source: str = CONTINUOUS, job_id: str | None = None) -> dict:
    """Candidates of one source (crayfis/es/candidates.py ``selection``: the continuous search's
    active ones unless source=batch), optionally of one run, that match the filters; without a
    key public ones only."""
    filters: list[dict] = [time_range("t_start_ms", from_ms, to_ms),
                           selection(source, job_id, public_only=not exact)]
    if bbox is not None:
        filters.append(bbox_filter("location" if exact else "cell_location", bbox))
    if min_devices is not None:
        filters.append({"range": {"n_devices": {"gte": min_devices}}})
    if max_p_value is not None:
        filters.append({"range": {"p_value": {"lte": max_p_value}}})
    if devices:
        filters.append({"terms": {"devices": list(devices)}})
    return {"bool": {"filter": filters}}


def _cell(src: dict) -> tuple[Any, Any]:
    loc = src.get("cell_location") or {}
    return loc.get("lat"), loc.get("lon")


def _hit_cell(src: dict) -> tuple[Any, Any]:
    """The public cell centre of a hit. A schema-2 index returns `cell_location` from its
    geo_point doc values, within 1e-7 degrees of the centre; rounded as the centre is, it is the
    centre again."""
    lat, lon = _cell(src)
    if lat is None or lon is None:
        return lat, lon
    return round(float(lat), CELL_DECIMALS), round(float(lon), CELL_DECIMALS)


def hit_view(src: dict, exact: bool) -> dict:
    """What one reader may see of a hit document: anonymously no device and whole seconds."""
    cell_lat, cell_lon = _hit_cell(src)
    out = {"hit_id": src["hit_id"], "t_ms": src["t_ms"] if exact else floor_second(src["t_ms"]),
           "cell": src.get("cell"), "cell_lat": cell_lat, "cell_lon": cell_lon, "n_pix": src.get("n_pix"),
           "max_val": src.get("max_val")}
    if exact:
        loc = src.get("location") or {}
        out.update(device=src.get("device"), lat=loc.get("lat"), lon=loc.get("lon"),
                   accuracy=src.get("gps_accuracy"), altitude=src.get("altitude"), t_nano=src.get("t_nano"),
                   model=src.get("model"))
    return out


def candidate_view(src: dict, exact: bool) -> dict:
    """What one reader may see of a candidate: anonymously counts, times, cell, significance."""
    cell_lat, cell_lon = _cell(src)
    out = {k: src.get(k) for k in ("candidate_id", "source", "job_id", "t_start_ms", "t_end_ms", "n_hits",
                                    "n_devices", "multiplicity", "n_triggered_anchors", "expected_background",
                                    "p_value", "false_alarm_per_year", "tau_ms", "radius_m", "k", "cell")}
    out.update(n_trusted_devices=src.get("n_trusted_devices") or 0, cell_lat=cell_lat, cell_lon=cell_lon)
    if exact:
        loc = src.get("location") or {}
        out.update(devices=list(src.get("devices") or []), trusted_devices=list(src.get("trusted_devices") or []),
                   hit_ids=list(src.get("hit_ids") or []), public=src.get("public") is True,
                   lat=loc.get("lat"), lon=loc.get("lon"))
    return out


def _timeout() -> str:
    return search_timeout(settings.CRAYFIS_ES_SEARCH_TIMEOUT_S)


def search_page(es: Elasticsearch, index: str, query: dict, sort: list, size: int, after: list | None,
                fields: tuple[str, ...]) -> tuple[list[dict], list | None]:
    """One page sorted on a unique key: (sources, sort values of the last one if more follow)."""
    resp = es.search(index=index, query=query, sort=sort, size=size + 1, search_after=after,
                     source_includes=list(fields), track_total_hits=False, timeout=_timeout(),
                     ignore_unavailable=True, allow_no_indices=True)
    require_complete(resp, "read API page")
    hits = resp["hits"]["hits"]
    more = len(hits) > size
    hits = hits[:size]
    return [h["_source"] for h in hits], (hits[-1]["sort"] if more and hits else None)


def scan_sorted(es: Elasticsearch, index: str, query: dict, sort: list, batch: int, max_rows: int,
                fields: tuple[str, ...]) -> Iterator[list[dict]]:
    """Every match in sort order, batch by batch, under one point in time (a consistent view
    while indexing goes on); the point in time is closed however the caller stops."""
    try:
        pit = es.open_point_in_time(index=index, keep_alive="2m", ignore_unavailable=True,
                                    allow_partial_search_results=False)["id"]
    except Exception as exc:  # no such index: nothing to stream
        if getattr(exc, "status_code", None) == 404 or getattr(exc, "meta", None) and exc.meta.status == 404:
            return
        raise
    after, sent = None, 0
    try:
        while sent < max_rows:
            resp = es.search(pit={"id": pit, "keep_alive": "2m"}, query=query, sort=sort,
                             size=min(batch, max_rows - sent), search_after=after,
                             source_includes=list(fields), track_total_hits=False, timeout=_timeout())
            require_complete(resp, "read API stream")
            pit = resp.get("pit_id", pit)
            hits = resp["hits"]["hits"]
            if not hits:
                return
            sent += len(hits)
            yield [h["_source"] for h in hits]
            after = hits[-1]["sort"]
    finally:
        try:
            es.close_point_in_time(id=pit)
        except Exception:  # the PIT expires by itself
            pass


def network_stats(es: Elasticsearch, prefix: str, from_ms: int, to_ms: int, *, exact: bool) -> dict:
    """Counts over [from_ms, to_ms): hits, devices, public cells, exposure hours, candidates
    (without a key: public candidates, and first/last hit times in whole seconds)."""
    hits = es.search(index=month_indices(prefix, "hits", from_ms, to_ms), size=0, track_total_hits=True,
                     query=hits_query(from_ms, to_ms, exact=False), ignore_unavailable=True,
                     allow_no_indices=True, timeout=_timeout(),
                     aggs={"devices": {"cardinality": {"field": "device", "precision_threshold": 3000}},
                           "cells": {"cardinality": {"field": "cell", "precision_threshold": 3000}},
                           "first": {"min": {"field": "t_ms"}}, "last": {"max": {"field": "t_ms"}}})
    xb = es.search(index=month_indices(prefix, "exposures", from_ms, to_ms), size=0, track_total_hits=False,
                   query={"bool": {"filter": [time_range("start_ms", from_ms, to_ms), {"term": {"state": "DATA"}}]}},
                   ignore_unavailable=True, allow_no_indices=True, timeout=_timeout(),
                   aggs={"live": {"sum": {"field": "live_s"}},
                         "devices": {"cardinality": {"field": "device", "precision_threshold": 3000}}})
    cands = es.search(index=index_pattern(prefix, "candidates"), size=0, track_total_hits=True,
                      ignore_unavailable=True, allow_no_indices=True, timeout=_timeout(),
                      query={"bool": {"filter": [time_range("t_start_ms", from_ms, to_ms),
                                                 selection(public_only=not exact)]}})
    for resp in (hits, xb, cands):
        require_complete(resp, "network statistics")
    ha = hits.get("aggregations") or {}          # absent when no index matched
    xa = xb.get("aggregations") or {}
    first, last = _agg(ha, "first"), _agg(ha, "last")
    return {
        "from_ms": from_ms, "to_ms": to_ms,
        "hits": hits["hits"]["total"]["value"],
        "devices": int(_agg(ha, "devices") or 0),
        "cells": int(_agg(ha, "cells") or 0),
        "first_hit_ms": _time_shown(first, exact),
        "last_hit_ms": _time_shown(last, exact),
        "exposure_hours": round((_agg(xa, "live") or 0.0) / 3600.0, 6),
        "live_devices": int(_agg(xa, "devices") or 0),
        "candidates": cands["hits"]["total"]["value"],
    }


def _time_shown(t_ms, exact: bool) -> int | None:
    if t_ms is None:
        return None
    return int(t_ms) if exact else floor_second(int(t_ms))


def _agg(aggs: dict, name: str):
    return (aggs.get(name) or {}).get("value")

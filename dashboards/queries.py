"""The Elasticsearch aggregations behind every dashboard chart.

Each public function takes a client, the index prefix and `now_ms` (so tests and benchmarks can
pin the clock) and returns a JSON-ready dict. Each makes ONE round trip (an msearch when it needs
several searches) and asks only for aggregations or for whitelisted `_source` fields: the exact
`location` of a hit, exposure or candidate never leaves Elasticsearch, and raw device ids are
not even indexed (documents carry only pseudonyms).

Phone activity (active phones, the map, exposure, per-phone hit counts) comes from exposure
blocks, one per phone per ~3 minutes, about 60 times fewer documents than hits: every hit
arrives inside its exposure block, so a phone with hits in a window also has a block there.
"""
from __future__ import annotations

from dataclasses import dataclass

from crayfis.definition import DAY_MS, HOUR_MS, MINUTE_MS
from crayfis.es.candidates import selection
from dashboards import indices
from dashboards.public_positions import published_point

ACTIVE_NOW_MS = 10 * MINUTE_MS
SPANS = {"24h": (DAY_MS, 15 * MINUTE_MS), "7d": (7 * DAY_MS, HOUR_MS)}  # span -> (length, bucket)
MAP_WINDOWS = {"10m": ACTIVE_NOW_MS, "24h": DAY_MS}
CANDIDATE_SOURCE = ["candidate_id", "n_hits", "n_devices", "multiplicity", "t_start_ms", "t_end_ms",
                    "n_triggered_anchors", "expected_background", "p_value", "false_alarm_per_year",
                    "revision", "updated_at", "status", "retraction", "merged_into", "cell",
                    "cell_location"]
HIT_PUBLIC_FIELDS = ["hit_id", "device", "t_ms", "cell", "cell_location"]
MAX_CANDIDATE_HITS = 10_000
MAX_TERMS = 10_000


class QueryError(RuntimeError):
    """Elasticsearch answered, but a search failed (bad mapping, shard failure)."""


@dataclass(frozen=True)
class Search:
    index: str
    body: dict


def msearch(es, searches: list[Search]) -> list[dict]:
    """Run searches in one round trip; missing indices count as empty, other errors raise."""
    lines: list[dict] = []
    for s in searches:
        lines.append({"index": s.index, "ignore_unavailable": True, "allow_no_indices": True})
        lines.append(s.body)
    responses = es.msearch(searches=lines)["responses"]
    for r in responses:
        if "error" in r:
            raise QueryError(str(r["error"])[:500])
    return responses


def _range(field: str, gte: int | None = None, lte: int | None = None) -> dict:
    bounds = {}
    if gte is not None:
        bounds["gte"] = gte
    if lte is not None:
        bounds["lte"] = lte
    return {"range": {field: bounds}}


def _live_between(since_ms: int, now_ms: int) -> dict:
    """Exposure blocks overlapping [since, now]."""
    return {"bool": {"filter": [_range("end_ms", gte=since_ms), _range("start_ms", lte=now_ms)]}}


def _data_blocks() -> dict:
    """Data-taking blocks: live time in CALIBRATION / PRECALIBRATION blocks is not exposure."""
    return {"bool": {"must_not": [{"terms": {"state": ["CALIBRATION", "PRECALIBRATION"]}}]}}


def _total(resp: dict) -> int:
    return int(resp["hits"]["total"]["value"])


def _value(aggs: dict, name: str) -> float:
    value = aggs.get(name, {}).get("value")
    return 0.0 if value is None else float(value)


def _buckets(resp: dict, name: str) -> list[dict]:
    return resp.get("aggregations", {}).get(name, {}).get("buckets", [])


# --- / -----------------------------------------------------------------------------------

def overview(es, prefix: str, now_ms: int) -> dict:
    """Headline numbers: active phones (10 min, 24 h), hits, exposure hours, candidates."""
    searches = [
        Search(indices.exposures(prefix), {
            "size": 0, "track_total_hits": True,
            "aggs": {"data": {"filter": _data_blocks(), "aggs": {"live_s": {"sum": {"field": "live_s"}}}},
                     "phones": {"cardinality": {"field": "device"}},
                     "day": {"filter": _live_between(now_ms - DAY_MS, now_ms),
                             "aggs": {"n": {"cardinality": {"field": "device"}}}},
                     "now": {"filter": _live_between(now_ms - ACTIVE_NOW_MS, now_ms),
                             "aggs": {"n": {"cardinality": {"field": "device"}}}}}}),
        Search(indices.hits(prefix), {
            "size": 0, "track_total_hits": True,
            "aggs": {"day": {"filter": _range("t_ms", now_ms - DAY_MS, now_ms)}}}),
        Search(indices.candidates(prefix), {
            "size": 0, "track_total_hits": True, "query": selection()}),
    ]
    expo, hits, cands = msearch(es, searches)
    ea = expo.get("aggregations", {})
    return {
        "now_ms": now_ms,
        "active_phones_10m": int(ea.get("now", {}).get("n", {}).get("value") or 0),
        "active_phones_24h": int(ea.get("day", {}).get("n", {}).get("value") or 0),
        "phones_total": int(_value(ea, "phones")),
        "exposure_hours_total": round(_value(ea.get("data", {}), "live_s") / 3600.0, 2),
        "exposure_blocks_total": int(ea.get("data", {}).get("doc_count", 0)),
        "hits_24h": int(hits.get("aggregations", {}).get("day", {}).get("doc_count", 0)),
        "hits_total": _total(hits),
        "candidates_total": _total(cands),
    }


def _histogram(field: str, first: int, last: int, bucket: int) -> dict:
    return {"date_histogram": {"field": field, "fixed_interval": f"{bucket // 1000}s", "min_doc_count": 0,
                               "extended_bounds": {"min": first, "max": last},
                               "hard_bounds": {"min": first, "max": last + bucket}}}


def rates(es, prefix: str, now_ms: int, span: str) -> dict:
    """Hits per minute over the last 24 h (15-min buckets) or 7 d (1-h buckets), the phones live
    in each bucket, and hits per live phone-minute.

    Counted from exposure blocks (each block's events at its start time), not from the hits:
    60 times fewer documents. Buckets are whole numbers of 180 s blocks, so a phone running
    without pause adds the same number of blocks to every bucket. The newest bucket is still
    running: it is divided by its elapsed minutes (and blocks still being recorded are missing).
    """
    length, bucket = SPANS[span]
    last = now_ms - now_ms % bucket  # the running bucket
    first = last - length + bucket
    body = {"size": 0, "track_total_hits": False,
            "query": {"bool": {"filter": [_range("start_ms", first, last + bucket - 1), _data_blocks()]}},
            "aggs": {"t": {**_histogram("start_ms", first, last, bucket),
                           "aggs": {"events": {"sum": {"field": "n_events"}},
                                    "live_s": {"sum": {"field": "live_s"}},
                                    "phones": {"cardinality": {"field": "device"}}}}}}
    (resp,) = msearch(es, [Search(indices.exposures(prefix), body)])
    by_key = {int(b["key"]): b for b in _buckets(resp, "t")}
    keys = list(range(first, last + 1, bucket))
    per_min, phones, per_live_min, total = [], [], [], 0
    for k in keys:
        b = by_key.get(k)
        events = int(b["events"]["value"] or 0) if b else 0
        live_min = float(b["live_s"]["value"] or 0.0) / 60.0 if b else 0.0
        minutes = max(min(bucket, now_ms - k), MINUTE_MS) / MINUTE_MS
        total += events
        per_min.append(round(events / minutes, 3))
        phones.append(int(b["phones"]["value"]) if b else 0)
        per_live_min.append(round(events / live_min, 3) if live_min > 0 else None)
    return {"span": span, "now_ms": now_ms, "bucket_ms": bucket, "t_ms": keys, "hits_per_min": per_min,
            "phones": phones, "hits_per_live_min": per_live_min, "total_hits": total}


def activity_map(es, prefix: str, now_ms: int, window: str, precision: int) -> dict:
    """Phones live in the window per coarse grid tile, placed at their public cells' centre."""
    since = now_ms - MAP_WINDOWS[window]
    body = {"size": 0, "track_total_hits": False, "query": _live_between(since, now_ms),
            "aggs": {"tiles": {"geotile_grid": {"field": "cell_location", "precision": precision,
                                                "size": MAX_TERMS},
                               "aggs": {"phones": {"cardinality": {"field": "device"}},
                                        "hits": {"sum": {"field": "n_events"}},
                                        "centre": {"geo_centroid": {"field": "cell_location"}}}}}}
    (resp,) = msearch(es, [Search(indices.exposures(prefix), body)])
    tiles = []
    for b in _buckets(resp, "tiles"):
        point = published_point(b["centre"].get("location"))
        if point is None:
            continue
        tiles.append({"tile": b["key"], "lat": point[0], "lon": point[1],
                      "phones": int(b["phones"]["value"]), "hits": int(b["hits"]["value"] or 0)})
    tiles.sort(key=lambda t: -t["phones"])
    return {"window": window, "precision": precision, "since_ms": since, "now_ms": now_ms,
            "tiles": tiles, "phones": sum(t["phones"] for t in tiles)}


# --- candidates ----------------------------------------------------------------------------
# The pages show the continuous search's catalogue (crayfis/es/candidates.py ``selection``): a
# shower a batch run also found is shown once, as the continuous search's candidate.

def public_candidate(src: dict) -> dict:
    """A candidate as published: place = its public cell, no exact centroid, no hit ids."""
    out = {k: src.get(k) for k in ("candidate_id", "n_hits", "n_devices", "multiplicity", "t_start_ms",
                                   "t_end_ms", "n_triggered_anchors", "expected_background", "p_value",
                                   "false_alarm_per_year", "revision", "updated_at", "status",
                                   "retraction", "merged_into")}
    point = published_point(src.get("cell_location"))
    out["lat"], out["lon"] = point if point is not None else (None, None)
    out["cell"] = src.get("cell") if point is not None else None
    return out


def candidates(es, prefix: str, limit: int, offset: int, include_retracted: bool = False) -> dict:
    """Candidates, newest first: time, coarse place, devices, significance."""
    body = {"size": limit, "from": offset, "track_total_hits": True,
            "query": selection(include_retracted=include_retracted),
            "sort": [{"t_start_ms": {"order": "desc", "unmapped_type": "long"}}],
            "_source": CANDIDATE_SOURCE}
    (resp,) = msearch(es, [Search(indices.candidates(prefix), body)])
    items = [public_candidate(h["_source"]) for h in resp["hits"]["hits"]]
    return {"total": _total(resp), "limit": limit, "offset": offset, "candidates": items}


def candidate_detail(es, prefix: str, candidate_id: str) -> dict | None:
    """One candidate with its hits' devices, public cells and time offsets, and the
    multiplicity distribution of all candidates (to set this one against)."""
    find = {"size": 1, "query": {"bool": {"filter": [{"term": {"candidate_id": candidate_id}},
                                                     selection(include_retracted=True)]}},
            "_source": CANDIDATE_SOURCE + ["hit_ids"]}
    multiplicity = {"size": 0, "track_total_hits": False, "query": selection(),
                    "aggs": {"m": {"terms": {"field": "n_devices", "size": 500,
                                             "order": {"_key": "asc"}}}}}
    found, mult = msearch(es, [Search(indices.candidates(prefix), find),
                               Search(indices.candidates(prefix), multiplicity)])
    if not found["hits"]["hits"]:
        return None
    src = found["hits"]["hits"][0]["_source"]
    hit_ids = [str(h) for h in (src.get("hit_ids") or [])][:MAX_CANDIDATE_HITS]
    hits: list[dict] = []
    if hit_ids:
        # A hit's `_id` is its hit_id (crayfis/es/documents.py); schema-2 hit indices keep no
        # inverted index of hit_id, so the lookup goes by `_id`. Ties in t_ms go by hit_id.
        body = {"size": len(hit_ids), "query": {"ids": {"values": hit_ids}},
                "_source": HIT_PUBLIC_FIELDS, "sort": [{"t_ms": "asc"}, {"hit_id": "asc"}]}
        (resp,) = msearch(es, [Search(indices.hits(prefix), body)])
        hits = [h["_source"] for h in resp["hits"]["hits"]]
    out = public_candidate(src)
    t0 = out.get("t_start_ms")
    if t0 is None and hits:
        t0 = min(int(h["t_ms"]) for h in hits)
    out["hits"] = [{"device": h.get("device"), "offset_ms": int(h["t_ms"]) - int(t0), "cell": h.get("cell")}
                   for h in hits]
    cells: dict[tuple, dict] = {}
    for h in hits:
        point = published_point(h.get("cell_location"))
        if point is not None:
            cell = cells.setdefault(point, {"devices": set(), "hits": 0})
            cell["devices"].add(h.get("device"))
            cell["hits"] += 1
    out["cells"] = [{"lat": p[0], "lon": p[1], "phones": len(c["devices"]), "hits": c["hits"]}
                    for p, c in cells.items()]
    out["multiplicity_distribution"] = [{"n_devices": int(b["key"]), "candidates": int(b["doc_count"])}
                           for b in _buckets(mult, "m")]
    return out


# --- a device, the leaderboard ------------------------------------------------------------

def device(es, prefix: str, pseudonym: str, now_ms: int) -> dict | None:
    """A volunteer's phone: hit rate, exposure, calibration state, candidates it is in."""
    last = now_ms - now_ms % HOUR_MS
    first = last - 7 * DAY_MS + HOUR_MS
    mine = {"term": {"device": pseudonym}}
    searches = [
        Search(indices.hits(prefix), {
            "size": 0, "track_total_hits": True, "query": mine,
            "aggs": {"first": {"min": {"field": "t_ms"}}, "last": {"max": {"field": "t_ms"}},
                     "week": {"filter": _range("t_ms", first, now_ms),
                              "aggs": {"t": _histogram("t_ms", first, last, HOUR_MS)}}}}),
        Search(indices.exposures(prefix), {
            "size": 1, "track_total_hits": True, "query": mine,
            "sort": [{"end_ms": {"order": "desc", "unmapped_type": "long"}}],
            "_source": ["end_ms", "state", "l1_threshold", "l2_threshold", "res_x", "res_y", "model"],
            "aggs": {"data": {"filter": _data_blocks(), "aggs": {"live_s": {"sum": {"field": "live_s"}}}},
                     "aborted": {"filter": {"term": {"aborted": True}}},
                     "week": {"filter": {"bool": {"filter": [_range("end_ms", gte=first), _data_blocks()]}},
                              "aggs": {"live_s": {"sum": {"field": "live_s"}},
                                       "events": {"sum": {"field": "n_events"}}}}}}),
        Search(indices.calibrations(prefix), {
            "size": 1, "query": mine, "_source": ["end_ms", "start_ms", "n_frames", "run"],
            "sort": [{"end_ms": {"order": "desc", "unmapped_type": "long"}}]}),
        Search(indices.candidates(prefix), {
            "size": 50, "track_total_hits": True,
            "query": {"bool": {"filter": [{"term": {"devices": pseudonym}}, selection()]}},
            "sort": [{"t_start_ms": {"order": "desc", "unmapped_type": "long"}}],
            "_source": CANDIDATE_SOURCE}),
    ]
    hits, expo, calib, cands = msearch(es, searches)
    n_hits, n_blocks = _total(hits), _total(expo)
    if n_hits == 0 and n_blocks == 0:
        return None
    ha, ea = hits.get("aggregations", {}), expo.get("aggregations", {})
    week_live_s = float(ea["week"]["live_s"]["value"] or 0.0)
    week_events = float(ea["week"]["events"]["value"] or 0.0)
    series = ha["week"]["t"]["buckets"]
    latest = expo["hits"]["hits"][0]["_source"] if expo["hits"]["hits"] else {}
    cal = calib["hits"]["hits"][0]["_source"] if calib["hits"]["hits"] else None
    calibration = {
        "state": latest.get("state"), "l1_threshold": latest.get("l1_threshold"),
        "l2_threshold": latest.get("l2_threshold"),
        "resolution": f"{latest['res_x']}x{latest['res_y']}" if latest.get("res_x") else None,
        "last_calibration_ms": cal.get("end_ms") if cal else None,
        "calibration_frames": cal.get("n_frames") if cal else None,
    } if (latest or cal) else None
    items = [public_candidate(h["_source"]) for h in cands["hits"]["hits"]]
    return {
        "device": pseudonym,
        "model": latest.get("model"),
        "hits_total": n_hits,
        "first_hit_ms": _int_or_none(ha["first"]["value"]),
        "last_hit_ms": _int_or_none(ha["last"]["value"]),
        "exposure_hours": round(_value(ea["data"], "live_s") / 3600.0, 3),
        "exposure_blocks": n_blocks,
        "aborted_blocks": int(ea["aborted"]["doc_count"]),
        "last_exposure_end_ms": _int_or_none(latest.get("end_ms")),
        "hits_per_min_7d": round(week_events / (week_live_s / 60.0), 3) if week_live_s > 0 else None,
        "hit_rate": {"bucket_ms": HOUR_MS, "t_ms": [int(b["key"]) for b in series],
                     "hits_per_min": [round(b["doc_count"] / 60.0, 3) for b in series]},
        "calibration": calibration,
        "candidates_total": _total(cands),
        "candidates": items,
    }


def _int_or_none(value) -> int | None:
    return None if value is None else int(value)


def leaderboard_inputs(es, prefix: str, now_ms: int, days: int) -> dict:
    """Per device over the last `days`: live seconds and events (exposure blocks), and the
    candidates it joined."""
    since = now_ms - days * DAY_MS
    searches = [
        Search(indices.exposures(prefix), {
            "size": 0, "track_total_hits": False,
            "query": {"bool": {"filter": [_live_between(since, now_ms), _data_blocks()]}},
            "aggs": {"d": {"terms": {"field": "device", "size": MAX_TERMS},
                           "aggs": {"live_s": {"sum": {"field": "live_s"}},
                                    "events": {"sum": {"field": "n_events"}}}}}}),
        Search(indices.candidates(prefix), {
            "size": 0, "track_total_hits": False,
            "query": {"bool": {"filter": [_range("t_start_ms", gte=since), selection()]}},
            "aggs": {"d": {"terms": {"field": "devices", "size": MAX_TERMS}}}}),
    ]
    expo, cands = msearch(es, searches)
    live, events = {}, {}
    for b in _buckets(expo, "d"):
        live[b["key"]] = float(b["live_s"]["value"] or 0.0)
        events[b["key"]] = int(b["events"]["value"] or 0)
    joined = {b["key"]: int(b["doc_count"]) for b in _buckets(cands, "d")}
    return {"since_ms": since, "live_s": live, "hits": events, "candidates": joined}

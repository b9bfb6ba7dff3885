"""Hits of given time ranges from Elasticsearch, as numpy columns for the kernel.

One point-in-time over the monthly hit indices the ranges touch, paged with search_after on
_shard_doc (the cheapest stable order), reading only hit_id, device, t_ms and the exact
location from _source (doc values of a geo_point are quantised; the search needs the position
as indexed). Hits without a position cannot take part and are not read.

The search needs every hit of its ranges: a partial answer (a time limit set on the cluster, a
failed shard) fails the pass (crayfis/es/partial.py ``require_complete``), which then searches
the same buckets again, instead of writing a catalogue from part of the hits.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch

from crayfis.definition import DAY_MS
from crayfis.es.naming import index_for, index_pattern
from crayfis.es.partial import require_complete
from search.incremental import HitBatch
from search.region import Interval

SOURCE = ["hit_id", "device", "t_ms", "location"]
_MONTH_MS = 28 * DAY_MS  # shorter than any month: stepping by it visits every month


def ranges_query(ranges: Sequence[Interval]) -> dict[str, Any]:
    """Hits with a position whose t_ms lies in one of the inclusive ranges."""
    should = [{"range": {"t_ms": {"gte": int(lo), "lte": int(hi), "format": "epoch_millis"}}}
              for lo, hi in ranges]
    return {"bool": {"filter": [{"exists": {"field": "location"}},
                                {"bool": {"should": should, "minimum_should_match": 1}}]}}


def month_indices(prefix: str, ranges: Sequence[Interval]) -> list[str]:
    """The monthly hit indices that can hold these times (hit indices are named by event month)."""
    names: set[str] = set()
    if sum(hi - lo for lo, hi in ranges) > 120 * _MONTH_MS:  # years: let the pattern match
        return [index_pattern(prefix, "hits")]
    for lo, hi in ranges:
        t = int(lo)
        while t <= hi:
            names.add(index_for(prefix, "hits", t))
            t += _MONTH_MS
        names.add(index_for(prefix, "hits", int(hi)))
    return sorted(names)


def _columns(sources: list[dict]) -> HitBatch:
    loc = [s.get("location") or {} for s in sources]
    return HitBatch(
        hit_id=[s["hit_id"] for s in sources],
        device=[s.get("device") for s in sources],
        t_ms=np.fromiter((s["t_ms"] for s in sources), dtype=np.int64, count=len(sources)),
        lat=np.fromiter((p.get("lat", np.nan) for p in loc), dtype=np.float64, count=len(loc)),
        lon=np.fromiter((p.get("lon", np.nan) for p in loc), dtype=np.float64, count=len(loc)),
    )


class EsHitSource:
    """``HitSource`` over `{prefix}-hits-YYYY.MM` (see search/continuous.py)."""

    def __init__(self, es: Elasticsearch, prefix: str, page_size: int):
        self.es, self.prefix, self.page_size = es, prefix, int(page_size)

    def _index(self, ranges: Sequence[Interval]) -> str:
        return ",".join(month_indices(self.prefix, ranges)) if ranges else index_pattern(self.prefix, "hits")

    def refresh(self) -> None:
        """Make every acknowledged hit searchable now (the indexer stamps buckets after the ack)."""
        self.es.options(ignore_status=404).indices.refresh(
            index=index_pattern(self.prefix, "hits"), allow_no_indices=True,
            ignore_unavailable=True)

    def count(self, ranges: Sequence[Interval]) -> int:
        if not ranges:
            return 0
        resp = self.es.count(index=self._index(ranges), query=ranges_query(ranges),
                             ignore_unavailable=True, allow_no_indices=True)
        return int(require_complete(resp, "hit count")["count"])

    def newest_hit_ms(self, not_after_ms: int) -> int | None:
        """The latest hit time not after ``not_after_ms`` (phones with clocks far ahead are ignored)."""
        resp = self.es.search(
            index=index_pattern(self.prefix, "hits"), size=0, ignore_unavailable=True,
            allow_no_indices=True, query={"range": {"t_ms": {"lte": int(not_after_ms),
                                                            "format": "epoch_millis"}}},
            aggs={"newest": {"max": {"field": "t_ms"}}})
        require_complete(resp, "newest hit")
        value = (resp.get("aggregations") or {}).get("newest", {}).get("value")
        return None if value is None else int(value)

    def fetch(self, ranges: Sequence[Interval]) -> HitBatch:
        if not ranges:
            return HitBatch.empty()
        index = self._index(ranges)
        existing = [n for n in index.split(",") if self.es.indices.exists(index=n)]
        if not existing:
            return HitBatch.empty()
        pit = self.es.open_point_in_time(index=",".join(existing), keep_alive="2m")["id"]
        parts: list[HitBatch] = []
        try:
            body: dict[str, Any] = {"size": self.page_size, "query": ranges_query(ranges),
                                    "_source": SOURCE, "sort": ["_shard_doc"],
                                    "track_total_hits": False}
            while True:
                resp = require_complete(self.es.search(pit={"id": pit, "keep_alive": "2m"}, **body), "hit ranges")
                hits = resp["hits"]["hits"]
                if hits:
                    parts.append(_columns([h["_source"] for h in hits]))
                if len(hits) < self.page_size:
                    break
                pit = resp.get("pit_id", pit)
                body["search_after"] = hits[-1]["sort"]
        finally:
            self.es.close_point_in_time(id=pit)
        return HitBatch.concat(parts)

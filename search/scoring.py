"""Scores for the candidates a pass writes (search/live_significance.py): the
background of all hits in the range the pass read around them, or in a span read anew."""
from __future__ import annotations

from collections.abc import Sequence

from elasticsearch import Elasticsearch

from crayfis.definition import SearchParams
from search.es_hits import EsHitSource
from search.incremental import HitBatch, StoredCandidate
from search.live_significance import score_candidates
from search.region import Interval


class EsSignificance:
    """``Scorer``: (active candidates, hit ranges the pass read) -> {candidate_id: scores}."""

    def __init__(self, es: Elasticsearch, prefix: str, params: SearchParams, span_ms: int,
                 page_size: int):
        self.hits = EsHitSource(es, prefix, page_size)
        self.params, self.span_ms = params, int(span_ms)

    def __call__(self, candidates: Sequence[StoredCandidate],
                 fetched: Sequence[tuple[Interval, HitBatch]] = ()) -> dict[str, dict]:
        return score_candidates(candidates, fetched, self.params, self.span_ms, self.hits.fetch)

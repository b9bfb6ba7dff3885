"""Scores for the candidates a pass writes: the background of all hits in a span around them.

Candidates of one pass are usually close in time, so their spans ([t_start - S/2, t_end + S/2],
S = CRAYFIS_SEARCH_RATE_SPAN_MS) are merged and each merged span is read from Elasticsearch
once (crayfis/coincidence/live_significance.py does the arithmetic).
"""
from __future__ import annotations

from typing import Sequence

from elasticsearch import Elasticsearch

from crayfis.coincidence.incremental import SearchParams, StoredCandidate
from crayfis.coincidence.live_significance import score_components
from crayfis.coincidence.region import merge_intervals
from search.es_hits import EsHitSource


class EsSignificance:
    """``Scorer``: active candidates -> {candidate_id: scores}."""

    def __init__(self, es: Elasticsearch, prefix: str, params: SearchParams, span_ms: int,
                 page_size: int = 10_000):
        self.hits = EsHitSource(es, prefix, page_size)
        self.params, self.half = params, max(1, int(span_ms) // 2)

    def __call__(self, candidates: Sequence[StoredCandidate]) -> dict[str, dict]:
        spans = merge_intervals((c.t_start_ms - self.half, c.t_end_ms + self.half) for c in candidates)
        out: dict[str, dict] = {}
        for lo, hi in spans:
            group = [c for c in candidates if lo <= c.t_start_ms and c.t_end_ms <= hi]
            scores = score_components(self.hits.fetch([(lo, hi)]), [c.component for c in group],
                                      self.params)
            out.update({c.candidate_id: s for c, s in zip(group, scores)})
        return out

"""Significance of candidates found by the continuous search, from the hits around them.

The continuous search sees a few minutes at a time, so each candidate is scored against the
background of the whole network in a span around it (``significance.estimate_background`` over
those hits: device rates from their observed spans, every hit an anchor). Lambda(m) over that
span, divided by its live time, is the false-alarm rate per year; the p-value is for the span.

The span is the hit range the pass already read around the candidate when that range is at
least ``span_ms`` long (no second read), else [t_start - span/2, t_end + span/2], read anew.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from crayfis.coincidence.significance import candidate_significance, estimate_background
from crayfis.definition import SearchParams
from crayfis.es.candidates import Component
from search.incremental import HitBatch, StoredCandidate
from search.region import Interval, merge_intervals


def score_components(hits: HitBatch, comps: Sequence[Component], params: SearchParams) -> list[dict]:
    """{expected_background, p_value, false_alarm_per_year, background_span_ms} per component."""
    if not comps:
        return []
    hits = hits.unique()
    mult = np.array([max(c.multiplicity, 1) for c in comps], dtype=np.int64)
    if len(hits) == 0:
        return [{"expected_background": None, "p_value": None, "false_alarm_per_year": None}
                for _ in comps]
    _, dev = np.unique(hits.device.astype(str), return_inverse=True)
    bg = estimate_background(hits.t_ms, hits.lat, hits.lon, dev.reshape(-1).astype(np.int64),
                             params.window_ms, params.radius_m, params.min_devices,
                             max_multiplicity=int(mult.max()) + 1)
    sig = candidate_significance(mult, bg)
    span = int(hits.t_ms.max() - hits.t_ms.min()) + 1
    return [{"expected_background": float(sig.expected_background[i]), "p_value": float(sig.p_value[i]),
             "false_alarm_per_year": float(sig.far_per_year[i]), "background_span_ms": span}
            for i in range(len(comps))]


def score_candidates(candidates: Sequence[StoredCandidate], fetched: Sequence[tuple[Interval, HitBatch]],
                     params: SearchParams, span_ms: int,
                     fetch: Callable[[list[Interval]], HitBatch]) -> dict[str, dict]:
    """{candidate_id: scores}: one background estimate per hit range (see the module doc)."""
    out: dict[str, dict] = {}
    rest: list[StoredCandidate] = []
    by_group: dict[int, list[StoredCandidate]] = {}
    for c in candidates:
        g = next((i for i, ((lo, hi), _) in enumerate(fetched)
                  if lo <= c.t_start_ms and c.t_end_ms <= hi and hi - lo + 1 >= span_ms), None)
        if g is None:
            rest.append(c)
        else:
            by_group.setdefault(g, []).append(c)
    for g, group in by_group.items():
        scores = score_components(fetched[g][1], [c.component for c in group], params)
        out.update({c.candidate_id: s for c, s in zip(group, scores)})
    half = max(1, int(span_ms) // 2)
    for lo, hi in merge_intervals((c.t_start_ms - half, c.t_end_ms + half) for c in rest):
        group = [c for c in rest if lo <= c.t_start_ms and c.t_end_ms <= hi]
        scores = score_components(fetch([(lo, hi)]), [c.component for c in group], params)
        out.update({c.candidate_id: s for c, s in zip(group, scores)})
    return out

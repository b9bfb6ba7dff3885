"""Significance of candidates found by the continuous search, from the hits around them.

The continuous search sees a few minutes at a time, so each candidate is scored against the
background of the whole network in a span around it (``significance.estimate_background`` over
those hits: device rates from their observed spans, every hit an anchor). Lambda(m) over that
span, divided by its live time, is the false-alarm rate per year; the p-value is for the span.

The span is the hit range the pass already read around the candidate when that range is at
least ``span_ms`` long (no second read), else [t_start - span/2, t_end + span/2], read anew.

Each score also carries the background curve the public candidate page charts against the
candidates observed (crayfis/es/candidates.py, BACKGROUND_FIELDS): Lambda(m) for m = k up to
CURVE_BEYOND past the highest multiplicity scored, and the span of the hits it came from,
widened to whole seconds (hit times are public to the second only).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from crayfis.coincidence.significance import candidate_significance, estimate_background
from crayfis.definition import SECOND_MS, SearchParams
from crayfis.es.candidates import Component
from search.incremental import HitBatch, StoredCandidate
from search.region import Interval, merge_intervals

CURVE_BEYOND = 4   # the background curve runs this far past the highest multiplicity scored


def score_components(hits: HitBatch, comps: Sequence[Component], params: SearchParams) -> list[dict]:
    """{expected_background, p_value, false_alarm_per_year, background_span_ms,
    expected_by_multiplicity, background_from_ms, background_to_ms} per component."""
    if not comps:
        return []
    hits = hits.unique()
    mult = np.array([max(c.multiplicity, 1) for c in comps], dtype=np.int64)
    if len(hits) == 0:
        return [{"expected_background": None, "p_value": None, "false_alarm_per_year": None}
                for _ in comps]
    _, dev = np.unique(hits.device.astype(str), return_inverse=True)
    top = max(int(mult.max()), params.min_devices) + CURVE_BEYOND
    bg = estimate_background(hits.t_ms, hits.lat, hits.lon, dev.reshape(-1).astype(np.int64),
                             params.window_ms, params.radius_m, params.min_devices, max_multiplicity=top)
    sig = candidate_significance(mult, bg)
    first, last = int(hits.t_ms.min()), int(hits.t_ms.max())
    curve = {"expected_by_multiplicity": bg.expected_windows(np.arange(params.min_devices, top + 1)).tolist(),
             "background_from_ms": first - first % SECOND_MS,
             "background_to_ms": last - last % SECOND_MS + SECOND_MS - 1}
    return [{"expected_background": float(sig.expected_background[i]), "p_value": float(sig.p_value[i]),
             "false_alarm_per_year": float(sig.far_per_year[i]), "background_span_ms": last - first + 1, **curve}
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

"""Significance of candidates found by the continuous search, from the hits around them.

The continuous search sees a few minutes at a time, so each candidate is scored against the
background of the whole network in a span around it (``significance.estimate_background`` over
those hits: device rates from their observed spans, every hit an anchor). Lambda(m) over that
span, divided by its live time, is the false-alarm rate per year; the p-value is for the span.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .incremental import Component, HitBatch, SearchParams
from .significance import candidate_significance, estimate_background


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

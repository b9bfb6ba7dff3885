"""The leaderboard's ranking: showers joined per exposure hour, among phones that behave.

Raw hit counts reward noisy or cheating phones (a hot sensor or a tampered app simply fires
more). The score here is

    score = candidates joined per 100 live (exposure) hours

counting each candidate once per phone, however many hits the phone put into it. Only phones
whose background hit rate is consistent with the network are ranked: a phone firing more than
`rate_factor` times the network's median rate per live minute (or less than 1/rate_factor) is
listed as 'unranked: rate inconsistent', because extra noise also buys extra accidental
coincidences. Phones with less than `min_hours` of exposure are unranked too (one lucky
candidate in ten minutes is not a rate). Ties go to the longer exposure.
"""
from __future__ import annotations

import numpy as np


def rank(live_s: dict[str, float], hits: dict[str, int], joined: dict[str, int], *,
         min_hours: float, rate_factor: float, limit: int) -> dict:
    """Ranked and unranked phones from per-device live seconds, hits and candidates joined."""
    devices = sorted(set(live_s) | set(hits))
    if not devices:
        return {"median_hits_per_min": None, "ranked": [], "unranked": [], "devices": 0}
    live = np.array([live_s.get(d, 0.0) for d in devices], dtype=np.float64)
    n_hits = np.array([hits.get(d, 0) for d in devices], dtype=np.float64)
    n_cand = np.array([joined.get(d, 0) for d in devices], dtype=np.float64)
    hours = live / 3600.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(live > 0, n_hits / (live / 60.0), np.nan)  # hits per live minute
        score = np.where(hours > 0, 100.0 * n_cand / hours, np.nan)
    enough = hours >= min_hours
    base = rate[enough & np.isfinite(rate)]
    median = float(np.median(base)) if base.size else None
    if median is not None and median > 0:
        consistent = (rate <= median * rate_factor) & (rate >= median / rate_factor)
    else:
        consistent = np.isfinite(rate)
    ranked_mask = enough & consistent
    reasons = np.where(live <= 0, "no exposure recorded",
                       np.where(~enough, f"under {min_hours:g} h of exposure", "rate inconsistent"))

    def row(i: int) -> dict:
        return {"device": devices[i], "exposure_hours": round(float(hours[i]), 3),
                "hits": int(n_hits[i]), "candidates": int(n_cand[i]),
                "hits_per_min": None if not np.isfinite(rate[i]) else round(float(rate[i]), 3),
                "score": None if not np.isfinite(score[i]) else round(float(score[i]), 3)}

    idx = np.flatnonzero(ranked_mask)
    order = idx[np.lexsort((-hours[idx], -score[idx]))]
    ranked = []
    for position, i in enumerate(order[:limit], start=1):
        ranked.append({"rank": position, **row(int(i))})
    un = np.flatnonzero(~ranked_mask)
    un = un[np.argsort(-hours[un], kind="stable")][:limit]
    unranked = [{**row(int(i)), "reason": str(reasons[i])} for i in un]
    return {"median_hits_per_min": None if median is None else round(median, 3),
            "ranked": ranked, "unranked": unranked, "devices": len(devices),
            "ranked_total": int(ranked_mask.sum())}

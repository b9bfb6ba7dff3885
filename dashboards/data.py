"""Cached data behind the pages and the JSON endpoints (one function per chart or table).

Pages and endpoints call the same functions, so a page's first paint and its later polls show
the same numbers, and both share one cache entry.
"""
from __future__ import annotations

import time

from django.conf import settings
from elastic_transport import TransportError
from elasticsearch import ApiError

from dashboards import leaderboard as ranking
from dashboards import queries
from dashboards import status as status_strip
from dashboards.cache import cached
from ops.elastic import get_es, index_prefix

# What "Elasticsearch is not answering properly" looks like to the dashboards.
ES_ERRORS = (TransportError, ApiError, queries.QueryError)


def now_ms() -> int:
    return int(time.time() * 1000)


def overview() -> dict:
    return cached("overview", (), lambda: queries.overview(get_es(), index_prefix(), now_ms()))


def rates(span: str) -> dict:
    return cached("rates", (span,), lambda: queries.rates(get_es(), index_prefix(), now_ms(), span))


def activity_map(window: str, precision: int) -> dict:
    return cached("map", (window, precision),
                  lambda: queries.activity_map(get_es(), index_prefix(), now_ms(), window, precision))


def candidates(limit: int, offset: int, include_retracted: bool = False) -> dict:
    return cached("candidates", (limit, offset, include_retracted),
                  lambda: queries.candidates(get_es(), index_prefix(), limit, offset, include_retracted))


def candidate(candidate_id: str) -> dict | None:
    return cached("candidate", (candidate_id,),
                  lambda: queries.candidate_detail(get_es(), index_prefix(), candidate_id))


def device(pseudonym: str) -> dict | None:
    return cached("device", (pseudonym,),
                  lambda: queries.device(get_es(), index_prefix(), pseudonym, now_ms()))


def leaderboard(days: int) -> dict:
    def compute() -> dict:
        inputs = queries.leaderboard_inputs(get_es(), index_prefix(), now_ms(), days)
        ranked = ranking.rank(inputs["live_s"], inputs["hits"], inputs["candidates"],
                              min_hours=settings.CRAYFIS_DASH_LEADERBOARD_MIN_HOURS,
                              rate_factor=settings.CRAYFIS_DASH_LEADERBOARD_RATE_FACTOR,
                              limit=settings.CRAYFIS_DASH_LEADERBOARD_SIZE)
        out = {"days": days, "since_ms": inputs["since_ms"],
               "min_hours": settings.CRAYFIS_DASH_LEADERBOARD_MIN_HOURS,
               "rate_factor": settings.CRAYFIS_DASH_LEADERBOARD_RATE_FACTOR, **ranked}
        if inputs.get("partial"):
            out["partial"] = True
        return out

    return cached("leaderboard", (days,), compute)


def status() -> dict:
    """Never raises: every part of the strip reports its own failure."""
    return cached("status", (), lambda: status_strip.status(get_es(), index_prefix(), now_ms()))

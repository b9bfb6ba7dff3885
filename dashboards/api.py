"""JSON endpoints under /api/dash/: one per chart or table (documented in docs/dashboards.md).

Answers: 200 with the data (`"partial": true` when the search time limit cut it short); 400 for a
bad parameter; 404 for an unknown candidate or device (cached like any answer); 429 with
Retry-After past the client's CRAYFIS_DASH_RATE (dashboards/budget.py); 503 {"error": ...,
"elasticsearch": false} when Elasticsearch is unreachable or failing (the pages then show their
banner and keep polling).
"""
from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from dashboards import budget, data, queries

log = logging.getLogger("crayfis.dashboards")


class BadParameter(ValueError):
    pass


def _json(payload: dict, status: int = 200) -> JsonResponse:
    resp = JsonResponse(payload, status=status)
    resp["Cache-Control"] = f"max-age={int(settings.CRAYFIS_DASH_CACHE_S)}" if status == 200 else "no-store"
    return resp


def endpoint(view):
    """GET only; over the client's budget -> 429; bad parameters -> 400; Elasticsearch trouble ->
    503 with a JSON reason."""

    @require_GET
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        wait = budget.refused(request)
        if wait is not None:
            resp = _json({"error": "too many requests from this address", "retry_after_s": int(wait)}, status=429)
            resp["Retry-After"] = wait
            return resp
        try:
            return view(request, *args, **kwargs)
        except BadParameter as exc:
            return _json({"error": str(exc)}, status=400)
        except data.ES_ERRORS as exc:
            log.warning("dashboard endpoint %s: elasticsearch error %s", request.path, type(exc).__name__)
            return _json({"error": "elasticsearch unavailable", "detail": type(exc).__name__,
                          "elasticsearch": False}, status=503)

    return wrapped


def choice(request, name: str, options, default: str) -> str:
    value = request.GET.get(name, default)
    if value not in options:
        raise BadParameter(f"{name} must be one of {sorted(options)}")
    return value


def integer(request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(f"{name} must be an integer") from None
    if not lo <= value <= hi:
        raise BadParameter(f"{name} must be between {lo} and {hi}")
    return value


@endpoint
def overview(request):
    return _json(data.overview())


@endpoint
def rates(request):
    return _json(data.rates(choice(request, "span", queries.SPANS, "24h")))


@endpoint
def activity_map(request):
    window = choice(request, "window", queries.MAP_WINDOWS, "10m")
    precision = integer(request, "precision", settings.CRAYFIS_DASH_MAP_PRECISION, 0,
                        settings.CRAYFIS_DASH_MAP_MAX_PRECISION)
    return _json(data.activity_map(window, precision))


@endpoint
def candidates(request):
    limit = integer(request, "limit", 20, 1, 100)
    offset = integer(request, "offset", 0, 0, 10_000 - limit)
    retracted = choice(request, "retracted", {"0", "1"}, "0") == "1"
    return _json(data.candidates(limit, offset, retracted))


@endpoint
def candidate(request, candidate_id: str):
    found = data.candidate(candidate_id)
    if found is None:
        return _json({"error": "no such candidate"}, status=404)
    return _json(found)


@endpoint
def device(request, pseudonym: str):
    found = data.device(pseudonym)
    if found is None:
        return _json({"error": "no data for this device"}, status=404)
    return _json(found)


@endpoint
def leaderboard(request):
    days = integer(request, "days", settings.CRAYFIS_DASH_LEADERBOARD_DAYS, 1, 366)
    return _json(data.leaderboard(days))


@endpoint
def status(request):
    return _json(data.status())

"""The public pages. Each renders its first data server-side (same cached functions as the JSON
endpoints, embedded with json_script) and then polls its endpoints from the browser.

When Elasticsearch is down a page still renders, with a banner, and keeps polling until it is
back. A page counts against its client's request budget like its endpoints (dashboards/budget.py).
"""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET

from dashboards import budget, data


def _config(page: str, endpoints: dict[str, str]) -> dict:
    return {
        "page": page,
        "poll_ms": int(settings.CRAYFIS_DASH_POLL_S * 1000),
        "hidden_poll_ms": int(settings.CRAYFIS_DASH_HIDDEN_POLL_S * 1000),
        "topojson_url": static("dashboards/vendor/topojson/"),
        "endpoints": endpoints,
        "urls": {"candidates": reverse("dashboards:candidates"),
                 "device": reverse("dashboards:device", args=["PSEUDONYM"]),
                 "candidate": reverse("dashboards:candidate", args=["CANDIDATE"])},
    }


def _load(parts: dict[str, Callable[[], dict | None]]) -> tuple[dict, bool]:
    """Call each data function; an Elasticsearch failure leaves None and raises the banner."""
    out, es_down = {}, False
    for name, fn in parts.items():
        try:
            out[name] = fn()
        except data.ES_ERRORS:
            out[name], es_down = None, True
    return out, es_down


def _page(request, template: str, page: str, parts: dict, endpoints: dict, *,
          missing: str | None = None, **extra):
    """Render a page with its first data; `missing` names a part whose absence (with ES up) is a 404."""
    wait = budget.refused(request)
    if wait is not None:
        return HttpResponse(f"Too many requests from your address: try again in {wait} s.\n", status=429,
                            content_type="text/plain; charset=utf-8", headers={"Retry-After": wait})
    status = data.status()  # health first: with ES down, skip the parts (no timeouts to wait out)
    if status["elasticsearch"]["ok"]:
        initial, es_down = _load(parts)
    else:
        initial, es_down = dict.fromkeys(parts), True
    initial["status"] = status
    not_found = missing is not None and not es_down and initial.get(missing) is None
    context = {"page": page, "initial": initial, "es_down": es_down, "not_found": not_found,
               "config": _config(page, {"status": reverse("dashboards:api-status"), **endpoints}),
               **extra}
    return render(request, template, context, status=404 if not_found else 200)


@require_GET
def home(request):
    return _page(request, "dashboards/home.html", "home",
                 {"overview": data.overview, "rates": lambda: data.rates("24h"),
                  "map": lambda: data.activity_map("10m", settings.CRAYFIS_DASH_MAP_PRECISION),
                  "candidates": lambda: data.candidates(10, 0)},
                 {"overview": reverse("dashboards:api-overview"),
                  "rates": reverse("dashboards:api-rates"),
                  "map": reverse("dashboards:api-map"),
                  "candidates": reverse("dashboards:api-candidates") + "?limit=10"})


@require_GET
def candidate_list(request):
    return _page(request, "dashboards/candidates.html", "candidates",
                 {"candidates": lambda: data.candidates(50, 0)},
                 {"candidates": reverse("dashboards:api-candidates") + "?limit=50"})


@require_GET
def candidate_detail(request, candidate_id: str):
    return _page(request, "dashboards/candidate.html", "candidate",
                 {"candidate": lambda: data.candidate(candidate_id)},
                 {"candidate": reverse("dashboards:api-candidate", args=[candidate_id])},
                 missing="candidate", candidate_id=candidate_id)


@require_GET
def device_page(request, pseudonym: str):
    return _page(request, "dashboards/device.html", "device",
                 {"device": lambda: data.device(pseudonym)},
                 {"device": reverse("dashboards:api-device", args=[pseudonym])},
                 missing="device", pseudonym=pseudonym)


@require_GET
def leaderboard_page(request):
    days = settings.CRAYFIS_DASH_LEADERBOARD_DAYS
    return _page(request, "dashboards/leaderboard.html", "leaderboard",
                 {"leaderboard": lambda: data.leaderboard(days)},
                 {"leaderboard": reverse("dashboards:api-leaderboard")},
                 min_hours=settings.CRAYFIS_DASH_LEADERBOARD_MIN_HOURS,
                 rate_factor=settings.CRAYFIS_DASH_LEADERBOARD_RATE_FACTOR, days=days)

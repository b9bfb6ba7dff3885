"""GET /healthz: are the database and Elasticsearch up? 200 when both are, 503 otherwise."""
from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from ops.elastic import get_es


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # any driver error means "down" to an operator
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def _elasticsearch() -> dict:
    try:
        state = get_es().options(request_timeout=3).cluster.health()
        status = state.get("status")
        return {"ok": status in ("green", "yellow"), "status": status}
    except Exception as exc:  # connection refused, timeout, auth: all "down"
        return {"ok": False, "error": f"{type(exc).__name__}"}


@require_GET
def healthz(request):
    db, es = _database(), _elasticsearch()
    ok = db["ok"] and es["ok"]
    return JsonResponse({"status": "ok" if ok else "degraded", "database": db, "elasticsearch": es},
                        status=200 if ok else 503)

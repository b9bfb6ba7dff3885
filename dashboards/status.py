"""The status strip: pending uploads, Elasticsearch health, the last coincidence-search pass.

The continuous search (search/) reports its progress in ONE small document:

    index `{prefix}-status`, _id `search`:
      {"last_pass_ms": int,              # Unix ms UTC when its last pass finished
       "lag_ms": int,                    # newest indexed hit time minus the time searched up to
       "oldest_pending_bucket_ms": int|null,  # start of the oldest time bucket still to search
       "pass_duration_ms": int,          # optional
       "candidates_changed": int}        # optional: upserts in the last pass

Each part is read on its own and fails on its own: the strip always renders.
"""
from __future__ import annotations

import time

from django.db import DatabaseError

from dashboards import indices
from ingest.models import Upload, UploadStatus

SEARCH_STATUS_ID = "search"
SEARCH_FIELDS = ("last_pass_ms", "lag_ms", "oldest_pending_bucket_ms", "pass_duration_ms",
                 "candidates_changed")


def elasticsearch_health(es) -> dict:
    try:
        state = es.options(request_timeout=3).cluster.health()
    except Exception as exc:  # connection refused, timeout, auth: all "down" to a visitor
        return {"ok": False, "status": "unreachable", "error": type(exc).__name__}
    status = state.get("status")
    return {"ok": status in ("green", "yellow"), "status": status}


def search_status(es, prefix: str, now_ms: int) -> dict | None:
    """The continuous search's status document, or None when it has never run."""
    try:
        doc = es.options(request_timeout=3, ignore_status=404).get(
            index=indices.status(prefix), id=SEARCH_STATUS_ID)
    except Exception:
        return None
    if not doc.get("found"):
        return None
    src = doc.get("_source") or {}
    out = {k: src.get(k) for k in SEARCH_FIELDS}
    if isinstance(out["last_pass_ms"], (int, float)):
        out["age_ms"] = int(now_ms - out["last_pass_ms"])
    return out


def pending_uploads() -> dict:
    """Uploads waiting for the indexer and quarantined ones, from the raw store (ingest.models)."""
    try:
        pending = Upload.objects.filter(status=UploadStatus.PENDING)
        oldest = pending.order_by("received_at").values_list("received_at", flat=True).first()
        return {"pending": pending.count(),
                "quarantined": Upload.objects.filter(status=UploadStatus.QUARANTINED).count(),
                "oldest_pending_ms": None if oldest is None else int(oldest.timestamp() * 1000)}
    except DatabaseError as exc:  # no table yet (migrations not run), database down
        return {"pending": None, "error": type(exc).__name__}


def status(es, prefix: str, now_ms: int | None = None) -> dict:
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    health = elasticsearch_health(es)
    return {"now_ms": now_ms, "elasticsearch": health,
            "search": search_status(es, prefix, now_ms) if health["ok"] else None,
            "uploads": pending_uploads()}

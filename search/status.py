"""The status document the dashboards read (dashboards/status.py): `{prefix}-status`, id `search`.

    last_pass_ms              Unix ms when the last pass finished
    lag_ms                    newest indexed hit time now minus the newest hit time the last
                              pass's snapshot covered (0 = caught up; null = no hits at all)
    oldest_pending_bucket_ms  start of the oldest touched bucket still to search (null = none)
    pass_duration_ms          how long the last pass took
    candidates_changed        candidate documents written by the last pass
plus pending_buckets, buckets_searched, hits_read, region_ms, changes (by kind), params, and
after a failed pass last_error / last_error_ms (a successful pass clears them).
"""
from __future__ import annotations

from elasticsearch import Elasticsearch

STATUS_ID = "search"


def status_index(prefix: str) -> str:
    return f"{prefix}-status"


def status_document(outcome, params, t_ms: int) -> dict:
    r = outcome.report
    return {
        "last_pass_ms": int(t_ms), "lag_ms": outcome.lag_ms,
        "oldest_pending_bucket_ms": outcome.oldest_pending_bucket_ms,
        "pass_duration_ms": int(outcome.duration_ms), "candidates_changed": int(r.n_changes),
        "pending_buckets": int(outcome.pending_after), "buckets_searched": int(r.buckets),
        "hits_read": int(r.hits_read), "region_ms": int(sum(hi - lo + 1 for lo, hi in r.region)),
        "changes": dict(r.changes), "params": params.as_dict(),
        "last_error": None, "last_error_ms": None,
    }


def write_status(es: Elasticsearch, prefix: str, outcome, params, t_ms: int) -> dict:
    doc = status_document(outcome, params, t_ms)
    es.index(index=status_index(prefix), id=STATUS_ID, document=doc)
    return doc


def note_failure(es: Elasticsearch, prefix: str, exc: BaseException, t_ms: int) -> None:
    """Record a failed pass in the status document (best effort: ES may be what failed)."""
    try:
        es.update(index=status_index(prefix), id=STATUS_ID, doc_as_upsert=True,
                  doc={"last_error": f"{type(exc).__name__}: {exc}"[:500], "last_error_ms": int(t_ms)})
    except Exception:
        pass

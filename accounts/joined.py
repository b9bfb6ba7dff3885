"""The public candidates an owner's phone took part in, with the owner's own hits only.

A candidate counts as joined when one of its member hits is a hit of the owner's own uploads:
the hit ids those uploads' records get in the index (crayfis.es.documents, recomputed from the
raw bodies) are matched against the candidate's member hit ids. So someone who posted under the
same Device-id with his own App-code sees only candidates his own hits are in, and only public
candidates (k trusted members) are ever named, shown as the public pages show them (counts,
times, cell, significance). The device's pseudonym is used only inside this query.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import QuerySet

from crayfis.es.candidates import selection
from crayfis.es.documents import build_actions
from crayfis.privacy import pseudonym
from dashboards import indices
from dashboards.queries import CANDIDATE_SOURCE, public_candidate
from ingest.models import Upload
from quality.decoding import decode
from quality.models import UploadSummary

logger = logging.getLogger("crayfis.accounts")

JOINED_MAX = 20   # the newest public candidates with the device looked at
SEARCH_TIMEOUT = "5s"   # server-side: a slow index gives a partial answer, not a stuck page


def _hit_ids(upload: Upload, device_id: str, prefix: str) -> set[str]:
    chunk = decode(upload)
    hits = f"{prefix}-hits-"
    return {a["_id"] for a in build_actions(chunk, prefix=prefix, key=settings.CRAYFIS_PSEUDONYM_KEY,
                                            device_id=device_id,
                                            received_ms=int(upload.received_at.timestamp() * 1000))
            if a["_index"].startswith(hits)}


def joined_candidates(es, prefix: str, device_id: str, uploads: QuerySet[Upload],
                      summaries: QuerySet[UploadSummary]) -> list[dict]:
    """Public candidates holding a hit of these (the owner's own) uploads, newest first, each as
    published plus ``own_hits``: how many of its hits the owner's uploads sent."""
    device = pseudonym(device_id, settings.CRAYFIS_PSEUDONYM_KEY)
    body = {"size": JOINED_MAX, "timeout": SEARCH_TIMEOUT,
            "query": {"bool": {"filter": [selection(public_only=True), {"term": {"devices": device}}]}},
            "sort": [{"t_start_ms": {"order": "desc", "unmapped_type": "long"}}],
            "_source": [*CANDIDATE_SOURCE, "hit_ids"]}
    resp = es.search(index=indices.candidates(prefix), ignore_unavailable=True, allow_no_indices=True, **body)
    known: dict[int, set[str]] = {}
    out = []
    for hit in resp["hits"]["hits"]:
        src = hit["_source"]
        members = set(src.get("hit_ids") or ())
        overlapping = (summaries.filter(readable=True, first_event_ms__lte=src["t_end_ms"],
                                        last_event_ms__gte=src["t_start_ms"]).values_list("upload_id", flat=True))
        mine = 0
        for upload_id in overlapping:
            if upload_id not in known:
                known[upload_id] = _hit_ids(uploads.defer(None).get(id=upload_id), device_id, prefix)
            mine += len(known[upload_id] & members)
        if mine:
            out.append({**public_candidate(src), "own_hits": mine})
    return out

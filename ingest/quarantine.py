"""Releasing quarantined uploads: an operator's decision that their data is genuine.

The indexer quarantines an upload whose body does not decode or whose documents Elasticsearch
refuses, and holds back one whose times fall outside the event-time window
(ingest/event_window.py). Late data is legitimate, so a release sets the upload back to pending
with `released_at` stamped: the indexer then indexes it without the window check, once (its
documents have deterministic ids, so indexing it again adds nothing). A body that still does
not decode is quarantined again with its error.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from ingest.models import Upload, UploadStatus

HELD_BACK = "outside the event-time window: "
"""How the indexer's reason starts for an upload held back by the window (Upload.error)."""


class ReleaseRefused(ValueError):
    """Some uploads cannot be released (unknown, or not quarantined); nothing was released."""


def release(upload_ids: Iterable[int]) -> list[int]:
    """Set these quarantined uploads back to pending, released from the event-time window; the
    ids released. All or nothing: ReleaseRefused names every id that is unknown or not quarantined.
    """
    wanted = sorted(set(upload_ids))
    with transaction.atomic():
        status = dict(Upload.objects.filter(id__in=wanted).values_list("id", "status"))
        problems = [f"{i} (no such upload)" if i not in status else f"{i} ({status[i]}, not quarantined)"
                    for i in wanted if status.get(i) != UploadStatus.QUARANTINED]
        if problems:
            raise ReleaseRefused(f"cannot release upload {', '.join(problems)}; nothing was released")
        Upload.objects.filter(id__in=wanted, status=UploadStatus.QUARANTINED).update(
            status=UploadStatus.PENDING, released_at=timezone.now(), attempts=0, claim_owner=None,
            claim_until_ms=None)
    return wanted

"""Summaries of uploads (crayfis.quality.summarize over the raw body), written once per upload.

The worker summarizes every upload in id order (``summarize_new``); an owner's page summarizes
the few of its phone's uploads the worker has not reached yet (``ensure_summaries``). Both write
with ``ignore_conflicts``, so the two never write one upload twice.

The worker's cursor (QualityState.summarized_through) only passes uploads received more than
``CURSOR_SLACK`` ago: an upload's row commits within seconds of its receive time (the ingest
commit timeout is below 5 s), so no upload below the cursor can still be uncommitted. Uploads
above it that are already summarized are skipped by the query.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict

from django.db import transaction
from django.db.models import Min, QuerySet
from django.utils import timezone

from crayfis import quality
from ingest.models import Upload
from quality.decoding import decode
from quality.models import QualityState, UploadSummary

logger = logging.getLogger("crayfis.quality")

CURSOR_SLACK = dt.timedelta(minutes=1)
STATE = "summaries"
_FIELDS = ("id", "device_id", "app_code", "received_at", "body", "payload_format", "run_id", "camera_id",
           "crayfis_version", "crayfis_version_code")


def _first_line(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def summary_row(upload: Upload) -> UploadSummary:
    """The summary row of one upload (with its body loaded); an unreadable body gives a row with
    the decoder's reason and nothing else."""
    common = dict(upload_id=upload.id, device_id=upload.device_id, app_code=upload.app_code or "",
                  received_at=upload.received_at)
    try:
        chunk = decode(upload)
    except Exception as exc:  # whatever a body does to the decoder, it is that upload's fate alone
        return UploadSummary(**common, readable=False, error=_first_line(exc))
    found = asdict(quality.summarize(chunk, int(upload.received_at.timestamp() * 1000)))
    found["exposure"] = [list(x) for x in found["exposure"]]
    return UploadSummary(**common, readable=True, **found)


def _mark_duplicates(rows: Sequence[UploadSummary]) -> None:
    """Set duplicate_of on new rows whose records an earlier upload of the same device held."""
    keyed = [r for r in rows if r.readable and r.content_digest]
    if not keyed:
        return
    devices, digests = {r.device_id for r in keyed}, {r.content_digest for r in keyed}
    earliest = (UploadSummary.objects.filter(device_id__in=devices, content_digest__in=digests)
                .values("device_id", "content_digest").annotate(first=Min("upload_id")))
    first = {(e["device_id"], e["content_digest"]): e["first"] for e in earliest}
    for r in keyed:
        original = first.get((r.device_id, r.content_digest))
        if original is not None and original < r.upload_id:
            UploadSummary.objects.filter(upload_id=r.upload_id).update(duplicate_of=original)


def summarize_uploads(uploads: Iterable[Upload]) -> int:
    """Write the summaries of these uploads (bodies loaded) that have none; returns how many rows
    were built."""
    rows = [summary_row(u) for u in uploads]
    if not rows:
        return 0
    with transaction.atomic():
        UploadSummary.objects.bulk_create(rows, ignore_conflicts=True)
        _mark_duplicates(rows)
    return len(rows)


def _unsummarized(queryset: QuerySet) -> QuerySet:
    return queryset.filter(summary__isnull=True).only(*_FIELDS)


def ensure_summaries(uploads: QuerySet, limit: int) -> int:
    """Summarize up to ``limit`` of these uploads that have no summary yet, newest first (what a
    page shows first); returns how many it summarized."""
    return summarize_uploads(_unsummarized(uploads).order_by("-received_at", "-id")[:limit])


def summarize_new(limit: int, now: dt.datetime | None = None) -> int:
    """One step of the worker: summarize up to ``limit`` uploads after its cursor, in id order,
    and move the cursor over those received before the slack; returns how many it summarized."""
    now = now or timezone.now()
    state, _ = QualityState.objects.get_or_create(name=STATE)
    batch = list(_unsummarized(Upload.objects.filter(id__gt=state.summarized_through)).order_by("id")[:limit])
    done = summarize_uploads(batch)
    settled = state.summarized_through
    for upload in batch:   # the longest run of the batch that is safely committed everywhere
        if upload.received_at > now - CURSOR_SLACK:
            break
        settled = upload.id
    if len(batch) < limit:   # nothing else is waiting: pass over settled uploads summarized meanwhile
        newest = (Upload.objects.filter(id__gt=settled, received_at__lte=now - CURSOR_SLACK)
                  .filter(summary__isnull=False).order_by("-id").values_list("id", flat=True).first())
        pending = (Upload.objects.filter(id__gt=settled, summary__isnull=True)
                   .order_by("id").values_list("id", flat=True).first())
        if newest is not None and (pending is None or pending > newest):
            settled = newest
    if settled != state.summarized_through:
        QualityState.objects.filter(name=STATE).update(summarized_through=settled)
    if done:
        logger.info("summarized %d uploads (through upload %d)", done, settled)
    return done

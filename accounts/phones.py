"""What an owner's phone page shows, built from the owner's own uploads only (``pairing.own_uploads``).

- every upload with its fate in plain words (quality/fates.py) and the counts per fate; an
  upload is called a duplicate only when the earlier upload with the same records is one of the
  owner's own too (otherwise the page would tell that someone else sent them);
- the data-quality flags of the phone judged on those uploads' summaries against the network's
  median hit rate (quality/health.py);
- hits per live hour and live hours over time (from the summaries' exposure blocks), over the
  span the data covers: hourly buckets for up to three days of data, daily ones beyond.

The page summarizes (at most CRAYFIS_QUALITY_PAGE_SUMMARIES of) the owner's uploads the worker
has not reached yet, so it is complete for a phone that just started.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts import pairing
from accounts.models import PhoneClaim
from crayfis import quality as rules
from crayfis.definition import DAY_MS, HOUR_MS
from ingest.models import Upload, UploadStatus
from quality import fates, health
from quality.models import UploadSummary
from quality.summaries import ensure_summaries

SERIES_DAYS = 30             # how far back the charts reach
HOURLY_UP_TO_MS = 3 * DAY_MS  # data spanning up to this is charted per hour, longer per day


def own_claim(user, claim_id: int) -> PhoneClaim:
    """The account's claim on a phone, or 404 (someone else's claim, a JSON detector, none)."""
    claim = get_object_or_404(PhoneClaim, pk=claim_id, user=user)
    if claim.device_id.startswith(pairing.API_DEVICE_PREFIX):
        raise Http404("no such phone")
    return claim


def own_summaries(uploads: QuerySet[Upload]) -> QuerySet[UploadSummary]:
    """The summaries of the owner's uploads, each record once: a resend of records an earlier
    upload of the owner's held is left out."""
    ids = uploads.values("id")
    return UploadSummary.objects.filter(upload__in=ids).exclude(duplicate_of__in=ids)


def summarize_missing(uploads: QuerySet[Upload]) -> int:
    return ensure_summaries(uploads, settings.CRAYFIS_QUALITY_PAGE_SUMMARIES)


def _own_duplicates(uploads: QuerySet[Upload]) -> Q:
    """Indexed uploads whose records an earlier upload of the owner's already held."""
    return Q(status=UploadStatus.INDEXED, summary__duplicate_of__in=uploads.values("id"))


def fate_counts(uploads: QuerySet[Upload]) -> list[tuple[str, str, int]]:
    """(code, title, count) per fate with at least one upload, in FATE_TITLES order."""
    held = Q(status=UploadStatus.QUARANTINED, error__startswith=fates.WINDOW_REASON_PREFIX)
    dup = _own_duplicates(uploads)
    counts = {
        fates.INDEXED: uploads.filter(status=UploadStatus.INDEXED).exclude(dup).count(),
        fates.DUPLICATE: uploads.filter(dup).count(),
        fates.OUT_OF_WINDOW: uploads.filter(held).count(),
        fates.QUARANTINED: uploads.filter(status=UploadStatus.QUARANTINED).exclude(held).count(),
        fates.WAITING: uploads.filter(status=UploadStatus.PENDING).count(),
    }
    return [(code, title, counts[code]) for code, title in fates.FATE_TITLES.items() if counts[code]]


@dataclass(frozen=True)
class UploadRow:
    upload_id: int
    received_at: dt.datetime
    hits: int | None
    fate: fates.Fate


def upload_rows(uploads: QuerySet[Upload], page: int, per_page: int) -> tuple[list[UploadRow], bool]:
    """One page of the owner's uploads, newest first, with their fates; and whether more follow."""
    start = (page - 1) * per_page
    chunk = list(uploads.select_related("summary").order_by("-received_at", "-id")[start:start + per_page + 1])
    more = len(chunk) > per_page
    chunk = chunk[:per_page]
    wanted = {s.duplicate_of for u in chunk if (s := getattr(u, "summary", None)) and s.duplicate_of}
    own = set(uploads.filter(id__in=wanted).values_list("id", flat=True)) if wanted else set()
    rows = []
    for u in chunk:
        summary = getattr(u, "summary", None)
        original = summary.duplicate_of if summary is not None and summary.duplicate_of in own else None
        rows.append(UploadRow(u.id, u.received_at, u.n_hits, fates.fate_of(u, original)))
    return rows, more


def _bucket(span_ms: int) -> int:
    return HOUR_MS if span_ms <= HOURLY_UP_TO_MS else DAY_MS


def series(summaries: QuerySet[UploadSummary], now: dt.datetime, network_rate: float | None) -> dict:
    """Live hours and hits per live hour per bucket, from the first bucket with data to now."""
    now_ms = int(now.timestamp() * 1000)
    since = now - dt.timedelta(days=SERIES_DAYS)
    blocks = [b for exposure in summaries.filter(readable=True, received_at__gte=since)
              .values_list("exposure", flat=True) for b in exposure if b[0] <= now_ms]
    if not blocks:
        return {"bucket_ms": HOUR_MS, "t_ms": [], "live_h": [], "hits_per_live_h": [],
                "network_hits_per_live_h": network_rate}
    first = min(b[0] for b in blocks)
    bucket = _bucket(now_ms - first)
    live, hits = Counter(), Counter()
    for start, live_s, n_hits in blocks:
        key = start - start % bucket
        live[key] += live_s
        hits[key] += n_hits
    keys = list(range(first - first % bucket, now_ms - now_ms % bucket + 1, bucket))
    return {"bucket_ms": bucket, "t_ms": keys,
            "live_h": [round(live[k] / 3600.0, 4) for k in keys],
            "hits_per_live_h": [round(hits[k] / (live[k] / 3600.0), 1) if live[k] > 0 else None for k in keys],
            "network_hits_per_live_h": network_rate}


@dataclass(frozen=True)
class Health:
    stats: rules.PhoneStats
    flags: list[rules.Flag]
    network_rate: float | None
    window_h: float

    @property
    def hits_per_live_hour(self) -> float | None:
        return self.stats.hits_per_live_hour


def phone_health(uploads: QuerySet[Upload], now: dt.datetime) -> Health:
    found, flags = health.judge(own_summaries(uploads), now)
    return Health(found, flags, health.network_rate(now), settings.CRAYFIS_QUALITY_WINDOW_H)

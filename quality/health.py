"""Flags from summaries: a window's sums in SQL, the rules of crayfis.quality on them.

- ``stats(summaries)``: the PhoneStats of any set of summaries (one phone's, or the uploads of
  one phone that carried one account's App-code), the window's sums with the all-time newest
  calibration and first event;
- ``network_rate(now)``: the median hits per live hour over the devices with at least the
  minimum live time in the window (every upload counts), cached for a minute;
- ``refresh_devices(now)``: every device with uploads in the window judged on all of them, into
  DeviceHealth (the admin's flags and its "flagged" filter); devices without uploads there lose
  their row.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Max, Min, QuerySet, Sum
from django.utils import timezone

from crayfis import quality
from quality.models import DeviceHealth, QualityState, UploadSummary

logger = logging.getLogger("crayfis.quality")

NETWORK_CACHE_S = 60
_WINDOW_AGGREGATES = {"uploads": Count("upload_id"), **{k: Sum(k) for k in quality.SUMMED},
                      **{k: Max(k) for k in ("clock_lead_ms", "last_event_ms")}}
_ALL_TIME_AGGREGATES = {"calibration_ms": Max("calibration_ms"), "first_event_ms": Min("first_event_ms")}


def limits() -> quality.Limits:
    s = settings
    return quality.Limits(
        hot_factor=s.CRAYFIS_QUALITY_HOT_FACTOR, min_live_s=s.CRAYFIS_QUALITY_MIN_LIVE_H * 3600.0,
        max_quality_fail=s.CRAYFIS_QUALITY_MAX_QUALITY_FAIL, covered_max_mean=s.CRAYFIS_QUALITY_COVERED_MAX_MEAN,
        covered_max_std=s.CRAYFIS_QUALITY_COVERED_MAX_STD, max_no_fix=s.CRAYFIS_QUALITY_MAX_NO_FIX,
        max_gps_accuracy_m=s.CRAYFIS_QUALITY_MAX_GPS_ACCURACY_M, max_clock_lead_s=s.CRAYFIS_QUALITY_MAX_CLOCK_LEAD_S,
        min_block_s=s.CRAYFIS_QUALITY_MIN_BLOCK_S,
        calibration_max_age_s=s.CRAYFIS_QUALITY_CALIBRATION_MAX_AGE_H * 3600.0)


def window_start(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(hours=settings.CRAYFIS_QUALITY_WINDOW_H)


def stats(summaries: QuerySet, now: dt.datetime) -> quality.PhoneStats:
    """The PhoneStats of these summaries (the caller leaves out resends): sums over those
    received in the window, the newest calibration and first event over all of them."""
    readable = summaries.filter(readable=True)
    values = readable.filter(received_at__gte=window_start(now)).aggregate(**_WINDOW_AGGREGATES)
    values.update(readable.aggregate(**_ALL_TIME_AGGREGATES))
    return quality.PhoneStats.from_values(values)


def _counted() -> QuerySet:
    """Every readable upload's summary, a resend of records already summarized left out."""
    return UploadSummary.objects.filter(readable=True, duplicate_of__isnull=True)


def _median_rate(sums: Iterable[tuple[int | None, float | None]], min_live_s: float) -> float | None:
    """Median hits per live hour over (hits, live seconds) per device, of those live long enough."""
    return quality.median_rate((hits or 0) / (live / 3600.0) for hits, live in sums
                               if live is not None and live >= min_live_s and live > 0)


def _network_key() -> str:
    return f"quality:network-rate:{settings.CRAYFIS_QUALITY_WINDOW_H}:{settings.CRAYFIS_QUALITY_MIN_LIVE_H}"


def network_rate(now: dt.datetime) -> float | None:
    """Median hits per live hour of the devices with enough live time in the window."""
    found = cache.get(_network_key())
    if found is not None:
        return found or None
    rows = (_counted().filter(received_at__gte=window_start(now)).values("device_id")
            .annotate(hits=Sum("n_hits"), live=Sum("live_s")).values_list("hits", "live"))
    rate = _median_rate(rows, limits().min_live_s)
    cache.set(_network_key(), rate or 0.0, NETWORK_CACHE_S)
    return rate


def judge(summaries: QuerySet, now: dt.datetime) -> tuple[quality.PhoneStats, list[quality.Flag]]:
    """The stats of these summaries and the flags they earn against the network."""
    found = stats(summaries, now)
    return found, quality.flags(found, network_rate(now), limits())


def refresh_devices(now: dt.datetime | None = None) -> int:
    """Re-judge every device with uploads in the window (DeviceHealth); returns how many."""
    now = now or timezone.now()
    since = window_start(now)
    readable = _counted()
    windows = {r.pop("device_id"): r for r in readable.filter(received_at__gte=since).values("device_id")
               .annotate(**_WINDOW_AGGREGATES)}
    active = readable.filter(received_at__gte=since).values("device_id")
    all_time = {r.pop("device_id"): r for r in readable.filter(device_id__in=active).values("device_id")
                .annotate(**_ALL_TIME_AGGREGATES)}
    lim = limits()
    rate = _median_rate(((v["n_hits"], v["live_s"]) for v in windows.values()), lim.min_live_s)
    cache.set(_network_key(), rate or 0.0, NETWORK_CACHE_S)
    rows = []
    for device_id, values in windows.items():
        found = quality.PhoneStats.from_values({**values, **all_time.get(device_id, {})})
        found_flags = quality.flags(found, rate, lim)
        rows.append(DeviceHealth(device_id=device_id, flagged=bool(found_flags),
                                 flags=[f.as_dict() for f in found_flags], uploads=found.uploads,
                                 live_s=found.live_s, hits_per_live_hour=found.hits_per_live_hour,
                                 evaluated_at=now))
    with transaction.atomic():
        DeviceHealth.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["device_id"],
            update_fields=["flagged", "flags", "uploads", "live_s", "hits_per_live_hour", "evaluated_at"])
        DeviceHealth.objects.filter(evaluated_at__lt=now).delete()   # no uploads in the window any more
        QualityState.objects.update_or_create(name="devices", defaults={"devices_refreshed_at": now})
    flagged = sum(r.flagged for r in rows)
    logger.info("judged %d devices with uploads in the last %g h: %d flagged", len(rows),
                settings.CRAYFIS_QUALITY_WINDOW_H, flagged)
    return len(rows)


def refresh_due(now: dt.datetime) -> bool:
    """Whether the devices' flags are older than CRAYFIS_QUALITY_REFRESH_S."""
    last = QualityState.objects.filter(name="devices").values_list("devices_refreshed_at", flat=True).first()
    return last is None or (now - last).total_seconds() >= settings.CRAYFIS_QUALITY_REFRESH_S

"""The event-time window: which decoded uploads the indexer quarantines instead of indexing.

Anyone can post any event time, and hits, exposure blocks and calibrations go to a monthly index
named by their own time (crayfis/es/naming.py). Unchecked, one upload dated a month apart per
event creates an index (a shard) per month up to year 9999 until the node refuses new shards,
and back-dated hits re-open long-searched buckets for the continuous search. So an upload is
quarantined, with the reason in plain words, when

- a record's time lies more than `max_age_ms` before the upload's receive time or more than
  `max_lead_ms` after it (events, exposure blocks' start and end, calibrations' start and end);
- its documents would go to more than `max_months` monthly indices.

The phone got its 202 long before (a 4xx would make it resend forever) and the raw bytes are
kept, so nothing is lost: late data is legitimate (a phone offline for weeks, a replay of
archives), and an operator who recognises it releases the upload (`manage.py
release_quarantine`), which skips this check. The receive time is the server's own clock, stored
with the upload, so the verdict does not change when the upload is decoded again later.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from crayfis.wire.records import DecodedChunk

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class EventWindow:
    max_age_ms: int
    max_lead_ms: int
    max_months: int

    def violation(self, chunk: DecodedChunk, hit_times: np.ndarray, months: Iterable[str],
                  received_ms: int) -> str | None:
        """Why the upload must be quarantined, or None when it may be indexed.

        `hit_times` are the times its hit documents are filed under, `months` the 'YYYY.MM' of
        every dated index its documents go to.
        """
        times = list(_record_times(chunk))
        if len(hit_times):
            times += [int(hit_times.min()), int(hit_times.max())]
        if times and min(times) < received_ms - self.max_age_ms:
            return _outside(min(times), received_ms, self.max_age_ms, "before", "CRAYFIS_INGEST_MAX_EVENT_AGE_S",
                            "release it with manage.py release_quarantine if the data is genuine "
                            "(e.g. a phone that was offline)")
        if times and max(times) > received_ms + self.max_lead_ms:
            return _outside(max(times), received_ms, self.max_lead_ms, "after", "CRAYFIS_INGEST_MAX_EVENT_LEAD_S",
                            "a phone clock far ahead, or forged data")
        months = sorted(set(months))
        if len(months) > self.max_months:
            return (f"its documents would go to {len(months)} monthly indices ({months[0]} ... {months[-1]}), "
                    f"more than the {self.max_months} allowed (CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD); "
                    "release it with manage.py release_quarantine if the data is genuine")
        return None


def _record_times(chunk: DecodedChunk) -> Iterable[int]:
    """The times of exposure blocks and calibrations (set and non-zero; 0 means unset on the wire)."""
    for xb in chunk.exposures:
        yield from (t for t in (xb.start_ms, xb.end_ms) if t)
    for cal in chunk.calibrations:
        yield from (t for t in (cal.start_ms, cal.end_ms) if t)


def _outside(t_ms: int, received_ms: int, allowed_ms: int, side: str, setting: str, advice: str) -> str:
    return (f"event time {_iso(t_ms)} is {_days(abs(received_ms - t_ms))} {side} the upload was received "
            f"({_iso(received_ms)}), beyond the {_days(allowed_ms)} allowed ({setting}); {advice}")


def _iso(t_ms: int) -> str:
    try:
        return dt.datetime.fromtimestamp(t_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, ValueError, OSError):
        return f"{t_ms} ms"


def _days(span_ms: int) -> str:
    return f"{span_ms / _DAY_MS:.1f} days"

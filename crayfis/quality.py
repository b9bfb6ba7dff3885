"""Data-quality flags of a phone: what its own uploads say about how it is set up.

Two steps, both free of Django:

1. ``summarize(chunk, received_ms)`` reduces one decoded upload to sums and extremes
   (``UploadSummary``): hits, live time, DATA blocks and their durations, GPS fixes and their
   accuracy, the frames the app's quality cut judged and failed, the frames' mean and std, the
   newest event time against the receive time, the newest calibration, and a digest of the
   records it holds (the same digest = the same records sent again).
2. ``flags(stats, network_rate, limits)`` judges a phone from the sums of its summaries over a
   window (``PhoneStats``: every field of ``SUMMED`` added up, every field of ``LATEST`` at its
   largest), against the network's median hit rate, and returns a ``Flag`` with its reason in
   plain words for every rule it breaks.

The rules (the limits are settings, `CRAYFIS_QUALITY_*`, passed in as ``Limits``):

- *hot or noisy*: hits per live hour more than ``hot_factor`` times the network's median. The
  app's L1 trigger holds a fixed rate (20 frames a minute on v1.0.x, docs/wire-protocol.md
  section 6), so every phone that behaves fires at about the same rate; one far above it has hot
  pixels its weight map misses, or a trigger that does not adapt, and adds accidental
  coincidences without adding showers.
- *camera not covered*: the app's quality cut (`facedown`: a weighted frame mean of at most 10)
  failed more than ``max_quality_fail`` of the frames it judged, or the frames that passed had a
  mean above ``covered_max_mean`` or a std above ``covered_max_std``. A covered sensor sees only
  its dark noise, a few units.
- *no GPS fix*: more than ``max_no_fix`` of the DATA blocks came without a position (its hits
  cannot join a coincidence); *poor GPS accuracy*: the fixes' mean accuracy radius is worse than
  ``max_gps_accuracy_m``.
- *clock ahead*: an event dated more than ``max_clock_lead_s`` after the server received the
  upload holding it. An event is recorded before it is uploaded, so its time can only be later
  than the receive time when the phone's clock is ahead.
- *exposure blocks too short*: the DATA blocks last ``min_block_s`` on average or less. The app
  closes a block after 180 s (v1.0.x) unless it aborts it early (a light leak, a drifting
  threshold, the phone idling); blocks that keep ending early mean little usable exposure.
- *calibration stale*: the newest data is more than ``calibration_max_age_s`` after the newest
  calibration the phone sent (or no calibration arrived at all over that long). The L1 threshold
  is tuned at calibration; as the sensor warms and ages it drifts away from the target rate.

Rate rules need ``min_live_s`` of live time in the window; with less, nothing is judged on them.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from hashlib import blake2b

from crayfis.definition import HOUR_MS, SECOND_MS
from crayfis.es.documents import DEFAULT_CHAINS
from crayfis.wire.records import DecodedChunk, ExposureRecord

__all__ = ["FLAG_TITLES", "LATEST", "SUMMED", "Flag", "Limits", "PhoneStats", "UploadSummary", "flags",
           "median_rate", "summarize"]

DATA = "DATA"
QUALITY_STAGE = "QualityProcessor"
QUALITY_KEY = "qual"   # its counter prefix in the stage chains of crayfis.es.documents

HOT, UNCOVERED, NO_GPS, POOR_GPS, CLOCK_AHEAD, SHORT_BLOCKS, STALE_CALIBRATION = (
    "hot", "uncovered", "no_gps", "poor_gps", "clock_ahead", "short_blocks", "stale_calibration")
FLAG_TITLES = {
    HOT: "hot or noisy", UNCOVERED: "camera not covered", NO_GPS: "no GPS fix",
    POOR_GPS: "poor GPS accuracy", CLOCK_AHEAD: "clock ahead", SHORT_BLOCKS: "exposure blocks too short",
    STALE_CALIBRATION: "calibration stale",
}
"""Each flag's code (stored, stable) and its title in plain words, in the order they are listed."""


@dataclass(frozen=True)
class UploadSummary:
    """What one upload says about its phone; every count is over its DATA blocks unless named.

    ``exposure`` holds one (start_ms, live_s, hits) per DATA block, for charts over time.
    """

    n_events: int = 0
    n_hits: int = 0
    live_s: float = 0.0
    data_blocks: int = 0
    data_block_s: float = 0.0          # summed wall-clock length of the DATA blocks
    blocks_without_fix: int = 0
    fixes: int = 0                     # DATA blocks with a position and an accuracy
    accuracy_sum_m: float = 0.0
    frames_judged: int = 0             # frames the quality cut looked at
    frames_failed: int = 0             # ... and refused
    frame_stats: int = 0               # events carrying the frame's mean and std
    frame_mean_sum: float = 0.0
    frame_std_sum: float = 0.0
    first_event_ms: int | None = None
    last_event_ms: int | None = None
    clock_lead_ms: int | None = None   # newest event time minus the receive time
    calibration_ms: int | None = None  # end of the newest calibration it carried
    content_digest: str = ""
    exposure: tuple[tuple[int, float, int], ...] = ()


SUMMED = ("n_events", "n_hits", "live_s", "data_blocks", "data_block_s", "blocks_without_fix", "fixes",
          "accuracy_sum_m", "frames_judged", "frames_failed", "frame_stats", "frame_mean_sum", "frame_std_sum")
"""Fields of UploadSummary a window adds up."""
LATEST = ("clock_lead_ms", "last_event_ms", "calibration_ms")
"""Fields of UploadSummary a window takes the largest of."""


def _quality_counts(xb: ExposureRecord) -> tuple[int, int]:
    """(frames judged, frames refused) by the block's quality stage; (0, 0) without counters."""
    if xb.stage_names:
        if QUALITY_STAGE not in xb.stage_names:
            return 0, 0
        i = xb.stage_names.index(QUALITY_STAGE)
    else:
        chain = DEFAULT_CHAINS.get(xb.state, ())
        if QUALITY_KEY not in chain:
            return 0, 0
        i = chain.index(QUALITY_KEY)
    if i >= len(xb.stage_processed) or i >= len(xb.stage_pass):
        return 0, 0
    judged, passed = int(xb.stage_processed[i]), int(xb.stage_pass[i])
    return judged, max(judged - passed, 0)


def _record_keys(chunk: DecodedChunk) -> Iterable[str]:
    """A key per record, as its Elasticsearch id is keyed (crayfis/es/documents.py): the same
    keys again mean the same records again."""
    for run in chunk.runs:
        yield f"run|{run.run_uuid}"
    for xb in chunk.exposures:
        yield f"xb|{xb.run_uuid}|{xb.xbn}|{xb.start_ms}|{xb.state}|{len(xb.events)}"
    for cal in chunk.calibrations:
        yield f"cal|{cal.run_uuid}|{cal.end_ms}"
    for pre in chunk.precalibrations:
        yield f"precal|{pre.camera_id}|{pre.res_x}|{pre.res_y}|{pre.hot_hash}|{pre.wgt_hash}"


def content_digest(chunk: DecodedChunk) -> str:
    """blake2b-128 hex of the upload's record keys, in any order."""
    return blake2b("\n".join(sorted(_record_keys(chunk))).encode(), digest_size=16).hexdigest()


def _finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def summarize(chunk: DecodedChunk, received_ms: int) -> UploadSummary:
    """The summary of one decoded upload received at ``received_ms`` (server clock)."""
    out = dict.fromkeys(SUMMED, 0)
    exposure: list[tuple[int, float, int]] = []
    times: list[int] = []
    calibrations = [c.end_ms or c.start_ms for c in chunk.calibrations if c.end_ms or c.start_ms]
    for xb in chunk.exposures:
        times.extend(ev.t_ms for ev in xb.events if ev.t_ms)
        if xb.state == "CALIBRATION" and xb.end_ms:
            calibrations.append(xb.end_ms)
        if xb.state != DATA:
            continue
        out["data_blocks"] += 1
        live = _finite(xb.live_s) or 0.0
        out["live_s"] += live
        out["n_events"] += len(xb.events)
        out["n_hits"] += xb.n_hits
        if xb.start_ms and xb.end_ms and xb.end_ms >= xb.start_ms:
            out["data_block_s"] += (xb.end_ms - xb.start_ms) / SECOND_MS
        if xb.lat is None:
            out["blocks_without_fix"] += 1
        elif _finite(xb.accuracy) is not None:
            out["fixes"] += 1
            out["accuracy_sum_m"] += float(xb.accuracy)
        judged, failed = _quality_counts(xb)
        out["frames_judged"] += judged
        out["frames_failed"] += failed
        for ev in xb.events:
            mean, std = _finite(ev.avg), _finite(ev.std)
            if mean is not None and std is not None:
                out["frame_stats"] += 1
                out["frame_mean_sum"] += mean
                out["frame_std_sum"] += std
        exposure.append((int(xb.start_ms or xb.end_ms or received_ms), live, int(xb.n_hits)))
    last = max(times) if times else None
    return UploadSummary(
        **out, first_event_ms=min(times) if times else None, last_event_ms=last,
        clock_lead_ms=None if last is None else last - int(received_ms),
        calibration_ms=max(calibrations) if calibrations else None,
        content_digest=content_digest(chunk), exposure=tuple(exposure))


@dataclass(frozen=True)
class PhoneStats:
    """A phone's summaries over a window: SUMMED fields added up, LATEST ones at their largest;
    ``uploads`` counts them; ``first_event_ms`` and ``calibration_ms`` are over all its uploads
    (a calibration may predate the window)."""

    uploads: int = 0
    n_events: int = 0
    n_hits: int = 0
    live_s: float = 0.0
    data_blocks: int = 0
    data_block_s: float = 0.0
    blocks_without_fix: int = 0
    fixes: int = 0
    accuracy_sum_m: float = 0.0
    frames_judged: int = 0
    frames_failed: int = 0
    frame_stats: int = 0
    frame_mean_sum: float = 0.0
    frame_std_sum: float = 0.0
    clock_lead_ms: int | None = None
    last_event_ms: int | None = None
    calibration_ms: int | None = None
    first_event_ms: int | None = None

    @classmethod
    def from_values(cls, values: Mapping) -> PhoneStats:
        """From a mapping with (some of) the field names; missing or None sums count as 0."""
        names = {f.name for f in fields(cls)}
        clean = {k: v for k, v in values.items() if k in names}
        for k in ("uploads", *SUMMED):
            if clean.get(k) is None:
                clean[k] = 0
        return cls(**clean)

    @classmethod
    def of(cls, summaries: Sequence[UploadSummary]) -> PhoneStats:
        """The stats of these summaries (tests and small windows; the Django side aggregates in SQL)."""
        values: dict = {k: sum(getattr(s, k) for s in summaries) for k in SUMMED}
        for k in LATEST:
            seen = [getattr(s, k) for s in summaries if getattr(s, k) is not None]
            values[k] = max(seen) if seen else None
        firsts = [s.first_event_ms for s in summaries if s.first_event_ms is not None]
        return cls(uploads=len(summaries), first_event_ms=min(firsts) if firsts else None, **values)

    @property
    def hits_per_live_hour(self) -> float | None:
        return self.n_hits / (self.live_s / 3600.0) if self.live_s > 0 else None


@dataclass(frozen=True)
class Limits:
    """The thresholds of the rules (module docstring); from the CRAYFIS_QUALITY_* settings."""

    hot_factor: float
    min_live_s: float
    max_quality_fail: float
    covered_max_mean: float
    covered_max_std: float
    max_no_fix: float
    max_gps_accuracy_m: float
    max_clock_lead_s: float
    min_block_s: float
    calibration_max_age_s: float


@dataclass(frozen=True)
class Flag:
    """One rule a phone breaks: its code, title and the numbers behind it in plain words."""

    code: str
    title: str
    reason: str

    def as_dict(self) -> dict:
        return {"code": self.code, "title": self.title, "reason": self.reason}


def median_rate(rates: Iterable[float]) -> float | None:
    """The median of per-phone hit rates (None without any)."""
    values = sorted(float(r) for r in rates if r is not None and math.isfinite(r))
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


def _hot(s: PhoneStats, network_rate: float | None, lim: Limits) -> str | None:
    rate = s.hits_per_live_hour
    if rate is None or s.live_s < lim.min_live_s or not network_rate:
        return None
    if rate > lim.hot_factor * network_rate:
        return (f"{rate:,.0f} hits per live hour, {rate / network_rate:.1f} times the network's median of "
                f"{network_rate:,.0f} (more than {lim.hot_factor:g} times is flagged): hot pixels or a trigger "
                "that does not settle; its extra hits are noise")
    return None


def _uncovered(s: PhoneStats, lim: Limits) -> str | None:
    reasons = []
    if s.frames_judged and s.frames_failed / s.frames_judged > lim.max_quality_fail:
        reasons.append(f"the app's own darkness check refused {s.frames_failed / s.frames_judged:.0%} of "
                       f"{s.frames_judged:,} frames")
    if s.frame_stats:
        mean, std = s.frame_mean_sum / s.frame_stats, s.frame_std_sum / s.frame_stats
        if mean > lim.covered_max_mean:
            reasons.append(f"the frames' mean brightness is {mean:.1f} (a covered camera stays at or below "
                           f"{lim.covered_max_mean:g})")
        if std > lim.covered_max_std:
            reasons.append(f"the frames' brightness varies by {std:.1f} (a covered camera's noise stays at or "
                           f"below {lim.covered_max_std:g})")
    if not reasons:
        return None
    return "; ".join(reasons) + ": light reaches the sensor; cover the camera (e.g. lay the phone screen up on a table)"


def _gps(s: PhoneStats, lim: Limits) -> tuple[str | None, str | None]:
    no_fix = poor = None
    if s.data_blocks and s.blocks_without_fix / s.data_blocks > lim.max_no_fix:
        no_fix = (f"{s.blocks_without_fix} of {s.data_blocks} exposure blocks came without a position: their "
                  "hits cannot join a coincidence; allow the app to use location")
    if s.fixes:
        accuracy = s.accuracy_sum_m / s.fixes
        if accuracy > lim.max_gps_accuracy_m:
            poor = (f"positions are accurate to {accuracy:,.0f} m on average (worse than "
                    f"{lim.max_gps_accuracy_m:g} m): coincidences need a phone's place within a few tens of "
                    "metres; a window seat or Wi-Fi location helps")
    return no_fix, poor


def _clock(s: PhoneStats, lim: Limits) -> str | None:
    if s.clock_lead_ms is None or s.clock_lead_ms <= lim.max_clock_lead_s * SECOND_MS:
        return None
    return (f"events are dated up to {_duration(s.clock_lead_ms)} after the server received them: the phone's "
            "clock is ahead; turn on automatic date and time")


def _short_blocks(s: PhoneStats, lim: Limits) -> str | None:
    if not s.data_blocks or s.data_block_s / s.data_blocks > lim.min_block_s:
        return None
    return (f"exposure blocks last {s.data_block_s / s.data_blocks:.0f} s on average (the app closes them after "
            f"180 s unless something cuts them short; {lim.min_block_s:g} s or less is flagged): a light leak, a "
            "noisy sensor or a phone that keeps stopping")


def _calibration(s: PhoneStats, lim: Limits) -> str | None:
    if s.last_event_ms is None:
        return None
    max_age_ms = lim.calibration_max_age_s * SECOND_MS
    if s.calibration_ms is None:
        first = s.first_event_ms if s.first_event_ms is not None else s.last_event_ms
        if s.last_event_ms - first <= max_age_ms:
            return None
        return (f"no calibration has arrived in {_duration(s.last_event_ms - first)} of data (more than "
                f"{_duration(max_age_ms)} is flagged); restarting data taking recalibrates")
    age = s.last_event_ms - s.calibration_ms
    if age <= max_age_ms:
        return None
    return (f"the newest data is {_duration(age)} after the last calibration (more than {_duration(max_age_ms)} "
            "is flagged): the trigger threshold drifts as the sensor warms; restarting data taking recalibrates")


def flags(stats: PhoneStats, network_rate: float | None, limits: Limits) -> list[Flag]:
    """Every rule the phone breaks, in FLAG_TITLES order (empty: nothing to report)."""
    no_fix, poor = _gps(stats, limits)
    found = {HOT: _hot(stats, network_rate, limits), UNCOVERED: _uncovered(stats, limits), NO_GPS: no_fix,
             POOR_GPS: poor, CLOCK_AHEAD: _clock(stats, limits), SHORT_BLOCKS: _short_blocks(stats, limits),
             STALE_CALIBRATION: _calibration(stats, limits)}
    return [Flag(code, FLAG_TITLES[code], reason) for code, reason in found.items() if reason]


def _duration(ms: float) -> str:
    """A span in words: seconds, minutes, hours or days."""
    s = ms / SECOND_MS
    if s < 120:
        return f"{s:.0f} s"
    if ms < 2 * HOUR_MS:
        return f"{s / 60:.0f} min"
    if ms < 48 * HOUR_MS:
        return f"{ms / HOUR_MS:.1f} h"
    return f"{ms / (24 * HOUR_MS):.1f} days"

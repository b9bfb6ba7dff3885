"""Index names: `{prefix}-{kind}-YYYY.MM` by the UTC month of a document's event time.

Hits and exposures go to indices named by event time, never to data streams: a document's `_id`
is unique only within one index, so its index must follow from the document itself for a replay
to land on the same index and be refused as a duplicate (docs/ARCHITECTURE.md).
"""
from __future__ import annotations

import datetime as dt

from crayfis.definition import DAY_MS

__all__ = ["DATED_KINDS", "SINGLE_KINDS", "KINDS", "index_for", "index_pattern", "month_suffix"]

DATED_KINDS = ("hits", "exposures", "calibrations")
SINGLE_KINDS = ("runs", "precalibrations", "candidates")
KINDS = DATED_KINDS + SINGLE_KINDS

_month_by_day: dict[int, str] = {}


def month_suffix(t_ms: int) -> str:
    """'YYYY.MM' of a Unix-ms time (UTC); cached per day because it runs once per hit."""
    day = t_ms // DAY_MS
    s = _month_by_day.get(day)
    if s is None:
        d = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day)
        s = f"{d.year:04d}.{d.month:02d}"
        if len(_month_by_day) > 100_000:
            _month_by_day.clear()
        _month_by_day[day] = s
    return s


def index_for(prefix: str, kind: str, t_ms: int | None = None) -> str:
    """The index a document of `kind` with event time `t_ms` belongs to.

    Dated kinds (hits, exposures, calibrations) need t_ms; the others have one index each.
    """
    if kind in DATED_KINDS:
        if t_ms is None:
            raise ValueError(f"a {kind} document needs its event time")
        return f"{prefix}-{kind}-{month_suffix(t_ms)}"
    if kind in SINGLE_KINDS:
        return f"{prefix}-{kind}"
    raise ValueError(f"unknown index kind {kind!r}")


def index_pattern(prefix: str, kind: str) -> str:
    """Pattern covering every index of `kind` (for searches and templates)."""
    if kind in DATED_KINDS:
        return f"{prefix}-{kind}-*"
    if kind in SINGLE_KINDS:
        return f"{prefix}-{kind}"
    raise ValueError(f"unknown index kind {kind!r}")

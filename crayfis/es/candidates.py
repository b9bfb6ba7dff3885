"""The candidate document: one mapping, one builder, one id scheme, one selection for readers.

Two writers share the index `{prefix}-candidates` (docs/candidates.md has every field):

- the continuous search (search/es_candidates.py) keeps the catalogue: one document per id it has
  ever given a candidate, `source: continuous`, `job_id: continuous`, changed in place (revision
  + 1 per change, optimistic concurrency on seq_no), retracted but never deleted;
- a batch run of the Spark job with `--to-es` (spark_jobs/output.py) writes what it found,
  `source: batch`, `job_id` = the run's id; a later batch run that finds the same candidate
  replaces that document.

Both name a candidate by the same canonical id (``crayfis.coincidence.merge.candidate_id`` of its
earliest triggered anchor), but their document `_id`s never meet (``document_id``): a batch
document's `_id` is the candidate id, a continuous one's is "continuous:" + the candidate id, and
candidate ids hold no colon. So neither writer can overwrite the other's documents or history.

Every document has every field of ``MAPPING`` (null where its writer does not know it), and the
mapping is strict: a field outside it is refused, so the shape cannot drift.

Readers select with ``selection``: the public pages and the read API by default show the
continuous search's active candidates; a batch run's are read with source=batch and its job_id.

Background: the continuous search also records what its significance was estimated from, for
the public "multiplicity against the background" chart: Lambda(m), the accidental windows with
at least m devices expected over the span of hits it used, for m = k, k + 1, ...
(``expected_by_multiplicity``), and that span in whole seconds (``background_from_ms``,
``background_to_ms``). These say nothing of the members. They are ``LATER_FIELDS``: an index
created before them is given them in place (crayfis.es.templates.check_index_mapping), and a
document written before them simply lacks the chart.

Trust (docs/security.md): a document records which of its members are trusted devices
(``trusted_devices``, ``n_trusted_devices``) and whether that makes it public: at least k trusted
members (``is_public``). Anonymous readers, public counts and alerts see public candidates only
(``selection(public_only=True)``); its writer re-marks a document when its members' trust changes.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crayfis.definition import SearchParams
from crayfis.es.fields import BOOL, DATE, DOUBLE, GEO, INT, KW, LONG, STORED_DOUBLES, STORED_TEXT
from crayfis.privacy import public_cell

__all__ = [
    "ACTIVE", "BACKGROUND_FIELDS", "BATCH", "CONTINUOUS", "CONTINUOUS_JOB_ID", "LATER_FIELDS", "MAPPING", "MERGED",
    "RETRACTED", "SCORE_FIELDS", "SOURCES", "TRUST_FIELDS", "UNSUPPORTED", "Component", "Lifecycle",
    "candidate_document", "document_id", "is_public", "lifecycle_fields", "selection", "trust_fields",
]

CONTINUOUS, BATCH = "continuous", "batch"   # values of `source`: who wrote the document
SOURCES = (CONTINUOUS, BATCH)
CONTINUOUS_JOB_ID = "continuous"            # `job_id` of the continuous search's documents
ACTIVE, RETRACTED = "active", "retracted"   # values of `status`
MERGED, UNSUPPORTED = "merged", "unsupported"   # values of `retraction`
SCORE_FIELDS = ("expected_background", "p_value", "false_alarm_per_year")
TRUST_FIELDS = ("trusted_devices", "n_trusted_devices", "public")
BACKGROUND_FIELDS = ("expected_by_multiplicity", "background_from_ms", "background_to_ms")
LATER_FIELDS = frozenset(BACKGROUND_FIELDS)   # an older index gets these in place (module docstring)

MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        # who wrote it and under which name
        "candidate_id": KW, "source": KW, "job_id": KW, "canonical_id": KW, "aliases": KW,
        # where it stands: revised in place by the continuous search, never deleted
        "status": KW, "retraction": KW, "merged_into": KW, "revision": LONG,
        "created_ms": DATE, "updated_at": DATE,
        # what was found
        "hit_ids": KW, "anchor_ids": STORED_TEXT, "devices": KW, "n_hits": INT, "n_devices": INT,
        "multiplicity": INT, "n_triggered_anchors": INT, "t_start_ms": DATE, "t_end_ms": DATE,
        "location": GEO, "cell": KW, "cell_location": GEO,
        # which members are trusted devices, and whether that makes it public
        "trusted_devices": KW, "n_trusted_devices": INT, "public": BOOL,
        # how unlikely it is by accident
        "expected_background": DOUBLE, "p_value": DOUBLE, "false_alarm_per_year": DOUBLE,
        # the background it was scored against: Lambda(m) for m = k, k + 1, ... over that span
        "expected_by_multiplicity": STORED_DOUBLES, "background_from_ms": DATE, "background_to_ms": DATE,
        # the search that found it
        "tau_ms": LONG, "radius_m": DOUBLE, "k": INT,
    },
}


@dataclass(frozen=True)
class Component:
    """One candidate as a search found it: the facts its document is built from.

    ``hit_ids`` are sorted by (time, id); ``anchors`` are the triggered anchors' hit ids, earliest
    first (empty where the search does not keep them, as in a batch run's output); ``devices``
    are the sorted distinct device pseudonyms; ``lat``/``lon`` the exact centroid (degrees).
    """

    canonical_id: str
    hit_ids: tuple[str, ...]
    anchors: tuple[str, ...]
    devices: tuple[str, ...]
    n_devices: int
    multiplicity: int
    t_start_ms: int
    t_end_ms: int
    lat: float
    lon: float
    n_triggered_anchors: int

    @property
    def n_hits(self) -> int:
        return len(self.hit_ids)


@dataclass(frozen=True)
class Lifecycle:
    """Where a candidate stands in its writer's history (Unix ms times)."""

    status: str
    revision: int
    created_ms: int
    updated_ms: int
    aliases: tuple[str, ...]
    retraction: str | None = None
    merged_into: str | None = None

    @classmethod
    def first(cls, candidate_id: str, t_ms: int) -> Lifecycle:
        """A document written once: active, revision 1, known by its own id only."""
        return cls(status=ACTIVE, revision=1, created_ms=int(t_ms), updated_ms=int(t_ms),
                   aliases=(candidate_id,))


def document_id(source: str, candidate_id: str) -> str:
    """The `_id` of a candidate's document: the two writers' ids can never be equal."""
    if ":" in candidate_id:
        raise ValueError(f"a candidate id holds no colon: {candidate_id!r}")
    if source == BATCH:
        return candidate_id
    if source == CONTINUOUS:
        return f"{CONTINUOUS}:{candidate_id}"
    raise ValueError(f"unknown candidate source {source!r}")


def lifecycle_fields(life: Lifecycle) -> dict[str, Any]:
    """The fields a change of status rewrites; a retraction writes these alone."""
    return {"status": life.status, "retraction": life.retraction, "merged_into": life.merged_into,
            "aliases": list(life.aliases), "revision": int(life.revision),
            "updated_at": int(life.updated_ms)}


def is_public(n_trusted_devices: int, k: int) -> bool:
    """The one rule: a candidate is public when at least k of its devices are trusted, so k
    forged (untrusted) phones, or k - 1 forged ones and a real one, never make it public."""
    return int(n_trusted_devices) >= int(k) > 0


def trust_fields(devices: Iterable[str], trusted: Iterable[str], k: int) -> dict[str, Any]:
    """The trust fields of a candidate with these member devices, given (a superset of) the
    trusted ones: only members count."""
    members = set(devices)
    mine = sorted(members.intersection(trusted))
    return {"trusted_devices": mine, "n_trusted_devices": len(mine), "public": is_public(len(mine), k)}


def _finite(value) -> float | None:
    """JSON has no NaN or infinity: a score that is not a finite number is written as null."""
    return float(value) if value is not None and math.isfinite(value) else None


def background_fields(scores: Mapping[str, Any]) -> dict[str, Any]:
    """BACKGROUND_FIELDS from a scorer's output (null where it gave none)."""
    curve = scores.get("expected_by_multiplicity")
    start, end = scores.get("background_from_ms"), scores.get("background_to_ms")
    return {"expected_by_multiplicity": None if curve is None else [_finite(v) for v in curve],
            "background_from_ms": None if start is None else int(start),
            "background_to_ms": None if end is None else int(end)}


def candidate_document(candidate_id: str, found: Component, life: Lifecycle, params: SearchParams,
                       scores: Mapping[str, Any] | None, *, source: str, job_id: str,
                       trusted: Iterable[str] = ()) -> dict[str, Any]:
    """The whole `_source` of a candidate document: every field of ``MAPPING``, nothing else.

    ``scores`` holds SCORE_FIELDS and BACKGROUND_FIELDS (missing ones are null). The exact
    centroid goes to `location` (read by scientists only); public readers get `cell` /
    `cell_location`, its public cell.
    ``trusted`` names the trusted devices (any superset of the trusted members); a writer that
    does not know trust leaves it empty, and the candidate is then not public.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown candidate source {source!r}")
    cell, cell_lat, cell_lon = public_cell(found.lat, found.lon)
    scores = scores or {}
    return {
        "candidate_id": candidate_id, "source": source, "job_id": job_id,
        "canonical_id": found.canonical_id, "created_ms": int(life.created_ms),
        **lifecycle_fields(life),
        "hit_ids": list(found.hit_ids), "anchor_ids": list(found.anchors),
        "devices": list(found.devices), "n_hits": found.n_hits, "n_devices": int(found.n_devices),
        "multiplicity": int(found.multiplicity), "n_triggered_anchors": int(found.n_triggered_anchors),
        "t_start_ms": int(found.t_start_ms), "t_end_ms": int(found.t_end_ms),
        "location": {"lat": float(found.lat), "lon": float(found.lon)} if cell else None,
        "cell": cell, "cell_location": {"lat": cell_lat, "lon": cell_lon} if cell else None,
        **trust_fields(found.devices, trusted, params.min_devices),
        **{name: _finite(scores.get(name)) for name in SCORE_FIELDS},
        **background_fields(scores),
        "tau_ms": int(params.window_ms), "radius_m": float(params.radius_m),
        "k": int(params.min_devices),
    }


def selection(source: str = CONTINUOUS, job_id: str | None = None, *,
              include_retracted: bool = False, public_only: bool = False) -> dict[str, Any]:
    """Query clause for the candidates a reader shows: one source (the continuous search's
    catalogue unless told otherwise), optionally one run, retracted ones left out unless asked,
    and, for every anonymous reader and public count, public ones only."""
    if source not in SOURCES:
        raise ValueError(f"unknown candidate source {source!r}")
    filters: list[dict] = [{"term": {"source": source}}]
    if job_id is not None:
        filters.append({"term": {"job_id": job_id}})
    if public_only:
        filters.append({"term": {"public": True}})
    must_not = [] if include_retracted else [{"term": {"status": RETRACTED}}]
    return {"bool": {"filter": filters, "must_not": must_not}}

"""The continuous search's candidates in `{prefix}-candidates`: read, versioned writes.

Document id = candidate_id. Writes are optimistic: an existing document is replaced (or, for a
retraction, partially updated with a plain `doc`, no script) only if its seq_no/primary_term is
still the one read, and a new id is written with op_type create; any conflict aborts the pass,
whose buckets then stay pending and are searched again. Nothing is ever deleted.

Fields beyond the shared template (crayfis/es/templates.py maps candidates with
dynamic: false) are added to the index mapping by ``ensure_candidate_fields`` so that status
and revision can be queried: see CANDIDATE_EXTRA_FIELDS.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from elasticsearch import Elasticsearch, helpers

from crayfis.es.naming import index_for
from crayfis.es.templates import DATE, DOUBLE, INT, KW, LONG, STORED_TEXT, ensure_templates
from crayfis.privacy import public_cell
from search.incremental import ACTIVE, Change, Component, SearchParams, StoredCandidate
from search.region import Interval

JOB_ID = "continuous"
CANDIDATE_EXTRA_FIELDS = {
    "status": KW,            # active | retracted
    "retraction": KW,        # merged | unsupported (retracted only)
    "merged_into": KW,       # id of the candidate that absorbed this one
    "aliases": KW,           # every id this candidate has had, + its batch (canonical) id
    "canonical_id": KW,      # candidate_id of its earliest triggered anchor (batch naming)
    "revision": LONG,        # 1 on creation, +1 on every change
    "updated_at": DATE,      # Unix ms of the last change
    "multiplicity": INT,     # most distinct devices in one window (what significance scores)
    "anchor_ids": STORED_TEXT,  # triggered anchors' hit ids (kept for reading back)
    "lat": DOUBLE, "lon": DOUBLE,
}


class ConflictError(RuntimeError):
    """Another writer changed a candidate this pass read: the pass is retried later."""


def ensure_candidate_fields(es: Elasticsearch, prefix: str, replicas: int = 0) -> str:
    """Templates (with this many replicas) + the candidates index with the extra fields mapped (idempotent)."""
    ensure_templates(es, prefix, replicas=replicas)
    index = index_for(prefix, "candidates")
    es.indices.put_mapping(index=index, properties=CANDIDATE_EXTRA_FIELDS)
    return index


def candidate_source(c: StoredCandidate, params: SearchParams, scores: dict | None) -> dict:
    """The full document of an active candidate."""
    comp: Component = c.component
    cell, cell_lat, cell_lon = public_cell(comp.lat, comp.lon)
    scores = scores or {}
    return {
        "candidate_id": c.candidate_id, "canonical_id": comp.canonical_id,
        "hit_ids": list(comp.hit_ids), "anchor_ids": list(comp.anchors),
        "devices": list(comp.devices), "n_hits": comp.n_hits, "n_devices": comp.n_devices,
        "multiplicity": comp.multiplicity, "n_triggered_anchors": comp.n_triggered_anchors,
        "t_start_ms": comp.t_start_ms, "t_end_ms": comp.t_end_ms,
        "location": {"lat": comp.lat, "lon": comp.lon}, "lat": comp.lat, "lon": comp.lon,
        "cell": cell, "cell_location": {"lat": cell_lat, "lon": cell_lon} if cell else None,
        "expected_background": scores.get("expected_background"),
        "p_value": scores.get("p_value"),
        "false_alarm_per_year": scores.get("false_alarm_per_year"),
        "tau_ms": params.window_ms, "radius_m": params.radius_m, "k": params.min_devices,
        "job_id": JOB_ID, "status": ACTIVE, "retraction": None, "merged_into": None,
        "aliases": list(c.aliases), "revision": c.revision, "created_ms": c.created_ms,
        "updated_at": c.updated_ms,
    }


def stored_from_hit(hit: dict) -> StoredCandidate:
    s = hit["_source"]
    loc = s.get("location") or {}
    comp = Component(
        canonical_id=s.get("canonical_id") or s["candidate_id"],
        hit_ids=tuple(s.get("hit_ids") or ()), anchors=tuple(s.get("anchor_ids") or ()),
        devices=tuple(s.get("devices") or ()), n_devices=int(s.get("n_devices") or 0),
        multiplicity=int(s.get("multiplicity") or 0),
        t_start_ms=int(s["t_start_ms"]), t_end_ms=int(s["t_end_ms"]),
        lat=float(loc.get("lat", s.get("lat", 0.0))), lon=float(loc.get("lon", s.get("lon", 0.0))),
        n_triggered_anchors=int(s.get("n_triggered_anchors") or 0))
    return StoredCandidate(
        candidate_id=s["candidate_id"], status=s.get("status") or ACTIVE,
        revision=int(s.get("revision") or 0), created_ms=int(s.get("created_ms") or 0),
        updated_ms=int(s.get("updated_at") or 0), hit_ids=comp.hit_ids, anchors=comp.anchors,
        t_start_ms=comp.t_start_ms, t_end_ms=comp.t_end_ms, aliases=tuple(s.get("aliases") or ()),
        merged_into=s.get("merged_into"), retraction=s.get("retraction"), component=comp,
        token=(hit["_seq_no"], hit["_primary_term"]))


def overlap_query(ranges: Sequence[Interval]) -> dict[str, Any]:
    should = [{"bool": {"filter": [{"range": {"t_start_ms": {"lte": int(hi), "format": "epoch_millis"}}},
                                   {"range": {"t_end_ms": {"gte": int(lo), "format": "epoch_millis"}}}]}}
              for lo, hi in ranges]
    return {"bool": {"filter": [{"term": {"status": ACTIVE}},
                                {"bool": {"should": should, "minimum_should_match": 1}}]}}


class EsCandidateStore:
    """``CandidateStore`` over `{prefix}-candidates` (see search/continuous.py)."""

    def __init__(self, es: Elasticsearch, prefix: str, params: SearchParams, page_size: int = 5000,
                 replicas: int = 0):
        self.es, self.prefix, self.params, self.page_size = es, prefix, params, page_size
        self.replicas = replicas
        self.index = index_for(prefix, "candidates")

    def ensure(self) -> None:
        ensure_candidate_fields(self.es, self.prefix, self.replicas)

    def active_overlapping(self, ranges: Sequence[Interval]) -> list[StoredCandidate]:
        if not ranges:
            return []
        out: list[StoredCandidate] = []
        body: dict[str, Any] = {"size": self.page_size, "query": overlap_query(ranges),
                                "sort": [{"t_start_ms": "asc"}, {"candidate_id": "asc"}],
                                "seq_no_primary_term": True, "track_total_hits": False}
        while True:
            hits = self.es.search(index=self.index, **body)["hits"]["hits"]
            out += [stored_from_hit(h) for h in hits]
            if len(hits) < self.page_size:
                return out
            body["search_after"] = hits[-1]["sort"]

    def all_active(self) -> list[StoredCandidate]:
        return self.active_overlapping([(-(2**62), 2**62)])

    def get(self, ids: Iterable[str]) -> dict[str, StoredCandidate]:
        ids = sorted(set(ids))
        if not ids:
            return {}
        docs = self.es.mget(index=self.index, ids=ids)["docs"]
        return {d["_id"]: stored_from_hit(d) for d in docs if d.get("found")}

    def actions(self, changes: Sequence[Change], scores: dict[str, dict]) -> list[dict]:
        out = []
        for ch in changes:
            c = ch.after
            action: dict[str, Any] = {"_index": self.index, "_id": c.candidate_id}
            if c.status == ACTIVE:
                action["_source"] = candidate_source(c, self.params, scores.get(c.candidate_id))
                if ch.before is None:
                    action["_op_type"] = "create"
                else:
                    action["_op_type"] = "index"
                    action["if_seq_no"], action["if_primary_term"] = ch.before.token
            else:
                action["_op_type"] = "update"
                action["doc"] = {"status": c.status, "retraction": c.retraction,
                                 "merged_into": c.merged_into, "revision": c.revision,
                                 "updated_at": c.updated_ms, "aliases": list(c.aliases)}
                action["if_seq_no"], action["if_primary_term"] = ch.before.token
            out.append(action)
        return out

    def write(self, changes: Sequence[Change], scores: dict[str, dict]) -> None:
        if not changes:
            return
        # Retractions last: a reader never sees a merged candidate's hits in no active one.
        ordered = sorted(changes, key=lambda ch: ch.after.status != ACTIVE)
        _, errors = helpers.bulk(self.es, self.actions(ordered, scores), raise_on_error=False,
                                 refresh=True)
        if errors:
            conflicts = [e for e in errors if next(iter(e.values())).get("status") == 409]
            if conflicts:
                raise ConflictError(f"{len(conflicts)} candidate writes conflicted: {conflicts[:1]}")
            raise RuntimeError(f"{len(errors)} candidate writes failed: {errors[:1]}")

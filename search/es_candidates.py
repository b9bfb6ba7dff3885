"""The continuous search's candidates in `{prefix}-candidates`: read, versioned writes.

Documents come from the one builder (crayfis/es/candidates.py) with `source: continuous`; their
`_id` is ``document_id(CONTINUOUS, candidate_id)``, an id space no batch run writes to, and
every read here selects `source: continuous`, so a batch run's documents (same index, same
candidate ids) never enter the region closure or the reconciliation.

Writes are optimistic: an existing document is replaced (or, for a retraction, partially updated
with its lifecycle fields, a plain `doc`, no script) only if its seq_no/primary_term is still
the one read, and a new id is written with op_type create; any conflict aborts the pass, whose
buckets then stay pending and are searched again. Nothing is ever deleted.

Trust: every active document written records its trusted members as they stand at the write
(``trusted``, by default ingest.devices.trusted_pseudonyms); ``retrust`` re-marks the documents of
devices whose trust changed since, so a candidate is public exactly while k of its members are
trusted (up to one pass late). ``alertable`` reads the public ones an alert may announce.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from elasticsearch import Elasticsearch, helpers

from crayfis.definition import SearchParams
from crayfis.es.candidates import (
    ACTIVE,
    CONTINUOUS,
    CONTINUOUS_JOB_ID,
    TRUST_FIELDS,
    Component,
    candidate_document,
    document_id,
    lifecycle_fields,
    trust_fields,
)
from crayfis.es.naming import index_for
from crayfis.es.partial import require_complete
from crayfis.es.templates import check_index_mapping, ensure_templates
from ingest.devices import trusted_pseudonyms
from search.incremental import Change, StoredCandidate
from search.region import Interval

TERMS_PER_QUERY = 10_000   # well below Elasticsearch's index.max_terms_count (65,536)
# pseudonyms -> those of them that are trusted devices now
TrustLookup = Callable[[Iterable[str]], set[str]]


class ConflictError(RuntimeError):
    """Another writer changed a candidate this pass read: the pass is retried later."""


def candidate_source(c: StoredCandidate, params: SearchParams, scores: dict | None,
                     trusted: Iterable[str] = ()) -> dict:
    """The full document of an active candidate (``trusted``: the trusted devices among them)."""
    return candidate_document(c.candidate_id, c.component, c.lifecycle, params, scores,
                              source=CONTINUOUS, job_id=CONTINUOUS_JOB_ID, trusted=trusted)


def stored_from_hit(hit: dict) -> StoredCandidate:
    """A stored candidate from a search hit or mget doc (with its seq_no and primary term)."""
    s = hit["_source"]
    loc = s["location"] or {}
    comp = Component(
        canonical_id=s["canonical_id"], hit_ids=tuple(s["hit_ids"]), anchors=tuple(s["anchor_ids"]),
        devices=tuple(s["devices"]), n_devices=int(s["n_devices"]), multiplicity=int(s["multiplicity"]),
        t_start_ms=int(s["t_start_ms"]), t_end_ms=int(s["t_end_ms"]),
        lat=float(loc.get("lat", "nan")), lon=float(loc.get("lon", "nan")),
        n_triggered_anchors=int(s["n_triggered_anchors"]))
    return StoredCandidate(
        candidate_id=s["candidate_id"], status=s["status"], revision=int(s["revision"]),
        created_ms=int(s["created_ms"]), updated_ms=int(s["updated_at"]), hit_ids=comp.hit_ids,
        anchors=comp.anchors, t_start_ms=comp.t_start_ms, t_end_ms=comp.t_end_ms,
        aliases=tuple(s["aliases"]), merged_into=s["merged_into"], retraction=s["retraction"],
        component=comp, token=(hit["_seq_no"], hit["_primary_term"]))


def overlap_query(ranges: Sequence[Interval]) -> dict[str, Any]:
    """The continuous search's active candidates whose span meets one of the inclusive ranges."""
    return {"bool": {"filter": [{"term": {"source": CONTINUOUS}}, {"term": {"status": ACTIVE}}, _overlaps(ranges)]}}


def _overlaps(ranges: Sequence[Interval]) -> dict[str, Any]:
    should = [{"bool": {"filter": [{"range": {"t_start_ms": {"lte": int(hi), "format": "epoch_millis"}}},
                                   {"range": {"t_end_ms": {"gte": int(lo), "format": "epoch_millis"}}}]}}
              for lo, hi in ranges]
    return {"bool": {"should": should, "minimum_should_match": 1}}


class EsCandidateStore:
    """``CandidateStore`` over `{prefix}-candidates` (see search/continuous.py)."""

    def __init__(self, es: Elasticsearch, prefix: str, params: SearchParams, page_size: int,
                 trusted: TrustLookup = trusted_pseudonyms, replicas: int = 0):
        self.es, self.prefix, self.params, self.page_size = es, prefix, params, int(page_size)
        self.replicas = int(replicas)
        self.index = index_for(prefix, "candidates")
        self.trusted = trusted

    def ensure(self) -> None:
        """Templates (with the configured replicas) and the index in place, mapped as this code writes."""
        ensure_templates(self.es, self.prefix, replicas=self.replicas)
        check_index_mapping(self.es, self.prefix, "candidates")

    def _all(self, query: dict, source: list[str] | bool = True) -> list[dict]:
        """Every matching document (search hits with seq_no and primary term), in id order."""
        out: list[dict] = []
        body: dict[str, Any] = {"size": self.page_size, "query": query, "_source": source,
                                "sort": [{"t_start_ms": "asc"}, {"candidate_id": "asc"}],
                                "seq_no_primary_term": True, "track_total_hits": False}
        while True:
            hits = require_complete(self.es.search(index=self.index, **body), "stored candidates")["hits"]["hits"]
            out += hits
            if len(hits) < self.page_size:
                return out
            body["search_after"] = hits[-1]["sort"]

    def active_overlapping(self, ranges: Sequence[Interval]) -> list[StoredCandidate]:
        if not ranges:
            return []
        return [stored_from_hit(h) for h in self._all(overlap_query(ranges))]

    def all_active(self) -> list[StoredCandidate]:
        return self.active_overlapping([(-(2**62), 2**62)])

    def get(self, ids: Iterable[str]) -> dict[str, StoredCandidate]:
        """Stored candidates (any status) by candidate id."""
        ids = sorted(set(ids))
        if not ids:
            return {}
        docs = self.es.mget(index=self.index, ids=[document_id(CONTINUOUS, i) for i in ids])["docs"]
        found = [stored_from_hit(d) for d in docs if d.get("found")]
        return {c.candidate_id: c for c in found}

    def actions(self, changes: Sequence[Change], scores: dict[str, dict]) -> list[dict]:
        out = []
        trusted = self.trusted({d for ch in changes if ch.after.status == ACTIVE and ch.after.component
                                for d in ch.after.component.devices})
        for ch in changes:
            c = ch.after
            action: dict[str, Any] = {"_index": self.index, "_id": document_id(CONTINUOUS, c.candidate_id)}
            if c.status == ACTIVE:
                action["_source"] = candidate_source(c, self.params, scores.get(c.candidate_id), trusted)
                if ch.before is None:
                    action["_op_type"] = "create"
                else:
                    action["_op_type"] = "index"
                    action["if_seq_no"], action["if_primary_term"] = ch.before.token
            else:
                action["_op_type"] = "update"
                action["doc"] = lifecycle_fields(c.lifecycle)
                action["if_seq_no"], action["if_primary_term"] = ch.before.token
            out.append(action)
        return out

    def write(self, changes: Sequence[Change], scores: dict[str, dict]) -> None:
        if not changes:
            return
        # Retractions last: a reader never sees a merged candidate's hits in no active one.
        ordered = sorted(changes, key=lambda ch: ch.after.status != ACTIVE)
        self._bulk(self.actions(ordered, scores))

    def _bulk(self, actions: list[dict]) -> None:
        """Send the writes (then refresh); any conflict raises ConflictError, any other failure
        RuntimeError: the pass fails and its buckets stay pending."""
        if not actions:
            return
        _, errors = helpers.bulk(self.es, actions, raise_on_error=False, refresh=True)
        if errors:
            conflicts = [e for e in errors if next(iter(e.values())).get("status") == 409]
            if conflicts:
                raise ConflictError(f"{len(conflicts)} candidate writes conflicted: {conflicts[:1]}")
            raise RuntimeError(f"{len(errors)} candidate writes failed: {errors[:1]}")

    # --- trust and alerts --------------------------------------------------------------------

    def retrust(self, pseudonyms: Iterable[str], now_ms: int) -> list[str]:
        """Re-mark the trust fields of every candidate (retracted ones too: their pages stay
        readable) holding one of these devices, whose trust changed; returns the ids of all those
        candidates. A document is rewritten only where its trust fields differ (revision + 1),
        under the seq_no it was read with."""
        names = sorted(set(pseudonyms))
        hits, seen = [], set()
        for start in range(0, len(names), TERMS_PER_QUERY):
            query = {"bool": {"filter": [{"term": {"source": CONTINUOUS}},
                                         {"terms": {"devices": names[start:start + TERMS_PER_QUERY]}}]}}
            for h in self._all(query, ["candidate_id", "devices", "revision", *TRUST_FIELDS]):
                if h["_id"] not in seen:
                    seen.add(h["_id"])
                    hits.append(h)
        if not hits:
            return []
        trusted = self.trusted({d for h in hits for d in h["_source"]["devices"]})
        actions = []
        for h in hits:
            src = h["_source"]
            want = trust_fields(src["devices"], trusted, self.params.min_devices)
            if all(src.get(k) == v for k, v in want.items()):
                continue
            actions.append({"_op_type": "update", "_index": self.index, "_id": h["_id"],
                            "if_seq_no": h["_seq_no"], "if_primary_term": h["_primary_term"],
                            "doc": {**want, "revision": int(src["revision"]) + 1, "updated_at": int(now_ms)}})
        self._bulk(actions)
        return [h["_source"]["candidate_id"] for h in hits]

    def alertable(self, ranges: Sequence[Interval], ids: Iterable[str], far_below: float) -> list[dict]:
        """Public active candidates whose false-alarm rate is below ``far_below`` and that overlap
        one of ``ranges`` or are named in ``ids``: the documents an alert may announce."""
        ids = sorted(set(ids))
        which = ([_overlaps(ranges)] if ranges else []) + [
            {"terms": {"candidate_id": ids[start:start + TERMS_PER_QUERY]}}
            for start in range(0, len(ids), TERMS_PER_QUERY)]
        found: dict[str, dict] = {}
        for clause in which:
            query = {"bool": {"filter": [{"term": {"source": CONTINUOUS}}, {"term": {"status": ACTIVE}},
                                         {"term": {"public": True}},
                                         {"range": {"false_alarm_per_year": {"lt": float(far_below)}}}, clause]}}
            found.update((h["_source"]["candidate_id"], h["_source"]) for h in self._all(query))
        return list(found.values())

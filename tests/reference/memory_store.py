"""In-memory hit source and candidate store for the continuous search.

Real implementations of the protocols in ``search/continuous.py`` (not stand-ins): the
order-independence and alert tests drive thousands of passes through them in seconds, with the
same concurrency rule as the Elasticsearch store (a write must name the revision it replaces).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from crayfis.es.candidates import ACTIVE
from search.continuous import buckets_of
from search.incremental import Change, HitBatch, StoredCandidate
from search.region import Interval


class ConflictError(RuntimeError):
    """A write named a revision that is no longer the stored one (another writer won)."""


class MemoryHitStore:
    """Hits kept sorted by time; ``add`` returns the buckets it touched, like the indexer."""

    def __init__(self, bucket_ms: int):
        self.bucket_ms = bucket_ms
        self._parts: list[HitBatch] = []  # added since the last sort
        self._sorted = HitBatch.empty()
        self._seen: set[str] = set()

    def add(self, batch: HitBatch) -> list[int]:
        new = np.array([h not in self._seen for h in batch.hit_id.tolist()], dtype=bool)
        batch = batch.take(np.flatnonzero(new)).unique()
        self._seen.update(batch.hit_id.tolist())
        if len(batch):
            self._parts.append(batch)
        return buckets_of(batch.t_ms, self.bucket_ms)

    def all(self) -> HitBatch:
        """Every hit, sorted by time."""
        if self._parts:
            merged = HitBatch.concat([self._sorted, *self._parts])
            self._sorted = merged.take(np.argsort(merged.t_ms, kind="stable"))
            self._parts = []
        return self._sorted

    def _mask(self, ranges: Sequence[Interval]) -> np.ndarray:
        t = self.all().t_ms
        idx = [np.arange(np.searchsorted(t, lo, "left"), np.searchsorted(t, hi, "right"))
               for lo, hi in ranges]
        return np.unique(np.concatenate(idx)) if idx else np.zeros(0, dtype=np.int64)

    def count(self, ranges: Sequence[Interval]) -> int:
        return len(self._mask(ranges))

    def fetch(self, ranges: Sequence[Interval]) -> HitBatch:
        return self.all().take(self._mask(ranges))


class MemoryCandidateStore:
    """Candidates by id, every status kept; ``history`` records every write in order."""

    def __init__(self):
        self.docs: dict[str, StoredCandidate] = {}
        self.scores: dict[str, dict] = {}
        self.history: list[Change] = []

    def active(self) -> list[StoredCandidate]:
        return [c for c in self.docs.values() if c.status == ACTIVE]

    def active_overlapping(self, ranges: Sequence[Interval]) -> list[StoredCandidate]:
        return [c for c in self.active()
                if any(c.t_start_ms <= hi and c.t_end_ms >= lo for lo, hi in ranges)]

    def get(self, ids: Iterable[str]) -> dict[str, StoredCandidate]:
        return {i: self.docs[i] for i in ids if i in self.docs}

    def write(self, changes: Sequence[Change], scores: dict[str, dict]) -> None:
        for ch in changes:  # check all first: a pass is applied whole or not at all
            cur = self.docs.get(ch.after.candidate_id)
            if (cur.revision if cur else None) != (ch.before.revision if ch.before else None):
                raise ConflictError(f"{ch.after.candidate_id}: stored revision changed")
        for ch in changes:
            self.docs[ch.after.candidate_id] = replace(ch.after, token=ch.after.revision)
            if ch.after.candidate_id in scores:
                self.scores[ch.after.candidate_id] = scores[ch.after.candidate_id]
            self.history.append(ch)

"""One pass of the continuous search over touched buckets, against any hit source and store.

touched buckets -> anchor intervals (+ tau halo) -> closed region (``region.close_region``)
-> per group of overlapping hit ranges: count, then the coincidence kernel in process, or the
large runner (the Spark job) past a threshold -> ``incremental.reconcile`` -> scores -> store.write.

The hit source and the candidate store are small protocols, so the same pass runs against
Elasticsearch (search/ app) and against the in-memory stores of the order-independence tests.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from crayfis.definition import SearchParams
from crayfis.es.candidates import ACTIVE, Component
from search.incremental import (
    Change,
    HitBatch,
    Reconciliation,
    StoredCandidate,
    keep_anchored_in,
    reconcile,
    search_region,
)
from search.region import Interval, anchor_intervals, close_region, hit_ranges, merge_intervals


class HitSource(Protocol):
    def count(self, ranges: Sequence[Interval]) -> int: ...

    def fetch(self, ranges: Sequence[Interval]) -> HitBatch: ...


class CandidateStore(Protocol):
    def active_overlapping(self, ranges: Sequence[Interval]) -> list[StoredCandidate]: ...

    def get(self, ids: Iterable[str]) -> dict[str, StoredCandidate]: ...

    def write(self, changes: Sequence[Change], scores: dict[str, dict]) -> None: ...


# (hit range, anchor intervals inside it, params) -> components of a wider search
LargeRunner = Callable[[Interval, Sequence[Interval], SearchParams], list[Component]]
# (active candidates after the change, (hit range, hits) the pass read) ->
# {candidate_id: {"expected_background": .., "p_value": .., "false_alarm_per_year": ..}}
Scorer = Callable[[Sequence[StoredCandidate], Sequence[tuple[Interval, HitBatch]]], dict[str, dict]]


@dataclass
class PassReport:
    buckets: int = 0
    region: list[Interval] = field(default_factory=list)
    hits_read: int = 0
    groups_in_process: int = 0
    groups_large: int = 0
    components: int = 0
    replaced: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    written: list[StoredCandidate] = field(default_factory=list)
    scores: dict[str, dict] = field(default_factory=dict)

    @property
    def n_changes(self) -> int:
        return sum(self.changes.values())


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class ContinuousSearch:
    """Re-searches touched buckets and keeps the candidate store equal to one batch search."""

    def __init__(self, hits: HitSource, store: CandidateStore, params: SearchParams,
                 bucket_ms: int, *, large_threshold: int | None = None,
                 large_runner: LargeRunner | None = None, scorer: Scorer | None = None,
                 clock: Callable[[], int] = now_ms):
        if bucket_ms <= 0:
            raise ValueError("bucket_ms must be > 0")
        self.hits, self.store, self.params = hits, store, params
        self.bucket_ms = int(bucket_ms)
        self.large_threshold, self.large_runner = large_threshold, large_runner
        self.scorer, self.clock = scorer, clock

    def region_for(self, buckets: Iterable[int]) -> list[Interval]:
        """The closed anchor region for these touched buckets."""
        tau = self.params.window_ms
        start = anchor_intervals(buckets, self.bucket_ms, tau)
        return close_region(start, tau, lambda ranges: [
            (c.t_start_ms, c.t_end_ms) for c in self.store.active_overlapping(ranges)])

    def run_pass(self, buckets: Iterable[int]) -> PassReport:
        report = PassReport()
        buckets = sorted({int(b) for b in buckets})
        report.buckets = len(buckets)
        if not buckets:
            return report
        tau = self.params.window_ms
        lap = _Laps(report.seconds)
        region = self.region_for(buckets)
        report.region = region
        ranges = hit_ranges(region, tau)
        old = self.store.active_overlapping(ranges)
        report.replaced = len(old)
        lap("region")

        found: list[Component] = []
        fetched: list[tuple[Interval, HitBatch]] = []
        for rng in ranges:
            inside = [iv for iv in region if rng[0] <= iv[0] and iv[1] <= rng[1]]
            if self.large_runner is not None and self.large_threshold is not None \
                    and self.hits.count([rng]) > self.large_threshold:
                found += keep_anchored_in(self.large_runner(rng, inside, self.params), inside)
                report.groups_large += 1
            else:
                batch = self.hits.fetch([rng])
                fetched.append((rng, batch))
                report.hits_read += len(batch)
                found += search_region(batch, inside, self.params)
                report.groups_in_process += 1
        report.components = len(found)
        lap("search")

        rec = self._reconcile(old, found)
        active = [c.after for c in rec.changes if c.after.status == ACTIVE]
        scores = self.scorer(active, fetched) if (self.scorer and active) else {}
        lap("score")
        self.store.write(rec.changes, scores)
        lap("write")
        for ch in rec.changes:
            report.changes[ch.kind] = report.changes.get(ch.kind, 0) + 1
        report.written = [c.after for c in rec.changes]
        report.scores = scores
        return report

    def _reconcile(self, old: list[StoredCandidate], found: list[Component]) -> Reconciliation:
        """reconcile(), re-run while a new id turns out to exist in the store already."""
        now = self.clock()
        old_ids = {c.candidate_id for c in old}
        existing: dict[str, StoredCandidate] = {}
        taken: set[str] = set()
        asked: set[str] = set()
        for _ in range(100):
            rec = reconcile(old, found, now, existing=existing, taken_ids=taken)
            new_ids = {c.after.candidate_id for c in rec.changes
                       if c.kind in ("created", "revived")} - asked
            if not new_ids:
                return rec
            asked |= new_ids
            for cid, doc in self.store.get(new_ids).items():
                if cid in old_ids:
                    continue
                if doc.status == ACTIVE:
                    taken.add(cid)  # active elsewhere: never take it over
                else:
                    existing[cid] = doc
        raise RuntimeError("could not find free candidate ids")


class _Laps:
    def __init__(self, into: dict[str, float]):
        self.into, self.t = into, time.perf_counter()

    def __call__(self, name: str) -> None:
        t = time.perf_counter()
        self.into[name] = round(t - self.t, 4)
        self.t = t


def buckets_of(t_ms, bucket_ms: int) -> list[int]:
    """Distinct bucket starts of these hit times (what the indexer records as touched)."""
    t = np.asarray(t_ms, dtype=np.int64)
    return (np.unique(t // bucket_ms) * bucket_ms).tolist() if len(t) else []


__all__ = ["ContinuousSearch", "PassReport", "HitSource", "CandidateStore", "buckets_of",
           "merge_intervals"]

"""Any arrival order, any bursts: after every pass the active candidates equal one batch search.

Hits (with chains of windows that span several buckets, so the region closure matters) are
delivered in a random order and in random bursts to the in-memory hit store; a pass runs after
some bursts, on the buckets touched since the last pass. After each pass the active candidates'
member sets must equal ``find_coincidences`` over everything delivered so far, and ids must
behave: no hit in two active candidates, revisions grow by one per write, a retracted
candidate that was merged points (through a chain) to the active candidate holding its hits.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crayfis.definition import SearchParams
from crayfis.es.candidates import ACTIVE, MERGED
from search.continuous import ContinuousSearch
from search.incremental import HitBatch, batch_member_sets
from tests.reference.memory_store import MemoryCandidateStore, MemoryHitStore

BUCKET_MS = 100


def active_member_sets(store: MemoryCandidateStore) -> set[frozenset]:
    return {frozenset(c.hit_ids) for c in store.active()}


@st.composite
def scenarios(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(5, 90))
    n_dev = draw(st.integers(2, 6))
    span = draw(st.sampled_from([300, 800, 2000]))
    # Clustered times: bursts a few windows long, so chains cross bucket edges.
    centers = rng.integers(0, span, size=max(1, n // 6))
    t = centers[rng.integers(0, len(centers), n)] + rng.integers(-40, 40, n)
    lat = 46.2 + rng.normal(0, 0.01, n)  # ~1 km spread
    lon = 6.1 + rng.normal(0, 0.014, n)
    dev = rng.integers(0, n_dev, n)
    hits = HitBatch([f"h{i:03d}" for i in range(n)], [f"d{d}" for d in dev], t, lat, lon)
    params = SearchParams(window_ms=draw(st.sampled_from([10, 30, 60, 150])),
                          radius_m=draw(st.sampled_from([500.0, 1500.0, 5000.0])),
                          min_devices=draw(st.integers(2, 3)))
    order = rng.permutation(n)
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(n - 1, draw(st.integers(0, 12))),
                              replace=False)) if n > 1 else np.zeros(0, dtype=np.int64)
    bursts = np.split(order, cuts)
    run_after = [bool(x) for x in rng.random(len(bursts)) < 0.7]
    run_after[-1] = True
    return hits, params, bursts, run_after


def check_invariants(store: MemoryCandidateStore) -> None:
    owners: dict[str, str] = {}
    for c in store.active():
        for h in c.hit_ids:
            assert h not in owners, f"hit {h} in {owners[h]} and {c.candidate_id}"
            owners[h] = c.candidate_id
        assert c.candidate_id in c.aliases
    last_rev: dict[str, int] = {}
    for ch in store.history:
        cid = ch.after.candidate_id
        assert ch.after.revision == last_rev.get(cid, 0) + 1
        last_rev[cid] = ch.after.revision
    for c in store.docs.values():
        if c.status != ACTIVE and c.retraction == MERGED:
            target = c
            for _ in range(len(store.docs) + 1):
                if target.status == ACTIVE:
                    break
                target = store.docs[target.merged_into]
            assert target.status == ACTIVE
            assert set(c.hit_ids) <= set(target.hit_ids)
            assert c.candidate_id in target.aliases


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_any_order_and_bursts_equal_the_batch_search(scenario):
    hits, params, bursts, run_after = scenario
    hit_store = MemoryHitStore(BUCKET_MS)
    store = MemoryCandidateStore()
    clock = iter(range(1, 10**6))
    search = ContinuousSearch(hit_store, store, params, BUCKET_MS, clock=lambda: next(clock))
    pending: set[int] = set()
    delivered: list[int] = []
    seen_active: dict[str, frozenset] = {}
    for burst, run in zip(bursts, run_after):
        pending.update(hit_store.add(hits.take(burst)))
        delivered += burst.tolist()
        if not run:
            continue
        search.run_pass(pending)
        pending.clear()
        expected = batch_member_sets(hits.take(np.array(delivered)), params)
        assert active_member_sets(store) == expected
        check_invariants(store)
        # An id once active stays findable: active, or merged into one holding its hits.
        for cid, members in seen_active.items():
            doc = store.docs[cid]
            while doc.status != ACTIVE:
                assert doc.retraction == MERGED, "hits were only added: nothing may lose support"
                doc = store.docs[doc.merged_into]
            assert members <= set(doc.hit_ids)
        seen_active.update({c.candidate_id: frozenset(c.hit_ids) for c in store.active()})


def test_a_late_hit_that_makes_an_earlier_anchor_trigger_keeps_the_old_id():
    # k=2, tau=50: hits at 100 (d1) and 120 (d2) form a candidate anchored at 100. A late hit
    # at 60 (d3) makes 60 the earliest triggered anchor; the candidate keeps its first id.
    params = SearchParams(window_ms=50, radius_m=1000.0, min_devices=2)
    hs, store = MemoryHitStore(BUCKET_MS), MemoryCandidateStore()
    search = ContinuousSearch(hs, store, params, BUCKET_MS, clock=iter(range(1, 100)).__next__)
    first = HitBatch(["a", "b"], ["d1", "d2"], [100, 120], [46.2, 46.2], [6.1, 6.1001])
    search.run_pass(hs.add(first))
    (cand,) = store.active()
    late = HitBatch(["z"], ["d3"], [60], [46.2], [6.1002])
    report = search.run_pass(hs.add(late))
    (after,) = store.active()
    assert after.candidate_id == cand.candidate_id
    assert set(after.hit_ids) == {"a", "b", "z"}
    assert after.revision == 2 and report.changes == {"grown": 1}
    # what a batch search would call it is recorded as an alias
    from crayfis.coincidence.merge import candidate_id
    assert candidate_id("z") in after.aliases and after.candidate_id == candidate_id("a")


def test_two_candidates_joined_by_a_late_hit_merge_into_the_older():
    params = SearchParams(window_ms=50, radius_m=1000.0, min_devices=2)
    hs, store = MemoryHitStore(BUCKET_MS), MemoryCandidateStore()
    search = ContinuousSearch(hs, store, params, BUCKET_MS, clock=iter(range(1, 100)).__next__)
    search.run_pass(hs.add(HitBatch(["a", "b"], ["d1", "d2"], [300, 310], [46.2] * 2, [6.1] * 2)))
    search.run_pass(hs.add(HitBatch(["c", "d"], ["d1", "d2"], [390, 400], [46.2] * 2, [6.1] * 2)))
    older, newer = sorted(store.active(), key=lambda c: c.created_ms)
    # a hit at 345 from d3 lies in the windows of 300/310 and reaches 390/400: one chain
    report = search.run_pass(hs.add(HitBatch(["m"], ["d3"], [345], [46.2], [6.1])))
    (joined,) = store.active()
    assert joined.candidate_id == older.candidate_id
    assert set(joined.hit_ids) == {"a", "b", "c", "d", "m"}
    gone = store.docs[newer.candidate_id]
    assert (gone.status, gone.retraction, gone.merged_into) == ("retracted", MERGED, older.candidate_id)
    assert newer.candidate_id in joined.aliases
    assert report.changes == {"grown": 1, "merged": 1}


def test_an_unchanged_candidate_is_not_rewritten():
    params = SearchParams(window_ms=50, radius_m=1000.0, min_devices=2)
    hs, store = MemoryHitStore(BUCKET_MS), MemoryCandidateStore()
    search = ContinuousSearch(hs, store, params, BUCKET_MS, clock=iter(range(1, 100)).__next__)
    search.run_pass(hs.add(HitBatch(["a", "b"], ["d1", "d2"], [300, 310], [46.2] * 2, [6.1] * 2)))
    # a lone hit far away in time in the same bucket: re-search, nothing changes
    report = search.run_pass(hs.add(HitBatch(["x"], ["d1"], [399], [46.2], [6.1])))
    assert report.n_changes == 0 and len(store.history) == 1

"""The continuous search through the real path: /submit -> real indexer -> ES -> loop -> ES.

Uploads (two per phone, in a shuffled order, in bursts) carry two showers, one straddling a
bucket edge, and noise; a late upload adds a hit that makes an earlier anchor trigger. After
every pass the active candidates in Elasticsearch must equal one batch search over every hit
in Elasticsearch, ids must survive growth, and the status document must be there.
"""
from __future__ import annotations

import random

import pytest
from django.core.management import call_command

from crayfis.coincidence.merge import candidate_id
from crayfis.definition import SearchParams
from crayfis.es.candidates import CONTINUOUS, document_id
from dashboards.status import search_status
from search.incremental import batch_member_sets
from search.management.commands.search_continuously import parse_duration
from search.models import SearchedBucket
from search.status import STATUS_ID, status_index
from tests.search.conftest import chunk, index_pending, post

pytestmark = pytest.mark.django_db(transaction=True)

T0 = 1_795_000_020_000  # a bucket edge (multiple of 60 s)
LAT, LON = 46.2, 6.1
PARAMS = SearchParams(window_ms=100, radius_m=1000.0, min_devices=3)
PHONES = [f"5ea7c4{i:010x}" for i in range(1, 6)]


def scenario(rng: random.Random) -> list[tuple[str, int, list]]:
    """(device, xbn, events) uploads: showers A (across the edge at T0+60 s) and B, plus noise."""
    events = {d: [] for d in PHONES}
    for i, d in enumerate(PHONES[:4]):  # shower A: 4 phones, 59.95 s .. 60.04 s
        events[d].append((T0 + 59_950 + 30 * i, LAT + 0.001 * i, LON))
    for i, d in enumerate(PHONES[:3]):  # shower B: 3 phones at 200 s
        events[d].append((T0 + 200_000 + 20 * i, LAT, LON + 0.001 * i))
    for d in PHONES:  # noise, far apart in time
        for _ in range(4):
            events[d].append((T0 + rng.randrange(0, 300_000), LAT + rng.uniform(-0.005, 0.005), LON))
    uploads = []
    for d, evs in events.items():
        evs.sort()
        half = len(evs) // 2
        uploads += [(d, 1, evs[:half]), (d, 2, evs[half:])]
    return uploads


def active_sets(loop) -> set[frozenset]:
    return {frozenset(c.hit_ids) for c in loop.store.all_active()}


def all_hits(loop):
    loop.hits.refresh()
    return loop.hits.fetch([(T0 - 10**6, T0 + 10**6)])


def test_bursts_in_random_order_equal_the_batch_search_and_ids_survive(client, es, es_url, es_prefix,
                                                                       make_loop):
    rng = random.Random(8)
    uploads = scenario(rng)
    rng.shuffle(uploads)
    loop = make_loop(PARAMS)
    first_ids: dict[str, str] = {}  # hit id -> first candidate id it was seen in
    passes = 0
    for start in range(0, len(uploads), 3):
        for device, xbn, evs in uploads[start:start + 3]:
            post(client, *chunk(device, evs, xbn=xbn))
        index_pending(es_url)
        outcome = loop.run_once()
        passes += 1
        assert outcome is not None and outcome.report.buckets > 0
        assert active_sets(loop) == batch_member_sets(all_hits(loop), PARAMS)
        # an id once given to a hit's candidate stays the id of the candidate holding that hit
        active = {h: c for c in loop.store.all_active() for h in c.hit_ids}
        for h, cid in first_ids.items():
            assert cid in active[h].aliases
        for h, c in active.items():
            first_ids.setdefault(h, c.candidate_id)
    assert len(active_sets(loop)) == 2

    # A late upload: phone 5 saw shower A 50 ms before anyone else, so the earliest triggered
    # anchor changes; the candidate keeps its id and records the batch id as an alias.
    (cand_a,) = [c for c in loop.store.all_active() if c.t_start_ms < T0 + 100_000]
    post(client, *chunk(PHONES[4], [(T0 + 59_900, LAT, LON)], xbn=7))
    index_pending(es_url)
    outcome = loop.run_once()
    assert outcome.report.changes == {"grown": 1}
    assert active_sets(loop) == batch_member_sets(all_hits(loop), PARAMS)
    (grown,) = [c for c in loop.store.all_active() if c.t_start_ms < T0 + 100_000]
    assert grown.candidate_id == cand_a.candidate_id
    assert grown.revision == cand_a.revision + 1 and grown.updated_ms > cand_a.updated_ms
    assert len(grown.hit_ids) == len(cand_a.hit_ids) + 1
    late_hit = (set(grown.hit_ids) - set(cand_a.hit_ids)).pop()
    assert candidate_id(late_hit) in grown.aliases and grown.t_start_ms == T0 + 59_900

    # Nothing new: no bucket is pending, nothing is written.
    outcome = loop.run_once()
    assert outcome.report.buckets == 0 and outcome.report.n_changes == 0
    assert outcome.pending_after == 0 and outcome.oldest_pending_bucket_ms is None
    assert SearchedBucket.objects.count() > 0

    status = es.get(index=status_index(es_prefix), id=STATUS_ID)["_source"]
    assert status["last_pass_ms"] > 0 and status["oldest_pending_bucket_ms"] is None
    assert status["lag_ms"] == 0 and status["params"] == PARAMS.as_dict()
    doc = es.get(index=f"{es_prefix}-candidates", id=document_id(CONTINUOUS, grown.candidate_id))["_source"]
    assert doc["status"] == "active" and doc["revision"] == grown.revision
    assert doc["n_devices"] == 5 and doc["job_id"] == "continuous"
    assert doc["cell"] == "46.25,6.15" and doc["updated_at"] == grown.updated_ms


def test_dashboard_reads_the_status_the_loop_writes(client, es, es_url, es_prefix, make_loop):
    post(client, *chunk(PHONES[0], [(T0 + 1000, LAT, LON)]))
    index_pending(es_url)
    outcome = make_loop(PARAMS).run_once()
    got = search_status(es, es_prefix, outcome.report and 10**13)
    assert got["last_pass_ms"] is not None and got["lag_ms"] == 0
    assert got["oldest_pending_bucket_ms"] is None and got["candidates_changed"] == 0


def test_a_second_process_waits_for_the_lease(es, es_url, es_prefix, make_loop):
    first, second = make_loop(PARAMS), make_loop(PARAMS)
    second.owner = "other"
    assert first.run_once() is not None
    assert second.run_once() is None  # first holds the lease
    first.release()
    assert second.run_once() is not None


def test_new_parameters_re_search_everything_and_retract_what_they_no_longer_support(
        client, es, es_url, es_prefix, make_loop, settings):
    uploads = scenario(random.Random(3))
    for device, xbn, evs in uploads:
        post(client, *chunk(device, evs, xbn=xbn))
    index_pending(es_url)
    settings.CRAYFIS_ES_PREFIX = es_prefix
    call_command("search_continuously", "--once", "--every", "5s", "--window-ms", "100",
                 "--radius-m", "1000", "--min-devices", "3", verbosity=0)
    loop3 = make_loop(PARAMS)
    before = {c.candidate_id: c for c in loop3.store.all_active()}
    assert sorted(c.component.n_devices for c in before.values()) == [3, 4]

    stricter = SearchParams(window_ms=100, radius_m=1000.0, min_devices=4)
    outcome = make_loop(stricter).run_once()
    assert outcome.report.buckets == 5  # every bucket again
    (kept,) = loop3.store.all_active()
    assert kept.candidate_id in before and kept.component.n_devices == 4
    (gone_id,) = set(before) - {kept.candidate_id}
    gone = es.get(index=f"{es_prefix}-candidates", id=document_id(CONTINUOUS, gone_id))["_source"]
    assert (gone["status"], gone["retraction"], gone["revision"]) == ("retracted", "unsupported", 2)
    assert batch_member_sets(all_hits(loop3), stricter) == {frozenset(kept.hit_ids)}


def test_periods_parse_like_the_issue_writes_them():
    assert [parse_duration(x) for x in ("60s", "2m", "500ms", "1h", "90")] == [60, 120, 0.5, 3600, 90]
    for bad in ("", "fast", "-1s", "0s"):
        with pytest.raises(ValueError):
            parse_duration(bad)

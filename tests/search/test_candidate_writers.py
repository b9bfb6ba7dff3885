"""The two candidate writers side by side on the real node: the continuous search (with a revision
history: a candidate grown by a merge, the absorbed one retracted) and a batch run of the Spark job
with --to-es over the same hits. The batch run names the shower by the very id the continuous
search gave it; it must leave every continuous document and its history as it was, and readers
must show each shower once (the continuous one), the batch run's candidates on request."""
from __future__ import annotations

import pyarrow as pa
import pytest
from django.contrib.auth.models import Permission

from accounts import trust
from accounts.services import new_scientist_key
from crayfis.definition import SearchParams
from crayfis.es.candidates import BATCH, CONTINUOUS, selection
from crayfis.es.templates import MappingOutdated, ensure_templates
from search.es_candidates import EsCandidateStore
from search.incremental import batch_member_sets
from search.models import SearchedBucket
from spark_jobs.coincidence import parse_args, run_job
from spark_jobs.output import index_candidates
from tests.search.conftest import chunk, index_pending, post

T0 = 1_795_000_020_000
LAT, LON = 46.2, 6.1
TAU, R, K = 100, 1000.0, 3
PARAMS = SearchParams(window_ms=TAU, radius_m=R, min_devices=K)
PHONES = [f"5ca9d1{i:010x}" for i in range(1, 6)]


def first_uploads() -> list[tuple[str, list]]:
    """Showers A (t = 0..20 ms) and B (300..320 ms) seen by phones 1-3, and C a minute later."""
    out = []
    for i, d in enumerate(PHONES[:3]):
        out.append((d, [(T0 + 10 * i, LAT + 0.001 * i, LON), (T0 + 300 + 10 * i, LAT + 0.001 * i, LON),
                        (T0 + 60_000 + 10 * i, LAT, LON + 0.001 * i)]))
    return out


def bridge_uploads() -> list[tuple[str, list]]:
    """Late hits whose windows chain A to B: one shower, A's id kept, B retracted into it."""
    bridge = {PHONES[3]: [T0 + 90], PHONES[4]: [T0 + 100], PHONES[0]: [T0 + 180], PHONES[1]: [T0 + 250],
              PHONES[2]: [T0 + 260]}
    return [(d, [(t, LAT, LON) for t in ts]) for d, ts in bridge.items()]


def continuous_documents(es, prefix: str) -> dict[str, dict]:
    index = f"{prefix}-candidates"
    es.indices.refresh(index=index)
    hits = es.search(index=index, query=selection(include_retracted=True), size=100, seq_no_primary_term=True,
                     version=True)["hits"]["hits"]
    return {h["_id"]: {k: h[k] for k in ("_source", "_seq_no", "_primary_term", "_version")} for h in hits}


def scientist_key(django_user_model) -> str:
    user = django_user_model.objects.create_user("scientist", password="Batch-Reader-2026")
    user.user_permissions.add(Permission.objects.get(codename="read_exact_hits"))
    return new_scientist_key(django_user_model.objects.get(pk=user.pk), "batch")


@pytest.mark.django_db(transaction=True)
def test_a_batch_run_leaves_the_continuous_candidates_and_their_history_intact(
        client, es, es_url, es_prefix, make_loop, spark, tmp_path, django_user_model):
    loop = make_loop(PARAMS)
    for device, events in first_uploads():
        post(client, *chunk(device, events, xbn=1))
    index_pending(es_url)
    trust.approve(PHONES[:3])   # the showers' phones are trusted, so their candidates are public
    assert loop.run_once().report.changes == {"created": 3}
    for device, events in bridge_uploads():
        post(client, *chunk(device, events, xbn=2))
    index_pending(es_url)
    assert loop.run_once().report.changes == {"grown": 1, "merged": 1}

    before = continuous_documents(es, es_prefix)
    by_status = sorted((d["_source"]["status"], d["_source"]["revision"]) for d in before.values())
    assert by_status == [("active", 1), ("active", 2), ("retracted", 2)]
    continuous_ids = {d["_source"]["candidate_id"] for d in before.values()}

    cfg = parse_args(["--input", f"es://{es_prefix}-hits-*", "--output", str(tmp_path / "out"),
                      "--window-ms", str(TAU), "--radius-m", str(R), "--min-devices", str(K),
                      "--to-es", "--es-url", es_url])
    summary = run_job(spark, cfg)
    assert summary["candidates"] == summary["indexed_candidates"] == 2

    # every continuous document, with its revision history, exactly as it was
    assert continuous_documents(es, es_prefix) == before
    # the batch run's documents beside them, under the same candidate ids
    batch = es.search(index=f"{es_prefix}-candidates", query=selection(BATCH, summary["job_id"]),
                      size=100)["hits"]["hits"]
    batch_ids = {h["_source"]["candidate_id"] for h in batch}
    assert len(batch) == 2 and {h["_id"] for h in batch} == batch_ids
    assert batch_ids <= continuous_ids  # the same names: the collision the id scheme must survive
    assert all(h["_source"]["source"] == BATCH and h["_source"]["revision"] == 1 for h in batch)
    active = loop.store.all_active()
    assert {frozenset(h["_source"]["hit_ids"]) for h in batch} == {frozenset(c.hit_ids) for c in active}
    assert {frozenset(c.hit_ids) for c in active} == batch_member_sets(
        loop.hits.fetch([(T0 - 10**6, T0 + 10**6)]), PARAMS)

    # readers: each shower once, as the continuous search's candidate; the batch run on request
    rng = f"from_ms={T0 - 1000}&to_ms={T0 + 120_000}"
    listed = client.get(f"/api/v1/candidates?{rng}").json()["results"]
    assert sorted(c["candidate_id"] for c in listed) == sorted(c.candidate_id for c in active)
    assert {c["source"] for c in listed} == {CONTINUOUS}
    # a batch run does not know trust: its candidates are never public, a scientist reads them
    assert client.get(f"/api/v1/candidates?{rng}&source=batch&job_id={summary['job_id']}").json()["results"] == []
    runs = client.get(f"/api/v1/candidates?{rng}&source=batch&job_id={summary['job_id']}",
                      HTTP_AUTHORIZATION=f"Api-Key {scientist_key(django_user_model)}").json()["results"]
    assert sorted(c["candidate_id"] for c in runs) == sorted(batch_ids)
    assert {(c["source"], c["job_id"]) for c in runs} == {(BATCH, summary["job_id"])}
    assert client.get(f"/api/v1/network/stats?{rng}").json()["candidates"] == 2
    page = client.get("/api/dash/candidates").json()
    assert page["total"] == 2 and {c["status"] for c in page["candidates"]} == {"active"}
    grown = next(c for c in active if c.revision == 2)
    detail = client.get(f"/api/dash/candidates/{grown.candidate_id}").json()
    assert (detail["status"], detail["revision"]) == ("active", 2)

    # the continuous search reads its own documents only: a full re-search changes nothing
    SearchedBucket.objects.all().delete()
    again = loop.run_once()
    assert again.report.buckets > 0 and again.report.n_changes == 0
    assert continuous_documents(es, es_prefix) == before


def test_both_writers_refuse_an_index_with_an_older_candidate_mapping(es, es_url, es_prefix):
    """An index created before the strict candidate document would drop `source` (dynamic: false):
    neither writer writes into it; the message says what to do."""
    index = f"{es_prefix}-candidates"
    es.indices.create(index=index, mappings={"dynamic": False, "properties": {
        "candidate_id": {"type": "keyword"}, "t_start_ms": {"type": "date"}}})
    ensure_templates(es, es_prefix)  # leaves an existing index as it is
    store = EsCandidateStore(es, es_prefix, PARAMS, page_size=100)
    with pytest.raises(MappingOutdated, match="re-create it"):
        store.ensure()
    with pytest.raises(MappingOutdated):
        index_candidates(es_url, es_prefix, pa.table({"candidate_id": pa.array([], pa.string())}),
                         {"window_ms": TAU, "radius_m": R, "min_devices": K}, "run")
    assert es.count(index=index)["count"] == 0
    es.indices.delete(index=index)
    ensure_templates(es, es_prefix)
    store.ensure()

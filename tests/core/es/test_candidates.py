"""The one candidate document: its shape, its id scheme, and the readers' selection, on the real node."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crayfis.coincidence.merge import candidate_id
from crayfis.definition import SearchParams
from crayfis.es.candidates import (
    BATCH,
    CONTINUOUS,
    CONTINUOUS_JOB_ID,
    MAPPING,
    MERGED,
    RETRACTED,
    SOURCES,
    Component,
    Lifecycle,
    candidate_document,
    document_id,
    is_public,
    lifecycle_fields,
    selection,
    trust_fields,
)
from crayfis.es.templates import MAPPINGS, ensure_templates

PARAMS = SearchParams(window_ms=30, radius_m=150.0, min_devices=3)
T0 = 1_795_000_000_000


def component(first_hit: str = "h1", lat: float = 46.2031, lon: float = 6.1432) -> Component:
    return Component(canonical_id=candidate_id(first_hit), hit_ids=(first_hit, "h2", "h3"),
                     anchors=(first_hit,), devices=("d0000000000000001", "d0000000000000002",
                                                    "d0000000000000003"),
                     n_devices=3, multiplicity=3, t_start_ms=T0, t_end_ms=T0 + 20, lat=lat, lon=lon,
                     n_triggered_anchors=1)


SCORES = {"expected_background": 1e-3, "p_value": 1e-3, "false_alarm_per_year": 2.5}


def test_every_document_has_exactly_the_mapped_fields():
    assert MAPPINGS["candidates"] is MAPPING and MAPPING["dynamic"] == "strict"
    comp = component()
    for source in SOURCES:
        doc = candidate_document(comp.canonical_id, comp, Lifecycle.first(comp.canonical_id, T0), PARAMS,
                                 SCORES, source=source, job_id="j1")
        assert set(doc) == set(MAPPING["properties"])
        assert doc["source"] == source and doc["false_alarm_per_year"] == 2.5
        assert (doc["tau_ms"], doc["radius_m"], doc["k"]) == (30, 150.0, 3)
        assert doc["location"] == {"lat": 46.2031, "lon": 6.1432}
        assert doc["cell"] == "46.25,6.15" and doc["cell_location"] == {"lat": 46.25, "lon": 6.15}
        assert (doc["status"], doc["revision"], doc["aliases"]) == ("active", 1, [comp.canonical_id])


def test_a_retraction_rewrites_the_lifecycle_fields_only():
    life = Lifecycle(status=RETRACTED, revision=3, created_ms=T0, updated_ms=T0 + 5, aliases=("ca", "cb"),
                     retraction=MERGED, merged_into="cb")
    fields = lifecycle_fields(life)
    assert fields == {"status": "retracted", "retraction": "merged", "merged_into": "cb",
                      "aliases": ["ca", "cb"], "revision": 3, "updated_at": T0 + 5}
    assert set(fields) < set(MAPPING["properties"])


def test_scores_that_are_not_numbers_and_positions_without_a_fix_are_null():
    comp = component(lat=math.nan, lon=6.1)
    doc = candidate_document("c1", comp, Lifecycle.first("c1", T0), PARAMS,
                             {"expected_background": math.inf, "p_value": math.nan}, source=BATCH,
                             job_id="j1")
    assert doc["location"] is None and doc["cell"] is None and doc["cell_location"] is None
    assert [doc[k] for k in ("expected_background", "p_value", "false_alarm_per_year")] == [None] * 3
    with pytest.raises(ValueError):
        candidate_document("c1", comp, Lifecycle.first("c1", T0), PARAMS, None, source="spark", job_id="j")


_ids = st.text(alphabet=st.characters(blacklist_characters=":"), min_size=1, max_size=20)


@given(a=_ids, b=_ids)
def test_a_batch_document_and_a_continuous_one_never_share_an_id(a, b):
    assert document_id(BATCH, a) != document_id(CONTINUOUS, b)


def test_candidate_ids_with_a_colon_or_an_unknown_source_are_refused():
    cid = candidate_id("h1")
    assert document_id(BATCH, cid) == cid and document_id(CONTINUOUS, cid) == f"continuous:{cid}"
    with pytest.raises(ValueError):
        document_id(BATCH, "continuous:" + cid)
    with pytest.raises(ValueError):
        document_id("spark", cid)
    with pytest.raises(ValueError):
        selection("spark")


def test_both_writers_documents_fit_and_readers_select_one_source(es, es_prefix):
    """Documents of the same shower from both writers live side by side under different ids;
    the default selection is the continuous catalogue, a batch run is selected by its job_id."""
    ensure_templates(es, es_prefix)
    index = f"{es_prefix}-candidates"
    comp, other = component("h1"), component("h9")
    cid = comp.canonical_id
    docs = {
        document_id(CONTINUOUS, cid): candidate_document(cid, comp, Lifecycle.first(cid, T0), PARAMS, SCORES,
                                                         source=CONTINUOUS, job_id=CONTINUOUS_JOB_ID),
        document_id(CONTINUOUS, other.canonical_id): candidate_document(
            other.canonical_id, other,
            Lifecycle(status=RETRACTED, revision=2, created_ms=T0, updated_ms=T0 + 1,
                      aliases=(other.canonical_id,), retraction=MERGED, merged_into=cid),
            PARAMS, SCORES, source=CONTINUOUS, job_id=CONTINUOUS_JOB_ID),
        document_id(BATCH, cid): candidate_document(cid, comp, Lifecycle.first(cid, T0), PARAMS, SCORES,
                                                    source=BATCH, job_id="run1"),
        document_id(BATCH, other.canonical_id): candidate_document(
            other.canonical_id, other, Lifecycle.first(other.canonical_id, T0), PARAMS, SCORES,
            source=BATCH, job_id="run2"),
    }
    for doc_id, doc in docs.items():
        es.index(index=index, id=doc_id, document=doc, op_type="create")
    es.indices.refresh(index=index)
    assert es.count(index=index)["count"] == 4

    def found(query) -> list[str]:
        return sorted(h["_id"] for h in es.search(index=index, query=query, size=10)["hits"]["hits"])

    assert found(selection()) == [f"continuous:{cid}"]
    assert found(selection(include_retracted=True)) == sorted(
        [f"continuous:{cid}", f"continuous:{other.canonical_id}"])
    assert found(selection(BATCH)) == sorted([cid, other.canonical_id])
    assert found(selection(BATCH, "run2")) == [other.canonical_id]
    assert found(selection(CONTINUOUS, "run1")) == []


def test_a_candidate_is_public_with_k_trusted_members_only():
    comp = component()
    life = Lifecycle.first(comp.canonical_id, T0)
    members = comp.devices
    k = PARAMS.min_devices

    def doc(trusted):
        return candidate_document(comp.canonical_id, comp, life, PARAMS, SCORES, source=CONTINUOUS,
                                  job_id=CONTINUOUS_JOB_ID, trusted=trusted)

    unknown = candidate_document(comp.canonical_id, comp, life, PARAMS, SCORES, source=BATCH, job_id="j")
    assert (unknown["trusted_devices"], unknown["n_trusted_devices"], unknown["public"]) == ([], 0, False)
    few = doc(list(members[:k - 1]) + ["d00000000000000ff"])      # a trusted device that is no member
    assert (few["n_trusted_devices"], few["public"]) == (k - 1, False)
    assert few["trusted_devices"] == sorted(members[:k - 1])
    assert doc(members)["public"] and doc(members)["n_trusted_devices"] == k
    assert trust_fields(members, members, k) == {"trusted_devices": sorted(members), "n_trusted_devices": k,
                                                 "public": True}
    assert not is_public(0, 0)   # no k, no public candidate


def test_public_only_selects_public_candidates(es, es_prefix):
    ensure_templates(es, es_prefix)
    index = f"{es_prefix}-candidates"
    public, private = component("h1"), component("h9")
    for comp, trusted in ((public, public.devices), (private, public.devices[:1])):
        cid = comp.canonical_id
        es.index(index=index, id=document_id(CONTINUOUS, cid), refresh="wait_for",
                 document=candidate_document(cid, comp, Lifecycle.first(cid, T0), PARAMS, SCORES, source=CONTINUOUS,
                                             job_id=CONTINUOUS_JOB_ID, trusted=trusted))
    hits = es.search(index=index, query=selection(public_only=True), size=10)["hits"]["hits"]
    assert [h["_source"]["candidate_id"] for h in hits] == [public.canonical_id]
    assert es.count(index=index, query=selection())["count"] == 2

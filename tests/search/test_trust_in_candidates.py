"""Trust in the continuous search, on the real node: a candidate is public exactly while k of its
members are trusted; the loop re-marks candidates when their members' trust changes (approval or
revocation), and an alert is queued when a candidate becomes public, never before.

Fails on main at d21fe67: devices have no trust, candidate documents no trust fields, and every
candidate is public and announced."""
from __future__ import annotations

import pytest

from accounts import trust
from crayfis.definition import SearchParams
from crayfis.es.candidates import selection
from ingest.devices import pseudonym_of
from search.models import Alert
from tests.search.conftest import chunk, index_pending, post

T0 = 1_795_000_020_000
TAU, R, K = 100, 1000.0, 3
PARAMS = SearchParams(window_ms=TAU, radius_m=R, min_devices=K)
PHONES = [f"7a057ed0{i:08x}" for i in range(1, 5)]


def documents(es, prefix: str) -> list[dict]:
    es.indices.refresh(index=f"{prefix}-candidates")
    return [h["_source"] for h in es.search(index=f"{prefix}-candidates", query=selection(), size=10)["hits"]["hits"]]


def anonymous_ids(client) -> list[str]:
    return [c["candidate_id"] for c in
            client.get(f"/api/v1/candidates?from_ms={T0 - 1000}&to_ms={T0 + 1000}").json()["results"]]


@pytest.mark.django_db(transaction=True)
def test_a_candidate_is_public_while_k_members_are_trusted(client, es, es_url, es_prefix, make_loop, settings):
    settings.CRAYFIS_ALERT_FAR_PER_YEAR = 1e300     # every scored candidate may alert
    settings.CRAYFIS_ALERT_EMAILS = ["ops@example.org"]
    loop = make_loop(PARAMS, scorer="significance")   # scored: a false-alarm rate to alert on
    for i, phone in enumerate(PHONES):            # one shower, four phones
        post(client, *chunk(phone, [(T0 + 10 * i, 46.2 + 0.001 * i, 6.1)]))
    index_pending(es_url)
    assert loop.run_once().report.changes == {"created": 1}
    (doc,) = documents(es, es_prefix)
    assert (doc["n_trusted_devices"], doc["trusted_devices"], doc["public"]) == (0, [], False)
    assert anonymous_ids(client) == [] and not Alert.objects.exists()

    trust.approve(PHONES[:K - 1])                 # k - 1 trusted: still not public
    outcome = loop.run_once()
    assert outcome.report.buckets == 0            # nothing new to search: only the re-marking
    (doc,) = documents(es, es_prefix)
    assert (doc["n_trusted_devices"], doc["public"], doc["revision"]) == (K - 1, False, 2)
    assert anonymous_ids(client) == [] and not Alert.objects.exists()

    trust.approve(PHONES[K - 1:K])                # k trusted: public, and announced
    loop.run_once()
    (doc,) = documents(es, es_prefix)
    assert doc["public"] and doc["trusted_devices"] == sorted(pseudonym_of(p) for p in PHONES[:K])
    assert anonymous_ids(client) == [doc["candidate_id"]]
    assert list(Alert.objects.values_list("candidate_id", flat=True)) == [doc["candidate_id"]]

    loop.run_once()                               # re-marking again changes nothing
    assert documents(es, es_prefix)[0]["revision"] == doc["revision"]

    trust.revoke(PHONES[:1])                      # below k again: no longer public
    loop.run_once()
    (doc,) = documents(es, es_prefix)
    assert (doc["n_trusted_devices"], doc["public"]) == (K - 1, False)
    assert anonymous_ids(client) == [] and Alert.objects.count() == 1

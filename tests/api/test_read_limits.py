"""Limits of the read API against the real node: stream caps (anonymous and keyed), the cap
announced in X-Crayfis-Max-Rows, and no partial page: a search that comes back without all of
its shards is a 503, never a page with rows missing behind its cursor."""
from __future__ import annotations

import json

import pytest
from django.conf import settings
from elasticsearch.helpers import bulk

from crayfis.es.documents import build_actions
from crayfis.es.templates import ensure_templates
from crayfis.wire.jsonapi import decode_upload
from tests.api.conftest import T0, auth, upload_body

pytestmark = pytest.mark.django_db
N_HITS = 12
RANGE = f"from_ms={T0}&to_ms={T0 + 90 * 86_400_000}"


@pytest.fixture
def hits(es, es_prefix):
    """N_HITS hits, one second apart, in one monthly index of a fresh prefix."""
    ensure_templates(es, es_prefix)
    chunk = decode_upload(json.dumps(upload_body(n_hits=N_HITS, t0=T0)).encode(), "api-read-limits")
    bulk(es, build_actions(chunk, prefix=es_prefix, key=settings.CRAYFIS_PSEUDONYM_KEY))
    es.indices.refresh(index=f"{es_prefix}-*")
    return es_prefix


def _lines(resp) -> int:
    return len(b"".join(resp.streaming_content).splitlines())


def test_anonymous_streams_stop_at_their_cap_and_say_it(client, hits, scientist, settings):
    settings.CRAYFIS_API_ANON_STREAM_MAX_ROWS = 5
    anonymous = client.get(f"/api/v1/hits?{RANGE}&format=ndjson")
    assert anonymous.status_code == 200 and anonymous["X-Crayfis-Max-Rows"] == "5"
    assert _lines(anonymous) == 5
    keyed = client.get(f"/api/v1/hits?{RANGE}&format=ndjson", **auth(scientist[1]))
    assert keyed["X-Crayfis-Max-Rows"] == str(settings.CRAYFIS_API_STREAM_MAX_ROWS)
    assert _lines(keyed) == N_HITS


def test_the_anonymous_cap_never_exceeds_the_keyed_one(client, hits, settings):
    settings.CRAYFIS_API_ANON_STREAM_MAX_ROWS = 1_000
    settings.CRAYFIS_API_STREAM_MAX_ROWS = 3
    resp = client.get(f"/api/v1/hits?{RANGE}&format=ndjson")
    assert resp["X-Crayfis-Max-Rows"] == "3" and _lines(resp) == 3


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_an_anonymous_cap_of_zero_means_streams_need_a_key(client, hits, scientist, settings, fmt):
    settings.CRAYFIS_API_ANON_STREAM_MAX_ROWS = 0
    resp = client.get(f"/api/v1/hits?{RANGE}&format={fmt}")
    assert resp.status_code in (401, 403) and "read key" in resp.json()["detail"]
    assert client.get(f"/api/v1/hits?{RANGE}").status_code == 200          # pages stay open
    assert client.get(f"/api/v1/hits?{RANGE}&format={fmt}", **auth(scientist[1])).status_code == 200


@pytest.fixture
def broken_month(es, hits):
    """A hit index of the next month whose `hit_id` and `cell` are text: sorting or aggregating on
    them fails on that shard only, so Elasticsearch answers with the other shards' results and
    `_shards.failed: 1`."""
    index = f"{hits}-hits-2025.11"
    es.indices.create(index=index, mappings={"properties": {"hit_id": {"type": "text"}, "cell": {"type": "text"}}},
                      settings={"index.sort.field": ["t_ms"], "index.sort.order": ["asc"]})  # not by a text hit_id
    es.index(index=index, document={"hit_id": "broken", "t_ms": T0 + 30 * 86_400_000, "is_hit": True},
             refresh=True)
    return hits


@pytest.mark.parametrize("reader", ["anonymous", "scientist"])
def test_a_page_missing_a_shard_is_a_503_not_a_short_page(client, broken_month, scientist, reader):
    key = auth(scientist[1]) if reader == "scientist" else {}
    resp = client.get(f"/api/v1/hits?{RANGE}", **key)
    assert resp.status_code == 503 and resp["Retry-After"]
    assert "retry later" in resp.json()["detail"]


def test_network_stats_missing_a_shard_are_a_503(client, broken_month):
    assert client.get(f"/api/v1/network/stats?{RANGE}").status_code == 503

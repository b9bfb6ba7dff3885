"""Read API over real Elasticsearch, fed through the real path: JSON uploads -> raw store ->
the indexer (JSON decoder) -> documents. Privacy of the public view, filters, paging, NDJSON."""
from __future__ import annotations

import io
import json
import uuid
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from django.conf import settings
from elasticsearch.helpers import bulk

from crayfis.es.documents import build_actions
from crayfis.es.templates import ensure_templates
from crayfis.wire.jsonapi import decode_upload
from indexer.worker import Indexer, IndexerConfig, make_indexer_client
from ingest.devices import pseudonym_of
from ingest.models import Upload
from tests.api.conftest import T0, auth, post_upload, upload_body
from tests.conftest import _delete_prefixed

pytestmark = pytest.mark.django_db
T1 = 1_762_000_000_000                 # 2025-11-01: the range spans two monthly indices
GENEVA = (46.2044, 6.1432)             # public cell "46.25,6.15"
NEW_YORK = (40.7128, -74.0060)         # public cell "40.75,-74.05"
RANGE = f"from_ms={T0}&to_ms={T1 + 3_600_000}"


DEVICES = {"geneva": "api-test-geneva", "new_york": "api-test-new-york"}


def _bodies():
    return [("geneva", upload_body(n_hits=5, t0=T0, lat=GENEVA[0], lon=GENEVA[1])),
            ("new_york", upload_body(n_hits=4, t0=T1, lat=NEW_YORK[0], lon=NEW_YORK[1]))]


@pytest.fixture(scope="module")
def corpus(es):
    """5 hits from a detector in Geneva (October), 4 from one in New York (November), indexed
    once per module with the indexer's own decoder and document builder (the full path through
    the raw store and the indexer is test_uploads_reach_the_read_api_through_the_indexer)."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    ensure_templates(es, prefix)
    for name, body in _bodies():
        chunk = decode_upload(json.dumps(body).encode(), DEVICES[name])
        bulk(es, build_actions(chunk, prefix=prefix, key=settings.CRAYFIS_PSEUDONYM_KEY))
    es.indices.refresh(index=f"{prefix}-*")
    yield prefix
    _delete_prefixed(es, prefix)


@pytest.fixture
def indexed(corpus, settings):
    settings.CRAYFIS_ES_PREFIX = corpus
    return {name: SimpleNamespace(device_id=dev, pseudonym=pseudonym_of(dev)) for name, dev in DEVICES.items()}


@pytest.mark.django_db(transaction=True)   # the indexer manages its own connections and transactions
def test_uploads_reach_the_read_api_through_the_indexer(client, device, other_device, es, es_url, es_prefix,
                                                        scientist, settings):
    settings.CRAYFIS_INGEST_MAX_EVENT_AGE_S = 20 * 365 * 86_400   # 2025 data: as for a replay of archives
    (_, geneva), (_, new_york) = _bodies()
    assert post_upload(client, device[1], geneva).status_code == 202
    assert post_upload(client, other_device[1], new_york, gzipped=True).status_code == 202
    totals = Indexer(make_indexer_client(es_url), IndexerConfig.from_settings()).run(once=True)
    assert (totals.indexed, totals.quarantined) == (2, 0)
    assert set(Upload.objects.values_list("status", flat=True)) == {"indexed"}
    es.indices.refresh(index=f"{es_prefix}-*")
    assert sorted(es.indices.get(index=f"{es_prefix}-hits-*")) == [f"{es_prefix}-hits-2025.10",
                                                                    f"{es_prefix}-hits-2025.11"]
    hits = client.get(f"/api/v1/hits?{RANGE}", **auth(scientist[1])).json()["results"]
    by_device = {}
    for h in hits:
        by_device.setdefault(h["device"], []).append(h)
    assert {k: len(v) for k, v in by_device.items()} == {device[0].device.pseudonym: 5,
                                                        other_device[0].device.pseudonym: 4}
    assert by_device[device[0].device.pseudonym][0]["lat"] == pytest.approx(GENEVA[0])
    # a second indexer pass and a replayed upload change nothing
    assert post_upload(client, device[1], geneva).status_code == 202
    Indexer(make_indexer_client(es_url), IndexerConfig.from_settings()).run(once=True)
    es.indices.refresh(index=f"{es_prefix}-*")
    assert es.count(index=f"{es_prefix}-hits-*")["count"] == 9


def get_all_pages(client, url, headers=None, limit=2):
    rows, seen_cursor, pages = [], None, 0
    while True:
        cursor = f"&cursor={seen_cursor}" if seen_cursor else ""
        page = client.get(url + f"&limit={limit}" + cursor, **(headers or {}))
        assert page.status_code == 200, page.content
        data = page.json()
        rows += data["results"]
        pages += 1
        if data["next_cursor"] is None:
            assert data["next"] is None
            return rows, pages
        assert data["next"].startswith("http://testserver/api/v1/") and "cursor=" in data["next"]
        seen_cursor = data["next_cursor"]


def test_anonymous_view_is_public_only(client, indexed):
    resp = client.get(f"/api/v1/hits?{RANGE}")
    assert resp.status_code == 200
    hits = resp.json()["results"]
    assert len(hits) == 9
    # no device identity in the public view (docs/security.md); the scientist view has it
    assert all(set(h) == {"hit_id", "t_ms", "cell", "cell_lat", "cell_lon", "n_pix", "max_val"} for h in hits)
    assert {h["cell"] for h in hits} == {"46.25,6.15", "40.75,-74.05"}
    assert all(h["t_ms"] % 1000 == 0 for h in hits)
    text = resp.content.decode()
    assert indexed["geneva"].device_id not in text and "46.2044" not in text and "6.1432" not in text
    assert indexed["geneva"].pseudonym not in text and indexed["new_york"].pseudonym not in text
    assert [h["t_ms"] for h in hits] == sorted(h["t_ms"] for h in hits)
    assert [h["max_val"] for h in hits[:5]] == [100, 101, 102, 103, 104]


def test_scientist_view_has_exact_positions(client, indexed, scientist):
    hits = client.get(f"/api/v1/hits?{RANGE}", **auth(scientist[1])).json()["results"]
    assert {h["device"] for h in hits} == {indexed["geneva"].pseudonym, indexed["new_york"].pseudonym}
    geneva = [h for h in hits if h["device"] == indexed["geneva"].pseudonym]
    assert len(geneva) == 5
    assert all((h["lat"], h["lon"], h["accuracy"]) == (pytest.approx(GENEVA[0]), pytest.approx(GENEVA[1]), 10.0)
               for h in geneva)
    assert indexed["geneva"].device_id not in json.dumps(hits)


def test_anonymous_bbox_filters_on_the_public_cell_not_the_exact_position(client, indexed, scientist):
    tiny = "bbox=6.14,46.20,6.15,46.21"               # holds the exact position, not the cell centre
    assert client.get(f"/api/v1/hits?{RANGE}&{tiny}").json()["results"] == []
    assert len(client.get(f"/api/v1/hits?{RANGE}&{tiny}", **auth(scientist[1])).json()["results"]) == 5
    cell = "bbox=6.1,46.2,6.2,46.3"                   # holds the cell centre
    assert len(client.get(f"/api/v1/hits?{RANGE}&{cell}").json()["results"]) == 5


def test_bbox_across_the_antimeridian(client, indexed):
    wrap = "bbox=170,-10,-170,10"                     # min_lon > max_lon: a box over 180
    assert client.get(f"/api/v1/hits?{RANGE}&{wrap}").json()["results"] == []
    wide = "bbox=-75,40,7,47"
    assert len(client.get(f"/api/v1/hits?{RANGE}&{wide}").json()["results"]) == 9


def test_time_range_and_device_filters(client, indexed, scientist):
    key = auth(scientist[1])
    october = client.get(f"/api/v1/hits?from_ms={T0}&to_ms={T1}", **key).json()["results"]
    assert {h["device"] for h in october} == {indexed["geneva"].pseudonym} and len(october) == 5
    assert len(client.get(f"/api/v1/hits?from_ms={T0}&to_ms={T1}").json()["results"]) == 5
    edge = client.get(f"/api/v1/hits?from_ms={T0 + 2000}&to_ms={T0 + 4000}").json()["results"]
    assert [h["t_ms"] for h in edge] == [T0 + 2000, T0 + 3000]           # from inclusive, to exclusive
    ny = client.get(f"/api/v1/hits?{RANGE}&device={indexed['new_york'].pseudonym}", **key).json()["results"]
    assert len(ny) == 4
    anonymous = client.get(f"/api/v1/hits?{RANGE}&device={indexed['new_york'].pseudonym}")
    assert anonymous.status_code == 400 and anonymous.json()["errors"][0]["field"] == "device"


def test_anonymous_ranges_are_whole_seconds(client, indexed, scientist):
    """A millisecond range would tell a hit's millisecond (does one fall in [x, x + 1)?): without
    a key the bounds are widened to whole seconds, for hits and for the network counts."""
    t = T0 + 2000
    key = auth(scientist[1])
    assert [h["t_ms"] for h in client.get(f"/api/v1/hits?from_ms={t + 1}&to_ms={t + 2}", **key).json()["results"]] == []
    assert [h["t_ms"] for h in client.get(f"/api/v1/hits?from_ms={t + 1}&to_ms={t + 2}").json()["results"]] == [t]
    stats = client.get(f"/api/v1/network/stats?from_ms={t + 1}&to_ms={t + 2}").json()
    assert (stats["hits"], stats["from_ms"], stats["to_ms"]) == (1, t, t + 1000)
    assert client.get(f"/api/v1/network/stats?from_ms={t + 1}&to_ms={t + 2}", **key).json()["hits"] == 0


def test_cursor_pages_cover_everything_once_in_order(client, indexed):
    full = client.get(f"/api/v1/hits?{RANGE}").json()["results"]
    paged, pages = get_all_pages(client, f"/api/v1/hits?{RANGE}", limit=2)
    assert pages == 5 and paged == full
    assert len({h["hit_id"] for h in paged}) == 9


def test_ndjson_stream_equals_the_pages(client, indexed, scientist, settings):
    settings.CRAYFIS_API_STREAM_BATCH = 4             # several point-in-time batches
    full = client.get(f"/api/v1/hits?{RANGE}", **auth(scientist[1])).json()["results"]
    resp = client.get(f"/api/v1/hits?{RANGE}&format=ndjson", **auth(scientist[1]))
    assert resp.status_code == 200 and resp["Content-Type"] == "application/x-ndjson"
    lines = b"".join(resp.streaming_content).decode().splitlines()
    assert [json.loads(line) for line in lines] == full


@pytest.mark.parametrize("who", ["anonymous", "scientist"])
def test_parquet_stream_equals_the_pages(client, indexed, scientist, settings, who):
    settings.CRAYFIS_API_STREAM_BATCH = 4             # three row groups
    headers = auth(scientist[1]) if who == "scientist" else {}
    full = client.get(f"/api/v1/hits?{RANGE}", **headers).json()["results"]
    resp = client.get(f"/api/v1/hits?{RANGE}&format=parquet", **headers)
    assert resp.status_code == 200 and resp["Content-Type"] == "application/vnd.apache.parquet"
    parquet = pq.ParquetFile(io.BytesIO(b"".join(resp.streaming_content)))
    assert parquet.metadata.num_row_groups == 3
    table = parquet.read()
    assert table.to_pylist() == full
    assert ("lat" in table.column_names) == (who == "scientist")
    assert str(table.schema.field("t_ms").type) == "int64"


def test_parquet_of_an_empty_range_is_a_valid_empty_file(client, indexed):
    resp = client.get("/api/v1/hits?from_ms=1300000000000&to_ms=1300000001000&format=parquet")
    table = pq.read_table(io.BytesIO(b"".join(resp.streaming_content)))
    assert table.num_rows == 0 and table.column_names[:3] == ["hit_id", "t_ms", "cell"]   # no device without a key


def test_ndjson_of_an_empty_range_is_empty(client, indexed):
    resp = client.get("/api/v1/hits?from_ms=1300000000000&to_ms=1300000001000&format=ndjson")
    assert resp.status_code == 200 and b"".join(resp.streaming_content) == b""


@pytest.mark.parametrize("query, field", [
    ("from_ms=5", "to_ms"),
    (f"{RANGE}&bbox=1,2,3", "bbox"),
    (f"{RANGE}&bbox=0,91,1,92", "bbox"),
    (f"{RANGE}&bbox=1e1,0,2,1", "bbox"),
    (f"{RANGE}&device=3f1a9c0b5e7d2468", "device"),
    (f"{RANGE}&cursor=bm9wZQ", "cursor"),
    (f"{RANGE}&limit=0", "limit"),
    (f"{RANGE}&format=xml", "format"),
])
def test_bad_query_parameters_are_400_naming_the_field(client, es_prefix, query, field):
    resp = client.get(f"/api/v1/hits?{query}")
    assert resp.status_code == 400
    assert field in {e["field"] for e in resp.json()["errors"]}


@pytest.mark.parametrize("query", [f"from_ms={T1}&to_ms={T0}", f"{RANGE}&bbox=0,50,1,40"])
def test_empty_ranges_and_boxes_give_no_results(client, indexed, query):
    resp = client.get(f"/api/v1/hits?{query}")
    assert resp.status_code == 200 and resp.json()["results"] == []


def test_network_stats(client, indexed):
    stats = client.get(f"/api/v1/network/stats?{RANGE}").json()
    assert stats == {"from_ms": T0, "to_ms": T1 + 3_600_000, "hits": 9, "devices": 2, "cells": 2,
                     "first_hit_ms": T0 + 1000, "last_hit_ms": T1 + 4000,
                     "exposure_hours": pytest.approx(2 * 180 / 3600), "live_devices": 2, "candidates": 0}
    october = client.get(f"/api/v1/network/stats?from_ms={T0}&to_ms={T1}").json()
    assert (october["hits"], october["devices"]) == (5, 1)


def _candidate(i: int, t: int, n_devices: int, lat: float, lon: float) -> dict:
    return {"candidate_id": f"c{i:03d}", "hit_ids": [f"h{i}a", f"h{i}b"], "devices": ["d0123456789abcdef"],
            "n_hits": 2 * n_devices, "n_devices": n_devices, "t_start_ms": t, "t_end_ms": t + 40,
            "location": {"lat": lat, "lon": lon}, "cell": "46.25,6.15", "cell_location": {"lat": 46.25, "lon": 6.15},
            "n_triggered_anchors": 1, "expected_background": 0.01, "p_value": 1e-4 * i,
            "false_alarm_per_year": 0.5, "tau_ms": 100, "radius_m": 1000.0, "k": 3, "job_id": "test",
            "source": "continuous", "trusted_devices": ["d0123456789abcdef"], "n_trusted_devices": 3, "public": True}


def test_candidates_public_and_exact_views_filters_and_paging(client, es, es_prefix, scientist):
    ensure_templates(es, es_prefix)
    # the continuous search maps its status field (search/es_candidates.py) before writing
    es.indices.put_mapping(index=f"{es_prefix}-candidates", properties={"status": {"type": "keyword"}})
    for i in range(5):
        es.index(index=f"{es_prefix}-candidates", id=f"c{i:03d}",
                 document=_candidate(i, T0 + 1000 * i, 3 + i % 2, GENEVA[0], GENEVA[1]))
    retracted = {**_candidate(9, T0 + 500, 3, GENEVA[0], GENEVA[1]), "status": "retracted", "merged_into": "c001"}
    es.index(index=f"{es_prefix}-candidates", id="c009", document=retracted)   # as the continuous search leaves it
    untrusted = {**_candidate(8, T0 + 700, 3, GENEVA[0], GENEVA[1]), "trusted_devices": [], "n_trusted_devices": 0,
                 "public": False}
    es.index(index=f"{es_prefix}-candidates", id="c008", document=untrusted)   # fewer than k trusted members
    es.indices.refresh(index=f"{es_prefix}-candidates")
    url = f"/api/v1/candidates?{RANGE}"
    public = client.get(url).json()["results"]
    assert [c["candidate_id"] for c in public] == ["c000", "c001", "c002", "c003", "c004"]
    assert all("lat" not in c and "lon" not in c and c["cell"] == "46.25,6.15" for c in public)
    assert all("devices" not in c and "hit_ids" not in c and c["n_trusted_devices"] == 3 for c in public)
    assert public[0]["multiplicity"] is None
    exact = client.get(url, **auth(scientist[1])).json()["results"]
    assert exact[0]["lat"] == pytest.approx(GENEVA[0]) and exact[0]["hit_ids"] == ["h0a", "h0b"]
    assert exact[0]["devices"] == exact[0]["trusted_devices"] == ["d0123456789abcdef"]
    assert [(c["candidate_id"], c["public"]) for c in exact if not c["public"]] == [("c008", False)]
    assert [c["candidate_id"] for c in client.get(url + "&min_devices=4").json()["results"]] == ["c001", "c003"]
    assert [c["candidate_id"] for c in client.get(url + "&max_p_value=0.00015").json()["results"]] == ["c000", "c001"]
    paged, pages = get_all_pages(client, url, limit=2)
    assert pages == 3 and paged == public
    assert client.get(f"/api/v1/network/stats?{RANGE}").json()["candidates"] == 5
    assert client.get(f"/api/v1/network/stats?{RANGE}", **auth(scientist[1])).json()["candidates"] == 6


def test_index_down_is_503(client, settings, es_prefix):
    settings.CRAYFIS_ES_URL = "http://127.0.0.1:9"       # nothing listens on the discard port
    settings.CRAYFIS_ES_TIMEOUT_S = 2.0
    for url in (f"/api/v1/hits?{RANGE}", f"/api/v1/hits?{RANGE}&format=ndjson",
                f"/api/v1/hits?{RANGE}&format=parquet", f"/api/v1/candidates?{RANGE}",
                f"/api/v1/network/stats?{RANGE}"):
        resp = client.get(url)
        assert resp.status_code == 503 and resp["Retry-After"] == "5", url

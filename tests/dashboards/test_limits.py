"""What one client can make the dashboards do: one request budget per client address over the
pages and /api/dash/* (CRAYFIS_DASH_RATE), not-found answers cached, and answers that a failed
shard (or the search time limit) cut short marked "partial", never cached as "not found"."""
from __future__ import annotations

import pytest
from django.core.cache import cache

from crayfis.es.templates import ensure_templates

pytestmark = pytest.mark.django_db


def test_pages_and_endpoints_share_one_budget_per_client(client, dash, settings):
    settings.CRAYFIS_DASH_RATE = "3/min"
    addr = {"REMOTE_ADDR": "203.0.113.20"}
    assert client.get("/", **addr).status_code == 200
    assert client.get("/api/dash/overview", **addr).status_code == 200
    assert client.get("/leaderboard/", **addr).status_code == 200
    page, endpoint = client.get("/candidates/", **addr), client.get("/api/dash/status", **addr)
    assert page.status_code == endpoint.status_code == 429
    assert page["Content-Type"].startswith("text/plain") and b"Too many requests" in page.content
    assert 0 < int(page["Retry-After"]) <= 60 and 0 < endpoint.json()["retry_after_s"] <= 60
    assert endpoint["Cache-Control"] == "no-store"
    assert client.get("/candidates/", REMOTE_ADDR="203.0.113.21").status_code == 200


def test_behind_the_proxy_each_forwarded_client_has_its_own_budget(client, dash, settings):
    """With one trusted proxy the client is the address it forwards; the socket's (the proxy's)
    would put every visitor in one bucket, and a forged entry before it changes nothing."""
    settings.CRAYFIS_DASH_RATE = "2/min"
    settings.CRAYFIS_API_NUM_PROXIES = 1

    def ask(forwarded: str) -> int:
        return client.get("/api/dash/status", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded).status_code

    assert [ask("198.51.100.1"), ask("192.0.2.9, 198.51.100.1"), ask("198.51.100.1")] == [200, 200, 429]
    assert ask("198.51.100.2") == 200


def test_an_unknown_device_page_is_looked_up_once_per_cache_time(client, dash, es, settings):
    settings.CRAYFIS_DASH_CACHE_S = 60

    def searches() -> int:
        stats = es.indices.stats(index=f"{dash.prefix}-hits-*", metric="search")
        return stats["_all"]["total"]["search"]["query_total"]

    start = searches()
    assert client.get("/api/dash/device/dnosuchdevice0000").status_code == 404
    one = searches() - start
    assert client.get("/device/dnosuchdevice0000/").status_code == 404
    assert client.get("/api/dash/device/dnosuchdevice0000").status_code == 404
    assert one > 0 and searches() - start == one


@pytest.fixture
def broken(es, es_prefix, settings):
    """A fresh prefix whose exposures and hits each have one index with `device` and `t_ms` as
    text: aggregating on them fails on that shard only (Elasticsearch answers the rest,
    `_shards.failed: 1`), which is what a search cut short by its time limit looks like too."""
    ensure_templates(es, es_prefix)
    text = {"properties": {"device": {"type": "text"}, "t_ms": {"type": "text"}}}
    whole = {"exposures": {"device": "dwhole", "state": "DATA", "live_s": 60.0}, "hits": {"device": "dwhole"}}
    for kind in ("exposures", "hits"):
        es.index(index=f"{es_prefix}-{kind}-2025.10", document=whole[kind], refresh=True)
        # the hits template sorts its indices by t_ms and hit_id, which a text t_ms cannot do
        resort = {"index.sort.field": ["is_hit"], "index.sort.order": ["asc"]} if kind == "hits" else None
        es.indices.create(index=f"{es_prefix}-{kind}-2025.11", mappings=text, settings=resort)
        es.index(index=f"{es_prefix}-{kind}-2025.11", document={"device": "dbroken", "t_ms": "x"}, refresh=True)
    settings.CRAYFIS_DASH_CACHE_S = 60
    cache.clear()
    return es_prefix


def test_an_answer_missing_a_shard_is_marked_partial(client, broken, es):
    overview = client.get("/api/dash/overview")
    assert overview.status_code == 200 and overview.json()["partial"] is True
    es.indices.delete(index=f"{broken}-hits-2025.11,{broken}-exposures-2025.11")
    cache.clear()
    whole = client.get("/api/dash/overview").json()
    assert "partial" not in whole and whole["phones_total"] == 1


def test_nothing_found_in_a_partial_answer_is_an_error_not_a_cached_404(client, broken, es):
    assert client.get("/api/dash/device/dnosuchdevice0000").status_code == 503
    es.indices.delete(index=f"{broken}-hits-2025.11,{broken}-exposures-2025.11")
    assert client.get("/api/dash/device/dnosuchdevice0000").status_code == 404

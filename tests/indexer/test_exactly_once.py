"""Exactly once under stress: two indexers at once, and Elasticsearch stopped mid-stream."""
from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from elasticsearch import Elasticsearch

from indexer.worker import Indexer, IndexerConfig, make_indexer_client
from ingest.models import Upload
from ingest.synthetic import make_chunk
from ops import esnode
from tests.indexer.conftest import indexers_at_once
from tests.ingest.conftest import post_submit

pytestmark = pytest.mark.django_db(transaction=True)


def _count_hits(es, prefix: str) -> tuple[int, int]:
    """(documents, distinct hit ids) in the prefix's hit indices."""
    es.indices.refresh(index=f"{prefix}-hits-*", ignore_unavailable=True)
    total = es.count(index=f"{prefix}-hits-*", ignore_unavailable=True)["count"]
    distinct = es.search(index=f"{prefix}-hits-*", size=0, ignore_unavailable=True,
                         aggs={"ids": {"cardinality": {"field": "hit_id", "precision_threshold": 40000}}})
    return total, distinct["aggregations"]["ids"]["value"]


def _run_indexer(es_url, stop, results, **overrides):
    try:
        cfg = IndexerConfig.from_settings(**overrides)
        results.append(Indexer(make_indexer_client(es_url), cfg).run(once="once" in overrides.get("_", ""),
                                                                       stop=stop))
    finally:
        connection.close()


def test_two_indexers_at_once_index_each_upload_once(client, es, es_url, es_prefix):
    chunks = [make_chunk(i, n_events=20) for i in range(24)]
    for c in chunks:
        assert post_submit(client, c.body, c.headers).status_code == 202
    results = indexers_at_once(es_url)
    assert sum(r.indexed for r in results) == len(chunks)
    assert all(r.indexed > 0 for r in results), "both indexers should have taken work"
    assert Upload.objects.filter(status="indexed").count() == len(chunks)
    expected = sum(c.n_events for c in chunks)
    assert _count_hits(es, es_prefix) == (expected, expected)


def test_an_expired_claim_is_taken_over_without_duplicates(client, es, es_url, es_prefix):
    c = make_chunk(7, n_events=10)
    post_submit(client, c.body, c.headers)
    crashed = Indexer(make_indexer_client(es_url), IndexerConfig.from_settings(lease_s=0.05), owner="crashed")
    rows = crashed.claim()
    assert len(rows) == 1
    crashed.prepare(rows[0])  # ... and dies before indexing or marking
    other = Indexer(make_indexer_client(es_url), IndexerConfig.from_settings(), owner="other")
    assert other.claim() == []  # lease still held
    time.sleep(0.1)
    assert other.run(once=True).indexed == 1
    # the crashed one comes back and finishes its stale batch: 409s, no second copy, no re-mark
    assert crashed.process(rows).indexed == 0
    assert _count_hits(es, es_prefix) == (10, 10)


def _free_port_pair() -> int:
    """An HTTP port p with p + 100 (the node's transport port) also free."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
        if port + 100 > 65535:
            continue
        with socket.socket() as b:
            try:
                b.bind(("127.0.0.1", port + 100))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


@pytest.fixture
def second_node(es, settings):
    """A second real node on a fresh port that the test may stop and start (removed after)."""
    cfg = esnode.NodeConfig(http_port=_free_port_pair(), var_dir=settings.VAR_DIR, heap="512m")
    esnode.start(cfg, progress=lambda m: None)
    try:
        yield cfg
    finally:
        esnode.stop(cfg)
        shutil.rmtree(cfg.node_dir, ignore_errors=True)


def test_es_stopped_while_uploads_keep_coming(es_prefix, second_node):
    """All answered 202 while the node is down, none lost, all indexed exactly once after."""
    client = Client()
    stop = threading.Event()
    results: list = []
    cfg = IndexerConfig.from_settings(batch=4, poll_s=0.1, backoff_min_s=0.2, backoff_max_s=1.0)
    indexer = Indexer(make_indexer_client(second_node.url), cfg, owner="outage")

    def work():
        try:
            results.append(indexer.run(stop=stop, log_every_s=3600))
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    chunks = [make_chunk(100 + i, n_events=30) for i in range(30)]
    statuses = []
    try:
        for c in chunks[:10]:
            statuses.append(post_submit(client, c.body, c.headers).status_code)
        esnode.stop(second_node)
        assert esnode.health(second_node.url) is None
        for c in chunks[10:25]:
            statuses.append(post_submit(client, c.body, c.headers).status_code)
        time.sleep(1.5)  # the indexer meets the dead node and backs off
        assert Upload.objects.exclude(status="indexed").exists()
        esnode.start(second_node, progress=lambda m: None)
        for c in chunks[25:]:
            statuses.append(post_submit(client, c.body, c.headers).status_code)
        deadline = time.monotonic() + 90
        while Upload.objects.exclude(status="indexed").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join(60)
    assert statuses == [202] * len(chunks)
    assert Upload.objects.filter(status="indexed").count() == len(chunks)
    assert results and results[0].es_outages >= 1
    es2 = Elasticsearch(second_node.url, request_timeout=30)
    expected = sum(c.n_events for c in chunks)
    assert _count_hits(es2, es_prefix) == (expected, expected)

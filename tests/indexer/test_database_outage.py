"""A database outage in the middle of an indexer's turn does not strand the uploads it claimed.

The lease on a claim (CRAYFIS_INDEXER_LEASE_S, five minutes in production) is there for a
process that died; a process that lives through a database error must not leave the rows it
claimed, and holds nowhere any more, waiting out that lease. Each test breaks one real statement
of the turn: on PostgreSQL by terminating the indexer's own session from another connection just
before the statement runs (as a restart does), on SQLite with the error a locked database raises.
"""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection

from indexer.worker import Indexer, IndexerConfig, make_indexer_client, now_ms
from ingest.models import Upload
from ingest.synthetic import make_chunk
from tests.ingest.conftest import post_submit

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_S = 300.0  # production's: a stranded row would sit far longer than any of these tests


def _cut_session() -> None:
    """End this connection's session the way a restart of the server does."""
    if connection.vendor != "postgresql":
        raise OperationalError("database is locked")
    import psycopg
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))


@contextmanager
def database_lost_at(pattern: str, times: int = 1):
    """The first ``times`` statements matching ``pattern`` meet a lost database session."""
    left = [times]

    def wrapper(execute, sql, params, many, context):
        if left[0] and re.search(pattern, sql):
            left[0] -= 1
            _cut_session()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield left


def _submit(client, n: int) -> int:
    events = 0
    for i in range(n):
        c = make_chunk(100 + i, n_events=5)
        assert post_submit(client, c.body, c.headers).status_code == 202
        events += c.n_events
    return events


def _indexer(es_url: str) -> Indexer:
    cfg = IndexerConfig.from_settings(lease_s=LEASE_S, poll_s=0.01, batch=4)
    return Indexer(make_indexer_client(es_url), cfg, owner="survivor")


def _hits(es, prefix: str) -> int:
    es.indices.refresh(index=f"{prefix}-hits-*")
    return es.count(index=f"{prefix}-hits-*")["count"]


@pytest.mark.parametrize("statement", [
    pytest.param(r'^SELECT .*"ingest_upload"\."body"', id="reading the rows just claimed"),
    pytest.param(r'^UPDATE "ingest_upload" SET "status"', id="quarantining a poison upload"),
    pytest.param(r'^UPDATE "ingest_upload" SET status = ', id="recording an acknowledged batch"),
])
def test_an_outage_mid_turn_strands_no_claimed_upload(client, es, es_url, es_prefix, statement):
    events = _submit(client, 6)
    post_submit(client, b"\xff\xff not protobuf")  # something for the quarantine to write
    indexer = _indexer(es_url)
    with database_lost_at(statement) as left:
        totals = indexer.run(once=True)
    assert left == [0], "the statement under test did not run"
    connection.close()
    pending = list(Upload.objects.filter(status="pending").values_list("id", "claim_owner", "claim_until_ms"))
    assert pending == [], f"left pending after the outage: {pending}"
    assert Upload.objects.filter(status="indexed").count() == 6
    assert Upload.objects.filter(status="quarantined").count() == 1
    assert totals.indexed == 6
    assert _hits(es, es_prefix) == events


def test_rows_waiting_out_a_retry_are_not_taken_early(client, es, es_url, es_prefix):
    """Giving back what an interrupted turn dropped leaves a retry's delay alone."""
    _submit(client, 2)
    first, second = Upload.objects.order_by("id").values_list("id", flat=True)
    later = 2**62
    Upload.objects.filter(id=first).update(attempts=1, claim_until_ms=later)
    indexer = _indexer(es_url)
    with database_lost_at(r'^SELECT .*"ingest_upload"\."body"') as left:
        totals = indexer.run(once=True)
    assert left == [0]
    connection.close()
    assert totals.indexed == 1
    assert Upload.objects.get(id=second).status == "indexed"
    waiting = Upload.objects.get(id=first)
    assert (waiting.status, waiting.claim_until_ms) == ("pending", later)


def test_a_stop_after_an_outage_gives_back_what_it_holds(client, es, es_url, es_prefix):
    """Stopped in the middle of an outage, the process leaves nothing claimed in its name."""
    _submit(client, 3)
    indexer = _indexer(es_url)
    stop = threading.Event()

    def lost_then_stopped(execute, sql, params, many, context):
        if not stop.is_set() and re.search(r'^SELECT .*"ingest_upload"\."body"', sql):
            stop.set()
            _cut_session()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(lost_then_stopped):
        totals = indexer.run(stop=stop)
    connection.close()
    assert stop.is_set() and totals.indexed == 0
    assert list(Upload.objects.exclude(claim_owner=None).values_list("id", "claim_owner")) == []
    assert _indexer(es_url).run(once=True).indexed == 3


def test_a_retried_upload_is_unowned_and_held_back_by_its_time(client, es_url):
    """What the give-back relies on: a row this process owns is one it works on."""
    _submit(client, 1)
    indexer = _indexer(es_url)
    rows = indexer.claim()
    before = now_ms()
    totals = indexer._mark([indexer.prepare(r) for r in rows], set(), {rows[0]["id"]: "503: no shard"}, {})
    row = Upload.objects.get(id=rows[0]["id"])
    assert totals.retried == 1
    assert (row.status, row.claim_owner, row.attempts, row.error) == ("pending", None, 1, "503: no shard")
    assert row.claim_until_ms > before
    assert indexer.claim() == []  # not before its delay

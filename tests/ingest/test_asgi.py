"""ingest.asgi: POST /submit on the event loop answers as the WSGI view does; the rest goes to Django.

Transactional tests: the rows are committed by the group-commit writer thread and the policy
checks may run in a thread, so both must see what the test wrote.
"""
from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os

import pytest
from django.db import connection

from ingest import policy, store
from ingest.asgi import application
from ingest.models import AppCode, Device, Upload
from tests.ingest.conftest import B_HEADERS

pytestmark = pytest.mark.django_db(transaction=True)

BODY = b"\x12\x04\x10\x01\x18\x02"


async def _call(path, body, headers, method="POST", chunks=None, declare_length=True, disconnect=False):
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if declare_length:
        raw.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"127.0.0.1")] + raw,
             "client": ("10.1.2.3", 40000), "server": ("127.0.0.1", 8000)}
    parts = chunks if chunks is not None else [body]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]
    if disconnect:
        messages = messages[:1] + [{"type": "http.disconnect"}]
        messages[0]["more_body"] = True

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # a live client sends nothing more (Django listens for disconnect)

    sent = []

    async def send(message):
        sent.append(message)

    await application(scope, receive, send)
    return sent


def call(path, body=b"", headers=None, **kw):
    """(status, headers dict, body) of one request; status None when nothing was sent."""
    sent = asyncio.run(_call(path, body, B_HEADERS if headers is None else headers, **kw))
    if not sent:
        return None, {}, b""
    start = sent[0]
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
            b"".join(m.get("body", b"") for m in sent[1:]))


def test_accepts_commits_and_records_every_header():
    headers = dict(B_HEADERS, **{"Hash-code": "q1w2e3==\n"})
    status, hdrs, body = call("/submit", BODY, headers)
    assert status == 202 and json.loads(body) == {}
    assert hdrs["content-type"] == "application/json" and hdrs["content-length"] == str(len(body))
    row = Upload.objects.get()
    assert bytes(row.body) == BODY and row.size == len(BODY)
    assert row.sha256 == hashlib.sha256(BODY).hexdigest()
    assert (row.device_id, row.run_id, row.camera_id) == ("3f1a9c0b5e7d2468", B_HEADERS["Run-id"], "0")
    assert (row.crayfis_version, row.crayfis_version_code) == ("b v1.0.4", "256")
    assert row.hash_code == "q1w2e3==" and row.unlinked is False
    assert row.remote_addr == "10.1.2.3" and row.status == "pending"


def test_both_policy_paths_and_dedup():
    """The first upload checks in a thread (caches empty), the next ones on the loop; one row."""
    policy.clear()
    assert not policy.answers_from_cache("")
    for _ in range(3):
        assert call("/submit", BODY)[0] == 202
        assert policy.answers_from_cache("")
    assert Upload.objects.count() == 1
    assert store.writer_stats()["rows"] >= 3


def test_body_in_several_messages():
    status, _, _ = call("/submit", b"abc" * 10, chunks=[b"abc" * 3, b"abc" * 3, b"abc" * 4])
    assert status == 202
    assert bytes(Upload.objects.get().body) == b"abc" * 10


def test_missing_or_long_device_id_is_400():
    no_id = {k: v for k, v in B_HEADERS.items() if k != "Device-id"}
    status, _, body = call("/submit", BODY, no_id)
    assert status == 400 and "Device-id" in json.loads(body)["error"]
    assert call("/submit", BODY, dict(B_HEADERS, **{"Device-id": "x" * 129}))[0] == 400
    assert not Upload.objects.exists()


def test_body_over_the_cap_is_413_declared_or_not(settings):
    settings.CRAYFIS_INGEST_MAX_BODY_BYTES = 1000
    assert call("/submit", b"\x00" * 1000)[0] == 202
    assert call("/submit", b"\x01" * 1001)[0] == 413
    assert call("/submit", b"\x02" * 1001, chunks=[b"\x02" * 600, b"\x02" * 401], declare_length=False)[0] == 413
    assert Upload.objects.count() == 1


def test_blocked_device_is_403():
    Device.objects.create(device_id=B_HEADERS["Device-id"], blocked=True)
    status, _, body = call("/submit", BODY)
    assert status == 403 and json.loads(body)["error"]
    assert not Upload.objects.exists()


def test_app_codes(settings):
    settings.CRAYFIS_INGEST_ENFORCE_APP_CODES = True
    AppCode.objects.create(code="alice-42")
    assert call("/submit", BODY, dict(B_HEADERS, **{"App-code": "nobody"}))[0] == 401
    assert call("/submit", BODY, dict(B_HEADERS, **{"App-code": "alice-42"}))[0] == 202
    settings.CRAYFIS_INGEST_ENFORCE_APP_CODES = False
    assert call("/submit", b"other", dict(B_HEADERS, **{"App-code": "nobody"}))[0] == 202
    assert Upload.objects.get(app_code="nobody").unlinked is True
    assert Upload.objects.get(app_code="alice-42").unlinked is False


def test_overrides_become_commands_as_in_the_wsgi_view(client):
    Device.objects.create(device_id=B_HEADERS["Device-id"], l1_target_epm=20, l1_thresh=11.5,
                          l1_trig_lock=True, xb_period_s=120)
    status, _, body = call("/submit", BODY)
    assert status == 202
    assert json.loads(body) == {"set_L1_trig": {"target_epm": 20.0, "l1thresh": 11.5, "trig_lock": True},
                                "set_xb_period": 120}
    wsgi = client.post("/submit", data=b"other body", content_type="application/octet-stream",
                       **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in B_HEADERS.items()})
    assert wsgi.content == body


def test_get_is_405_and_disconnect_sends_nothing():
    assert call("/submit", method="GET")[0] == 405
    assert call("/submit", BODY * 10, disconnect=True)[0] is None
    assert not Upload.objects.exists()


@pytest.mark.sqlite   # the writer lock is SQLite's (ingest/store.py); PostgreSQL has none to hold
def test_commit_not_done_in_time_is_503(settings):
    """Another writer holds the database's writer lock: the phone gets 503, not a hang."""
    settings.CRAYFIS_INGEST_COMMIT_TIMEOUT_S = 0.3
    call("/submit", b"first")  # writer thread started, policy cached
    fd = os.open(f"{connection.settings_dict['NAME']}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        status, _, body = call("/submit", BODY)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert status == 503 and "retry" in json.loads(body)["error"]


def test_other_paths_go_to_django(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    status, _, body = call("/healthz", method="GET", headers={})
    assert status in (200, 503) and b"database" in body
    status, _, _ = call("/precal.json", b'{"device_id": "a", "camera_id": 0, "res": "1x1"}', headers={})
    assert status == 204


def test_lifespan_handshake():
    async def run():
        inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent = []

        async def receive():
            return inbox.pop(0)

        async def send(message):
            sent.append(message["type"])

        await application({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
        return sent

    assert asyncio.run(run()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

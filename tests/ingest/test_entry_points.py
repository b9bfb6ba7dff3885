"""Every entry point gives the same /submit answers: the Django view (config.urls, the test
client), ingest.wsgi and ingest.asgi all adapt their request to ingest.submit.

Transactional: the ASGI and WSGI entry points commit through the group-commit writer thread,
and Django's handler manages the thread's connection itself.
"""
from __future__ import annotations

import asyncio
import io
import time

import pytest
from django.db import connection

from ingest import policy
from ingest.asgi import application as asgi_application
from ingest.models import AppCode, Device, Upload
from ingest.wsgi import application as wsgi_application
from tests.ingest.conftest import B_HEADERS, wsgi_headers

pytestmark = pytest.mark.django_db(transaction=True)


def via_view(client, method, body, headers):
    resp = client.generic(method, "/submit", body, content_type="application/octet-stream",
                          **wsgi_headers(headers))
    return resp.status_code, resp["Content-Type"], resp.content


def via_wsgi(_client, method, body, headers):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": "/submit", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/octet-stream",
               "REMOTE_ADDR": "127.0.0.1", **wsgi_headers(headers)}
    got = {}

    def start_response(status, hdrs):
        got["status"], got["headers"] = status, dict(hdrs)

    content = b"".join(wsgi_application(environ, start_response))
    assert got["headers"]["Content-Length"] == str(len(content))
    return int(got["status"].split()[0]), got["headers"]["Content-Type"], content


def via_asgi(_client, method, body, headers):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": "/submit", "raw_path": b"/submit", "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
             + [(b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000)}
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(asgi_application(scope, receive, send))
    hdrs = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    content = b"".join(m.get("body", b"") for m in sent[1:])
    assert hdrs["content-length"] == str(len(content))
    return sent[0]["status"], hdrs["content-type"], content


ENTRY_POINTS = [via_view, via_wsgi, via_asgi]


def test_every_answer_is_the_same_through_every_entry_point(client, settings):
    settings.CRAYFIS_INGEST_MAX_BODY_BYTES = 64
    settings.CRAYFIS_INGEST_ENFORCE_APP_CODES = True
    Device.objects.create(device_id="blocked-phone", blocked=True)
    Device.objects.create(device_id="tuned-phone", l1_thresh=11.5, xb_period_s=120)
    AppCode.objects.create(code="alice-42")
    no_id = {k: v for k, v in B_HEADERS.items() if k != "Device-id"}
    cases = [  # (method, body, headers, expected status)
        ("GET", b"", B_HEADERS, 405),
        ("POST", b"x", no_id, 400),
        ("POST", b"x", dict(B_HEADERS, **{"Device-id": "x" * 129}), 400),
        ("POST", b"x" * 65, B_HEADERS, 413),
        ("POST", b"x", dict(B_HEADERS, **{"Device-id": "blocked-phone"}), 403),
        ("POST", b"x", dict(B_HEADERS, **{"Device-id": "3f1a9c0b\x1b[31m"}), 400),
        ("POST", b"", dict(B_HEADERS, **{"App-code": "alice-42"}), 400),
        ("POST", b"x", dict(B_HEADERS, **{"App-code": "nobody"}), 401),
        ("POST", b"x", B_HEADERS, 401),   # enforced: a missing App-code is refused like an unknown one
        ("POST", b"x", dict(B_HEADERS, **{"App-code": "alice-42"}), 202),
        ("POST", b"y", dict(B_HEADERS, **{"Device-id": "tuned-phone", "App-code": "alice-42"}), 202),
        ("POST", b"z", dict(B_HEADERS, **{"Crayfis-version": "a v0.7", "App-code": "alice-42"}), 202),
    ]
    for method, body, headers, status in cases:
        answers = []
        for entry in ENTRY_POINTS:
            policy.clear()  # the first request of each entry point reloads the policy caches
            answers.append(entry(client, method, body, headers))
        assert answers[0][0] == status, (method, headers, answers[0])
        assert answers[1:] == answers[:1] * 2, (method, headers)
        assert answers[0][1] == "application/json"
    assert Upload.objects.count() == 3  # one row per accepted body, whichever entry point took it
    assert Upload.objects.get(device_id="tuned-phone").remote_addr == "127.0.0.1"


def test_ingest_wsgi_drops_an_aged_connection_after_submit(settings):
    """As Django's handler does after each request (CONN_MAX_AGE), so a database restart heals."""
    policy.clear()
    assert via_wsgi(None, "POST", b"first", B_HEADERS)[0] == 202  # policy cache loaded on this thread
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1
    assert via_wsgi(None, "POST", b"second", B_HEADERS)[0] == 202
    assert connection.connection is None

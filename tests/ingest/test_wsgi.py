"""ingest.wsgi: /submit answered before Django's handler, everything else (/precal.json too) by Django.

Transactional tests: Django's handler closes the thread's connection around each request (as in
production), and the rows are committed by the group-commit writer thread.
"""
from __future__ import annotations

import io
import json

import pytest

from ingest.models import Device, Upload
from ingest.wsgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def call(path: str, body: bytes = b"", method: str = "POST", **headers):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
               "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/octet-stream",
               "REMOTE_ADDR": "127.0.0.1"}
    environ.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    got = {}

    def start_response(status, hdrs):
        got["status"], got["headers"] = status, dict(hdrs)

    got["body"] = b"".join(application(environ, start_response))
    return got


def test_submit_statuses_through_the_fast_entry_point(settings):
    ok = call("/submit", b"\x0a\x00", device_id="abc", crayfis_version="b v1.0.4")
    assert ok["status"] == "202 Accepted" and json.loads(ok["body"]) == {}
    assert ok["headers"]["Content-Type"] == "application/json"
    assert ok["headers"]["Content-Length"] == str(len(ok["body"]))
    assert Upload.objects.get().device_id == "abc"
    assert call("/submit", b"x")["status"].startswith("400")
    settings.CRAYFIS_INGEST_MAX_BODY_BYTES = 4
    assert call("/submit", b"12345", device_id="abc")["status"].startswith("413")
    Device.objects.create(device_id="bad", blocked=True)
    assert call("/submit", b"1", device_id="bad")["status"].startswith("403")


def test_precal_and_other_paths(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    assert call("/precal.json", b'{"device_id": "a", "camera_id": 0, "res": "1x1"}')["status"].startswith("204")
    health = call("/healthz", method="GET")
    assert health["status"].split()[0] in ("200", "503")  # answered by Django's own stack
    assert b"database" in health["body"]

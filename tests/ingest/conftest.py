"""Helpers for the ingest tests: posting to /submit the way the app does."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest import policy

# The wire samples: the CRAYFIS project's reference DataChunks, kept with the wire tests.
SAMPLES = Path(__file__).resolve().parents[1] / "core" / "wire" / "data"

B_HEADERS = {"Device-id": "3f1a9c0b5e7d2468", "Run-id": "7f3c2a10-51d4-4e8b-9a6f-2b1c0d9e8f70",
             "Camera-id": "0", "Crayfis-version": "b v1.0.4", "Crayfis-version-code": "256"}


def wsgi_headers(headers: dict) -> dict:
    """Django test-client kwargs for HTTP headers."""
    return {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}


def post_submit(client, body: bytes, headers: dict | None = None):
    headers = dict(B_HEADERS if headers is None else headers)
    return client.post("/submit", data=body, content_type="application/octet-stream", **wsgi_headers(headers))


@pytest.fixture(autouse=True)
def _fresh_policy_cache():

    policy.clear()
    yield
    policy.clear()


@pytest.fixture
def samples(settings):
    """(body bytes, expected dict) per wire-sample file name.

    The samples date from 2016 to 2021, far outside the event-time window, so the window is
    opened as an operator replaying archives would open it (docs/ingest.md); the window itself
    is tested with data dated relative to now (tests/indexer/test_event_window.py).
    """
    settings.CRAYFIS_INGEST_MAX_EVENT_AGE_S = 20 * 365 * 86_400
    settings.CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD = 12
    expected = json.loads((SAMPLES / "expected.json").read_text())
    return {name: ((SAMPLES / name).read_bytes(), exp) for name, exp in expected.items()}

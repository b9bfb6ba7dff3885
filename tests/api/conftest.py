"""Fixtures for the API tests: a volunteer's registered device with its key, a scientist key,
fresh throttle counters and policy caches per test."""
from __future__ import annotations

import gzip
import json
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import caches

from accounts.keys import forget_keys
from accounts.services import new_scientist_key, register_device
from ingest import policy

T0 = 1_760_000_000_000   # 2025-10-09


@pytest.fixture(autouse=True)
def _own_archive(tmp_path, settings):
    """An empty hit archive per test (streams read sealed days from it): the default root is the
    checkout's var/archive, which other runs write into. A test that builds one sets its own."""
    settings.CRAYFIS_ARCHIVE_DIR = str(tmp_path / "api-archive")


@pytest.fixture(autouse=True)
def _fresh_caches():
    for cache in caches.all():
        cache.clear()
    policy.clear()
    forget_keys()
    yield
    policy.clear()
    forget_keys()


@pytest.fixture
def volunteer(django_user_model):
    return django_user_model.objects.create_user("vol", password="pw-vol-123456")


@pytest.fixture
def device(volunteer):
    """(registration, clear key) of a JSON API device."""
    return register_device(volunteer, "roof scintillator", "scintillator")


@pytest.fixture
def other_device(volunteer):
    return register_device(volunteer, "second detector", "camera")


@pytest.fixture
def scientist(django_user_model):
    """(user, clear read key) of an account holding accounts.read_exact_hits."""
    user = django_user_model.objects.create_user("sci", password="pw-sci-123456")
    user.user_permissions.add(Permission.objects.get(codename="read_exact_hits"))
    user = django_user_model.objects.get(pk=user.pk)   # fresh permission cache
    return user, new_scientist_key(user, "analysis")


def auth(key: str | None) -> dict:
    return {"HTTP_AUTHORIZATION": f"Api-Key {key}"} if key else {}


def upload_body(upload_id: str | None = None, n_hits: int = 3, t0: int = T0, lat: float = 46.2044,
                lon: float = 6.1432, **block_extra) -> dict:
    hits = [{"t_ms": t0 + 1000 * (i + 1), "amplitude": 100 + i} for i in range(n_hits)]
    block = {"start_ms": t0, "end_ms": t0 + 180_000, "location": {"lat": lat, "lon": lon, "accuracy": 10.0},
             "hits": hits, **block_extra}
    return {"upload_id": upload_id or str(uuid.uuid4()), "detector": {"kind": "scintillator"}, "blocks": [block]}


def post_upload(client, key: str | None, body, *, gzipped: bool = False, content_type: str = "application/json",
                **extra):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if gzipped:
        raw = gzip.compress(raw)
        extra["HTTP_CONTENT_ENCODING"] = "gzip"
    return client.generic("POST", "/api/v1/uploads", raw, content_type=content_type, **auth(key), **extra)

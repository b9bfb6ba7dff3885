"""Answers are cached a few seconds per (ES URL, prefix, endpoint, parameters)."""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.django_db


def test_repeated_polls_within_the_ttl_share_one_answer(client, dash, settings):
    settings.CRAYFIS_DASH_CACHE_S = 60
    first = client.get("/api/dash/overview").json()
    assert client.get("/api/dash/overview").json()["now_ms"] == first["now_ms"]
    assert client.get("/api/dash/overview")["Cache-Control"] == "max-age=60"


def test_no_cache_when_ttl_is_zero(client, dash, settings):
    settings.CRAYFIS_DASH_CACHE_S = 0
    first = client.get("/api/dash/overview").json()["now_ms"]
    time.sleep(0.01)
    assert client.get("/api/dash/overview").json()["now_ms"] > first


def test_another_prefix_gets_its_own_answer(client, dash, settings):
    settings.CRAYFIS_DASH_CACHE_S = 60
    assert client.get("/api/dash/overview").json()["hits_total"] == dash.n_hits
    settings.CRAYFIS_ES_PREFIX = dash.prefix + "-other"
    assert client.get("/api/dash/overview").json()["hits_total"] == 0

"""The bench-only DRF baseline: not routed in production (404); under the bench settings it
validates every event."""
from __future__ import annotations

import json

import pytest

from bench.drf_baseline import settings as bench_settings
from ingest.models import Upload

pytestmark = pytest.mark.django_db

EVENT = {"timestamp": 1795000000000, "gps_lat": 46.2, "gps_lon": 6.1, "avg": 1.2, "std": 0.8, "xbn": 3,
         "byte_block": {"x": [1], "y": [2], "val": [7] * 25, "side_length": 5}}


def post(client, payload):
    return client.post("/bench/baseline-submit", json.dumps(payload), content_type="application/json",
                       HTTP_DEVICE_ID="bench")


def test_baseline_is_not_routed_in_production(client):
    assert post(client, {"events": [EVENT]}).status_code == 404


def test_baseline_validates_each_event(client, settings):
    settings.ROOT_URLCONF = bench_settings.ROOT_URLCONF
    assert post(client, {"events": [EVENT, EVENT]}).status_code == 202
    assert Upload.objects.count() == 1
    bad = dict(EVENT, gps_lat=123.0)
    resp = post(client, {"events": [EVENT, bad]})
    assert resp.status_code == 400 and "gps_lat" in json.dumps(resp.json())

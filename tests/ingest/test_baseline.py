"""The bench-only DRF baseline: off (404) unless the setting enables it; validates every event."""
from __future__ import annotations

import json

import pytest

from ingest.models import Upload

pytestmark = pytest.mark.django_db

EVENT = {"timestamp": 1795000000000, "gps_lat": 46.2, "gps_lon": 6.1, "avg": 1.2, "std": 0.8, "xbn": 3,
         "byte_block": {"x": [1], "y": [2], "val": [7] * 25, "side_length": 5}}


def post(client, payload):
    return client.post("/bench/baseline-submit", json.dumps(payload), content_type="application/json",
                       HTTP_DEVICE_ID="bench")


def test_baseline_is_off_by_default(client, settings):
    settings.CRAYFIS_INGEST_BENCH_BASELINE = False
    assert post(client, {"events": [EVENT]}).status_code == 404


def test_baseline_validates_each_event(client, settings):
    settings.CRAYFIS_INGEST_BENCH_BASELINE = True
    assert post(client, {"events": [EVENT, EVENT]}).status_code == 202
    assert Upload.objects.count() == 1
    bad = dict(EVENT, gps_lat=123.0)
    resp = post(client, {"events": [EVENT, bad]})
    assert resp.status_code == 400 and "gps_lat" in json.dumps(resp.json())

"""The demo's status line: uploads from the raw store, hits and candidates from the real node."""
import pytest

from ops.management.commands.demo import status_line


@pytest.mark.django_db
def test_status_line_counts_uploads_hits_and_candidates(client, es_prefix, settings):
    settings.CRAYFIS_DASH_CACHE_S = 0
    assert status_line() == "uploads 0 (0 pending, lag 0 s) | hits indexed 0 | candidates 0"
    resp = client.post("/submit", data=b"\x0a\x00", content_type="application/octet-stream",
                       HTTP_DEVICE_ID="3f1a9c0b5e7d2468", HTTP_CRAYFIS_VERSION="b v1.0.4")
    assert resp.status_code == 202
    assert status_line().startswith("uploads 1 (1 pending, lag ")


@pytest.mark.django_db
def test_status_line_says_when_elasticsearch_is_down(settings):
    settings.CRAYFIS_ES_URL = "http://127.0.0.1:9"
    settings.CRAYFIS_DASH_CACHE_S = 0
    line = status_line()
    assert line.startswith("uploads 0 (0 pending") and "hits indexed ? | candidates ? (" in line

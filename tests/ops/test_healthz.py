"""GET /healthz reports the database and the real Elasticsearch node."""
import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_ok_with_real_node(client, es_url):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["elasticsearch"]["status"] in ("green", "yellow")


@pytest.mark.django_db
def test_healthz_503_when_elasticsearch_unreachable(client):
    # A port where nothing listens: the view must say so, not hang or 500.
    with override_settings(CRAYFIS_ES_URL="http://127.0.0.1:9"):
        resp = client.get("/healthz")
    assert resp.status_code == 503
    body = resp.json()
    assert body["elasticsearch"]["ok"] is False
    assert body["database"]["ok"] is True


def test_healthz_rejects_post(client):
    assert client.post("/healthz").status_code == 405

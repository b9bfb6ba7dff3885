"""The pages render their first data server-side, 404 where nothing exists, and survive ES down."""
from __future__ import annotations

import json
import re

import pytest
from django.core.cache import cache
from django.test import override_settings

pytestmark = pytest.mark.django_db

DEAD_ES = "http://127.0.0.1:9"  # nothing listens there


def _initial(resp) -> dict:
    match = re.search(rb'<script id="dash-initial" type="application/json">(.*?)</script>', resp.content, re.S)
    assert match, "page embeds its first data"
    return json.loads(match.group(1))


def _banner_shown(resp) -> bool:
    tag = re.search(rb'<div id="es-banner"[^>]*>', resp.content).group(0)
    return b"hidden" not in tag


def test_home_shows_the_live_numbers(client, dash):
    resp = client.get("/")
    assert resp.status_code == 200
    data = _initial(resp)
    assert data["overview"]["hits_total"] == dash.n_hits
    assert f'id="ov-active10">{len(dash.raw_ids)}<'.encode() in resp.content
    assert data["map"]["tiles"] and data["rates"]["total_hits"] > 0
    assert b"dashboards/vendor/plotly.min.js" in resp.content
    assert not _banner_shown(resp)
    for cand in dash.candidates:  # the latest candidates table, server-rendered
        assert f'/candidates/{cand["candidate_id"]}/'.encode() in resp.content


def test_candidate_pages(client, dash):
    listing = client.get("/candidates/")
    assert listing.status_code == 200
    assert dash.retracted_id.encode() not in listing.content
    cand = dash.candidates[-1]
    detail = client.get(f"/candidates/{cand['candidate_id']}/")
    assert detail.status_code == 200
    # members are not public (docs/security.md): the page names and links none of them
    assert not [dev for dev in cand["devices"] if dev.encode() in detail.content]
    assert client.get(f"/candidates/{dash.hidden['candidate_id']}/").status_code == 404
    missing = client.get("/candidates/nope/")
    assert missing.status_code == 404 and b"No such candidate" in missing.content


def test_device_page_and_leaderboard(client, dash):
    dev = dash.candidates[0]["devices"][0]
    page = client.get(f"/device/{dev}/")
    assert page.status_code == 200
    assert _initial(page)["device"]["hits_total"] == dash.hits_by_device[dev]
    assert client.get("/device/dffffffffffffffff/").status_code == 404
    lb = client.get("/leaderboard/")
    assert lb.status_code == 200
    assert b"candidates joined per 100 hours of exposure" in lb.content
    ranked = _initial(lb)["leaderboard"]["ranked"]
    assert ranked and f'/device/{ranked[0]["device"]}/'.encode() in lb.content


def test_empty_network_says_no_data_yet(client, es_prefix):
    cache.clear()
    resp = client.get("/")
    assert resp.status_code == 200
    assert _initial(resp)["overview"]["hits_total"] == 0
    for empty in (b'id="map-empty">', b'id="rates-empty">', b'id="latest-empty">'):
        assert empty in resp.content  # the 'no data yet' notes are shown (no hidden attribute)
    assert client.get("/leaderboard/").status_code == 200
    assert b'id="lb-empty">' in client.get("/leaderboard/").content


@pytest.mark.parametrize("url", ["/", "/candidates/", "/candidates/c1/", "/device/d0123456789abcdef/",
                                 "/leaderboard/"])
def test_pages_render_with_a_banner_when_es_is_down(client, url):
    cache.clear()
    with override_settings(CRAYFIS_ES_URL=DEAD_ES):
        resp = client.get(url)
    assert resp.status_code == 200
    assert _banner_shown(resp)
    assert _initial(resp)["status"]["elasticsearch"]["ok"] is False


@pytest.mark.parametrize("url", ["/api/dash/overview", "/api/dash/rates", "/api/dash/map",
                                 "/api/dash/candidates", "/api/dash/candidates/c1",
                                 "/api/dash/device/d0123456789abcdef", "/api/dash/leaderboard"])
def test_endpoints_answer_503_when_es_is_down(client, url):
    cache.clear()
    with override_settings(CRAYFIS_ES_URL=DEAD_ES):
        resp = client.get(url)
    assert resp.status_code == 503
    assert resp.json()["elasticsearch"] is False


def test_status_endpoint_reports_es_down(client):
    cache.clear()
    with override_settings(CRAYFIS_ES_URL=DEAD_ES):
        body = client.get("/api/dash/status").json()
    assert body["elasticsearch"]["ok"] is False and body["search"] is None


def test_retracted_candidate_says_where_it_went(client, dash):
    resp = client.get(f"/candidates/{dash.retracted_id}/")
    assert resp.status_code == 200
    assert b">retracted<" in resp.content
    assert f'merged into <a href="/candidates/{dash.candidates[0]["candidate_id"]}/"'.encode() in resp.content

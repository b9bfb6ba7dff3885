"""Finding 2, forged showers and alerts: anything posted to /submit (or the JSON API) can become a
public candidate and fire alerts; a missing App-code passes enforcement; /submit has no rate limit.

Trust model (docs/security.md): a candidate is public (dashboards, anonymous API, alerts) only if
it holds at least k trusted devices; untrusted devices stay stored, indexed and searchable by
scientists. Trust is earned by operator approval or by history counted in *receive* days, so a
history an attacker back-dates inside one afternoon earns nothing.
"""
from __future__ import annotations

import json
import uuid

import pytest
from django.core import mail

from accounts import services
from search.models import Alert
from tests.security.actors import (
    CELL_LAT,
    CELL_LON,
    DAY_MS,
    HOUR_MS,
    chunk,
    get_json,
    index_uploads,
    missing,
    north_of,
    now_ms,
    page_data,
    phone_posts,
    post_submit,
    search_pass,
)
from tests.security.conftest import key_auth

pytestmark = [pytest.mark.security, pytest.mark.django_db(transaction=True)]

HISTORY_DAYS = 29   # inside the 30-day event window, so none of it is quarantined


def _forged_history(t_shower: int, i: int) -> list[list[tuple[int, float, float]]]:
    """One exposure block per past day (one hit each, all in one public cell), then the shower."""
    lat = north_of(CELL_LAT, 20.0 * i)
    days = [[(t_shower - d * DAY_MS + 7_919 * i, lat, CELL_LON)] for d in range(HISTORY_DAYS, 0, -1)]
    return days + [[(t_shower + i, lat, CELL_LON)]]


def _forge_through_submit(client, user, k: int, t_shower: int) -> None:
    code = services.issue_app_code(user).code
    for i in range(k):
        phone_posts(client, f"f0f0{i:012x}", _forged_history(t_shower, i), app_code=code,
                    remote_addr=f"198.51.100.{10 + i}")


def _forge_through_json_api(client, user, k: int, t_shower: int) -> None:
    for i in range(k):
        _, key = services.register_device(user, f"forged {i}", "camera")
        blocks = [{"start_ms": hits[0][0] - 1000, "end_ms": hits[0][0] + 1000,
                   "location": {"lat": hits[0][1], "lon": hits[0][2], "accuracy": 5.0},
                   "hits": [{"t_ms": t, "amplitude": 200} for t, _, _ in hits]}
                  for hits in _forged_history(t_shower, i)]
        body = {"upload_id": str(uuid.uuid4()), "detector": {"kind": "camera"}, "blocks": blocks}
        client.generic("POST", "/api/v1/uploads", json.dumps(body).encode(), content_type="application/json",
                       REMOTE_ADDR=f"198.51.100.{40 + i}", **key_auth(key))


@pytest.mark.parametrize("door", ["submit", "json_api"])
def test_forged_devices_alone_never_make_a_public_candidate_or_an_alert(
        client, es, es_prefix, settings, django_user_model, scientist, door):
    """Attack: the attacker signs up, pairs k invented phones to his account (App-code on
    /submit, or k registered JSON-API detectors), back-dates a month of daily history for each
    (all received this afternoon), then posts a shower: k phones within metres and milliseconds.

    Property: k untrusted devices never make a public candidate (anonymous API, dashboards JSON,
    candidate page) nor an alert (no Alert row queued, no e-mail), while a scientist's key still
    finds the candidate, with zero trusted members.

    Fails on main at 8e37016: the forged candidate is listed to anonymous readers by
    /api/v1/candidates and /api/dash/candidates, counted by the overview and the network stats,
    and announced (an Alert row and an e-mail).
    """
    settings.CRAYFIS_ALERT_FAR_PER_YEAR = 1e300          # any candidate with a finite score alerts
    settings.CRAYFIS_ALERT_EMAILS = ["ops@example.org"]
    settings.CRAYFIS_ALERT_WEBHOOK_URL = ""
    k = settings.CRAYFIS_SEARCH_MIN_DEVICES
    mallory = django_user_model.objects.create_user("mallory", password="Forged-Showers-2026")
    t_shower = now_ms() - 2 * HOUR_MS
    (_forge_through_submit if door == "submit" else _forge_through_json_api)(client, mallory, k, t_shower)
    index_uploads()
    search_pass()

    span = f"from_ms={t_shower - HOUR_MS}&to_ms={t_shower + HOUR_MS}"
    status, keyed = get_json(client, f"/api/v1/candidates?{span}", **key_auth(scientist[1]))
    assert status == 200
    found = [c for c in keyed["results"] if c["n_devices"] >= k]
    assert found, "the continuous search must still find the forged shower for scientists"
    cid = found[0]["candidate_id"]

    _, anon = get_json(client, f"/api/v1/candidates?{span}")
    _, dash = get_json(client, "/api/dash/candidates")
    _, overview = get_json(client, "/api/dash/overview")
    _, stats = get_json(client, f"/api/v1/network/stats?{span}")
    detail_status, _ = get_json(client, f"/api/dash/candidates/{cid}")
    page_status, _ = page_data(client, f"/candidates/{cid}/")
    public = {"api_v1": [c["candidate_id"] for c in anon["results"]],
              "dash_list": [c["candidate_id"] for c in dash["candidates"]],
              "dash_total": dash["total"], "overview_total": overview["candidates_total"],
              "network_stats": stats["candidates"], "dash_detail_status": detail_status,
              "page_status": page_status}
    assert public == {"api_v1": [], "dash_list": [], "dash_total": 0, "overview_total": 0,
                      "network_stats": 0, "dash_detail_status": 404, "page_status": 404}, \
        f"k={k} forged devices made a public candidate: {public}"
    assert not Alert.objects.exists() and not mail.outbox, "k forged devices fired an alert"
    assert found[0].get("n_trusted_devices") == 0, \
        "scientists see how many members are trusted (n_trusted_devices)"


@pytest.mark.parametrize("entry", ["django", "asgi"])
def test_missing_app_code_is_refused_when_codes_are_enforced(client, settings, entry):
    """Attack: with CRAYFIS_INGEST_ENFORCE_APP_CODES on, the attacker simply leaves the App-code
    header out (only an *unknown* code was refused).

    Property: with enforcement on, an upload without an App-code is refused like an unknown one
    (401, nothing stored), through the Django view and through ingest.asgi alike.

    Fails on main at 8e37016: both entry points answer 202 and store the upload.
    """
    from ingest.models import AppCode, Upload
    from tests.security.asgi_client import asgi_post

    settings.CRAYFIS_INGEST_ENFORCE_APP_CODES = True
    body, headers = chunk("0a0b0c0d0e0f1011", [[(now_ms() - HOUR_MS, CELL_LAT, CELL_LON)]])
    assert "App-code" not in headers
    if entry == "django":
        status = post_submit(client, body, headers).status_code
    else:
        status = asgi_post("/submit", body, headers)[0]
    assert status == 401, f"an upload without App-code got {status} with enforcement on"
    assert not Upload.objects.exists()
    AppCode.objects.create(code="known-code-42")
    headers["App-code"] = "known-code-42"
    body += b"\x00"   # another body: not a resend of the refused one
    if entry == "django":
        known = post_submit(client, body, headers).status_code
    else:
        known = asgi_post("/submit", body, headers)[0]
    assert known == 202, "a known App-code must still be accepted"


def test_submit_is_rate_limited_per_device_with_retry_after(client, settings):
    """Attack: one invented Device-id floods /submit with distinct bodies (every one is stored
    and indexed: disk, index and search load at the attacker's pace).

    Property: past CRAYFIS_INGEST_RATE_PER_DEVICE ("N/period", as DRF rates) further uploads
    from that Device-id are answered 429 with a Retry-After header and not stored; the app keeps
    its file and resends at its next flush, so nothing is lost. Another device is unaffected.

    Fails on main at 8e37016: every upload is answered 202 and stored.
    """
    from ingest.models import Upload

    note = missing("CRAYFIS_INGEST_RATE_PER_DEVICE")
    settings.CRAYFIS_INGEST_RATE_PER_DEVICE = "3/min"
    t0 = now_ms() - HOUR_MS
    answers = [post_submit(client, *chunk("0badc0de00000001", [[(t0 + i, CELL_LAT, CELL_LON)]]),
                           remote_addr=f"203.0.113.{i}") for i in range(5)]
    statuses = [r.status_code for r in answers]
    assert statuses == [202, 202, 202, 429, 429], f"per-device limit not applied: {statuses}{note}"
    assert all(int(r["Retry-After"]) > 0 for r in answers[3:])
    assert Upload.objects.filter(device_id="0badc0de00000001").count() == 3
    other = post_submit(client, *chunk("0badc0de00000002", [[(t0, CELL_LAT, CELL_LON)]]), remote_addr="203.0.113.99")
    assert other.status_code == 202


def test_submit_is_rate_limited_per_client_address(client, settings):
    """Attack: one client invents a new Device-id for every upload (the per-device limit never
    bites).

    Property: past CRAYFIS_INGEST_RATE_PER_IP uploads from one client address are answered 429
    with Retry-After and not stored; another address is unaffected.

    Fails on main at 8e37016: every upload is answered 202 and stored.
    """
    from ingest.models import Upload

    note = missing("CRAYFIS_INGEST_RATE_PER_IP")
    settings.CRAYFIS_INGEST_RATE_PER_IP = "3/min"
    t0 = now_ms() - HOUR_MS
    answers = [post_submit(client, *chunk(f"0badbeef{i:08x}", [[(t0, CELL_LAT, CELL_LON)]]),
                           remote_addr="203.0.113.7") for i in range(5)]
    statuses = [r.status_code for r in answers]
    assert statuses == [202, 202, 202, 429, 429], f"per-address limit not applied: {statuses}{note}"
    assert all(int(r["Retry-After"]) > 0 for r in answers[3:])
    assert Upload.objects.count() == 3
    assert post_submit(client, *chunk("0badbeefffffffff", [[(t0, CELL_LAT, CELL_LON)]]),
                       remote_addr="203.0.113.8").status_code == 202


def test_json_uploads_are_rate_limited_per_client_address(client, settings, django_user_model):
    """Attack: one client registers many JSON-API detectors (sign-ups and registrations cost
    nothing) and spreads a flood over their keys, so the per-device limit never bites.

    Property: past CRAYFIS_API_UPLOAD_RATE_PER_IP uploads from one client address,
    /api/v1/uploads answers 429 with Retry-After and stores nothing more.

    Fails on main at 8e37016: every upload is answered 202.
    """
    note = missing("CRAYFIS_API_UPLOAD_RATE_PER_IP")
    settings.CRAYFIS_API_UPLOAD_RATE_PER_IP = "3/min"
    user = django_user_model.objects.create_user("flooder", password="Flooding-Uploads-2026")
    t0 = now_ms() - HOUR_MS
    statuses = []
    for i in range(5):
        _, key = services.register_device(user, f"detector {i}", "camera")
        body = {"upload_id": str(uuid.uuid4()), "detector": {"kind": "camera"},
                "blocks": [{"start_ms": t0, "end_ms": t0 + 1000, "location": {"lat": CELL_LAT, "lon": CELL_LON},
                            "hits": [{"t_ms": t0 + 1, "amplitude": 100}]}]}
        resp = client.generic("POST", "/api/v1/uploads", json.dumps(body).encode(), content_type="application/json",
                              REMOTE_ADDR="203.0.113.50", **key_auth(key))
        statuses.append(resp.status_code)
        if resp.status_code == 429:
            assert int(resp["Retry-After"]) > 0
    assert statuses == [202, 202, 202, 429, 429], f"per-address limit not applied: {statuses}{note}"

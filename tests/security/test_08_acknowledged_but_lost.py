"""Finding 8, acknowledged but lost (or doubled): a 2xx promises the data is kept, exactly once.

- Under `ingest.wsgi` a chunked /submit (no Content-Length) is read as 0 bytes and answered 202.
- Protobuf events of one exposure block with the same t_ms and no t_nano get one document id,
  so all but one are dropped.
- A JSON upload resent under a new upload_id (no run_id) is indexed twice.
- An empty /submit body is acknowledged and "indexed" with nothing in it.
"""
from __future__ import annotations

import http.client
import json
import uuid

import pytest
from django.db import connection

from ingest.models import Upload
from tests.security.actors import (
    CELL_LAT,
    CELL_LON,
    HOUR_MS,
    chunk,
    event,
    index_uploads,
    now_ms,
    post_submit,
    public_name,
)
from tests.security.asgi_client import asgi_post
from tests.security.conftest import key_auth
from tests.security.servers import Gunicorn

pytestmark = [pytest.mark.security, pytest.mark.django_db(transaction=True)]

PHONE = "c4a11ed000000008"


def _post_chunked(url_port: int, body: bytes, headers: dict, piece: int = 1000) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=20)
    try:
        pieces = (body[i:i + piece] for i in range(0, len(body), piece))
        conn.request("POST", "/submit", body=pieces, headers={**headers, "Content-Type": "application/octet-stream"},
                     encode_chunked=True)
        return conn.getresponse().status
    finally:
        conn.close()


ENTRY_POINTS = [("ingest.wsgi:application", "gthread"), ("ingest.asgi:application", "asgi")]


@pytest.mark.sqlite   # its gunicorn opens the test database as a SQLite file (tests/security/servers.py)
def test_a_chunked_submit_is_stored_whole_or_refused(tmp_path):
    """Attack (or a proxy that re-chunks): POST /submit with Transfer-Encoding: chunked and no
    Content-Length, through a real gunicorn serving each production entry point (ingest.wsgi on
    gthread workers, ingest.asgi on the asgi worker).

    Property: a chunked body under CRAYFIS_INGEST_MAX_BODY_BYTES is either stored whole (the
    stored bytes equal the sent ones) or refused with 411 and nothing stored; one over the cap is
    refused (411 or 413), never stored cut short.

    Fails on main at 8e37016: under ingest.wsgi the body is read as 0 bytes, answered 202 and
    stored empty (ingest.asgi reads it whole).
    """
    body, headers = chunk(PHONE, [[(now_ms() - HOUR_MS + i, CELL_LAT, CELL_LON) for i in range(40)]])
    assert len(body) > 3000
    database = connection.settings_dict["NAME"]
    outcome = {}
    for n, (app, worker) in enumerate(ENTRY_POINTS):
        phone = f"{PHONE}{n}"
        with Gunicorn(app, worker, database, tmp_path, CRAYFIS_INGEST_MAX_BODY_BYTES=str(len(body) + 100)) as server:
            status = _post_chunked(server.port, body, dict(headers, **{"Device-id": phone}))
            status_big = _post_chunked(server.port, body + b"\x00" * 200, dict(headers, **{"Device-id": phone + "b"}))
        stored = [bytes(u.body) for u in Upload.objects.filter(device_id=phone)]
        whole_or_refused = stored == [body] if status == 202 else (status, stored) == (411, [])
        big_refused = status_big in (411, 413) and not Upload.objects.filter(device_id=phone + "b").exists()
        outcome[app] = {"status": status, "stored_bytes": [len(x) for x in stored], "ok": whole_or_refused,
                        "over_cap_status": status_big, "over_cap_ok": big_refused}
    assert all(o["ok"] and o["over_cap_ok"] for o in outcome.values()), \
        f"chunked /submit of {len(body)} bytes: {outcome}"


@pytest.mark.parametrize("entry", ["django", "asgi"])
def test_an_empty_submit_is_400_and_stores_nothing(client, entry):
    """Attack: POST /submit with an empty body (Content-Length: 0).

    Property: 400, nothing stored (the app never sends an empty body, so a 4xx cannot make it
    resend forever).

    Fails on main at 8e37016: 202, an empty upload is stored (and later counted as indexed).
    """
    _, headers = chunk(PHONE, [[(now_ms() - HOUR_MS, CELL_LAT, CELL_LON)]])
    if entry == "django":
        status = post_submit(client, b"", headers).status_code
    else:
        status = asgi_post("/submit", b"", headers)[0]
    assert (status, Upload.objects.count()) == (400, 0), (status, Upload.objects.count())


def _hits_of(es, prefix: str, device_id: str) -> int:
    es.indices.refresh(index=f"{prefix}-hits-*", ignore_unavailable=True, allow_no_indices=True)
    return es.count(index=f"{prefix}-hits-*", ignore_unavailable=True, allow_no_indices=True,
                    query={"term": {"device": public_name(device_id)}})["count"]


def test_events_with_the_same_millisecond_stay_distinct(client, es, es_prefix):
    """Attack (or a fast phone): three events of one exposure block share t_ms and carry no
    t_nano (older clients, or a forged chunk); their pixels differ.

    Property: all three are indexed as three hits, and indexing the upload again (a requeue)
    adds none (the ids stay deterministic).

    Fails on main at 8e37016: the three get one document id, so one hit is indexed and two are
    silently dropped.
    """
    t = now_ms() - HOUR_MS
    events = [event(t, CELL_LAT, CELL_LON, xbn=1, with_nano=False, pixel=(10 * i, 10 * i)) for i in (1, 2, 3)]
    assert post_submit(client, *chunk(PHONE, [events])).status_code == 202
    index_uploads()
    first = _hits_of(es, es_prefix, PHONE)
    Upload.objects.update(status="pending", claim_owner=None, claim_until_ms=None)
    index_uploads()
    assert (first, _hits_of(es, es_prefix, PHONE)) == (3, 3), "events sharing a millisecond were merged or doubled"


def test_a_json_resend_under_a_new_upload_id_adds_no_hit(client, es, es_prefix, django_user_model):
    """Attack (or a client that lost the reply and made a new upload_id): the same blocks and
    hits, without run_id, posted twice under two upload_ids.

    Property: the hits are in the index once.

    Fails on main at 8e37016: the run UUID is derived from upload_id, so the resend's hits get
    new ids and every hit is indexed twice.
    """
    from accounts.services import register_device

    user = django_user_model.objects.create_user("pi-owner", password="Raspberry-Pi-Owner-2026")
    reg, key = register_device(user, "roof camera", "camera")
    t0 = now_ms() - HOUR_MS
    block = {"start_ms": t0, "end_ms": t0 + 60_000, "location": {"lat": CELL_LAT, "lon": CELL_LON, "accuracy": 5.0},
             "hits": [{"t_ms": t0 + 1000 * i, "amplitude": 100 + i} for i in range(4)]}
    for _ in range(2):
        body = {"upload_id": str(uuid.uuid4()), "detector": {"kind": "camera"}, "blocks": [block]}
        resp = client.generic("POST", "/api/v1/uploads", json.dumps(body).encode(), content_type="application/json",
                              **key_auth(key))
        assert resp.status_code == 202
    index_uploads()
    assert _hits_of(es, es_prefix, reg.device.device_id) == 4, "a resend under a new upload_id doubled the hits"

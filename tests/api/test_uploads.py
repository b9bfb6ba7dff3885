"""POST /api/v1/uploads: stored raw in ingest's store, idempotent on upload_id, clear errors."""
from __future__ import annotations

import gzip
import hashlib
import json
import uuid

import pytest

from crayfis.wire.jsonapi import FORMAT
from ingest.models import Device, Upload
from tests.api.conftest import T0, post_upload, upload_body

pytestmark = pytest.mark.django_db


def test_valid_upload_is_stored_raw_with_format_marker(client, device):
    reg, key = device
    body = upload_body(n_hits=5)
    resp = post_upload(client, key, body)
    assert resp.status_code == 202, resp.content
    assert resp.json() == {"upload_id": body["upload_id"], "status": "accepted", "blocks": 1, "hits": 5}
    (row,) = Upload.objects.all()
    raw = json.dumps(body).encode()
    assert (row.device_id, row.payload_format, row.client_upload_id) == (
        reg.device.device_id, FORMAT, body["upload_id"])
    assert bytes(row.body) == raw and row.sha256 == hashlib.sha256(raw).hexdigest() and row.status == "pending"


def test_gzip_body_is_stored_decompressed(client, device):
    body = upload_body()
    resp = post_upload(client, device[1], body, gzipped=True)
    assert resp.status_code == 202, resp.content
    assert bytes(Upload.objects.get().body) == json.dumps(body).encode()


def test_retry_same_id_same_body_gets_same_answer_and_stores_nothing(client, device):
    body = upload_body()
    first = post_upload(client, device[1], body)
    again = post_upload(client, device[1], body, gzipped=True)      # same JSON, other transfer encoding
    assert first.status_code == again.status_code == 202
    assert first.content == again.content
    assert Upload.objects.count() == 1


def test_same_id_different_body_is_409_and_stores_nothing(client, device):
    body = upload_body()
    assert post_upload(client, device[1], body).status_code == 202
    changed = upload_body(upload_id=body["upload_id"], n_hits=4)
    resp = post_upload(client, device[1], changed)
    assert resp.status_code == 409 and body["upload_id"] in resp.json()["detail"]
    assert Upload.objects.count() == 1 and bytes(Upload.objects.get().body) == json.dumps(body).encode()


def test_upload_ids_are_scoped_per_device(client, device, other_device):
    body = upload_body()
    assert post_upload(client, device[1], body).status_code == 202
    assert post_upload(client, other_device[1], body).status_code == 202
    assert Upload.objects.count() == 2


def test_400_names_each_bad_field_and_its_index(client, device):
    body = upload_body(n_hits=3)
    body["blocks"][0]["hits"][1]["t_ms"] = "soon"
    body["blocks"][0]["hits"][2]["location"] = {"lat": 123.0, "lon": 0.0}
    body["blocks"].append({"start_ms": T0, "hits": []})
    resp = post_upload(client, device[1], body)
    assert resp.status_code == 400
    data = resp.json()
    got = {(e["loc"], e["field"], e["block"], e["hit"]) for e in data["errors"]}
    assert got == {("$.blocks[0].hits[1].t_ms", "t_ms", 0, 1),
                   ("$.blocks[0].hits[2].location.lat", "lat", 0, 2),
                   ("$.blocks[1].end_ms", "end_ms", 1, None)}
    assert data["detail"] == "3 invalid field(s)"
    assert Upload.objects.count() == 0


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"upload_id": 5}'])
def test_malformed_bodies_are_400(client, device, raw):
    resp = post_upload(client, device[1], raw)
    assert resp.status_code == 400 and resp.json()["errors"]
    assert Upload.objects.count() == 0


def test_hit_and_block_caps_are_400(client, device, settings):
    settings.CRAYFIS_API_MAX_HITS = 4
    resp = post_upload(client, device[1], upload_body(n_hits=5))
    assert resp.status_code == 400 and "more than 4" in resp.json()["errors"][0]["message"]


def test_body_over_cap_is_413_before_decoding(client, device, settings):
    settings.CRAYFIS_API_MAX_BODY_BYTES = 2000
    resp = post_upload(client, device[1], upload_body(n_hits=60))
    assert resp.status_code == 413
    assert Upload.objects.count() == 0


def test_gzip_bomb_is_413(client, device, settings):
    settings.CRAYFIS_API_MAX_JSON_BYTES = 50_000
    bomb = b'{"upload_id": "' + b" " * 10_000_000 + b'"}'
    raw = gzip.compress(bomb)
    assert len(raw) < settings.CRAYFIS_API_MAX_BODY_BYTES
    resp = post_upload(client, device[1], raw, HTTP_CONTENT_ENCODING="gzip")
    assert resp.status_code == 413


def test_broken_gzip_is_400(client, device):
    resp = post_upload(client, device[1], b"\x1f\x8b\x08\x00garbage", HTTP_CONTENT_ENCODING="gzip")
    assert resp.status_code == 400


def test_unsupported_encoding_and_type_are_415(client, device):
    assert post_upload(client, device[1], upload_body(), HTTP_CONTENT_ENCODING="br").status_code == 415
    assert post_upload(client, device[1], upload_body(), content_type="text/plain").status_code == 415


def test_blocked_device_is_403(client, device):
    Device.objects.filter(pk=device[0].device.pk).update(blocked=True)
    resp = post_upload(client, device[1], upload_body())
    assert resp.status_code == 403 and resp.json()["detail"] == "device blocked"
    assert Upload.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_idempotency_through_the_group_commit_writer(client, device):
    """Outside a test transaction uploads go through the writer thread: a retry is skipped by the
    (device, sha256) rule, a reused id with another body fails the (device, upload_id) constraint."""
    body = upload_body()
    first = post_upload(client, device[1], body)
    again = post_upload(client, device[1], body)
    other = post_upload(client, device[1], upload_body(upload_id=body["upload_id"], n_hits=1))
    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 409)
    assert first.content == again.content
    assert Upload.objects.count() == 1


def test_answer_depends_on_body_only(client, device):
    uid = str(uuid.uuid4())
    a = post_upload(client, device[1], upload_body(upload_id=uid, n_hits=2)).json()
    assert a == {"upload_id": uid, "status": "accepted", "blocks": 1, "hits": 2}

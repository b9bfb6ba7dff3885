"""POST /submit: every header and status path, dedup, and the reply's server commands."""
from __future__ import annotations

import hashlib
import json

import pytest

from ingest.models import AppCode, Device, Upload
from tests.ingest.conftest import B_HEADERS, post_submit

pytestmark = pytest.mark.django_db

BODY = b"\x12\x04\x10\x01\x18\x02"  # any bytes: /submit does not decode


def test_accepts_and_records_every_header(client):
    headers = dict(B_HEADERS, **{"App-code": "", "Hash-code": "q1w2e3==\n"})
    resp = post_submit(client, BODY, headers)
    assert resp.status_code == 202
    assert resp["Content-Type"] == "application/json"
    assert json.loads(resp.content) == {}
    row = Upload.objects.get()
    assert bytes(row.body) == BODY
    assert row.size == len(BODY)
    assert row.sha256 == hashlib.sha256(BODY).hexdigest()
    assert (row.device_id, row.run_id, row.camera_id) == ("3f1a9c0b5e7d2468", B_HEADERS["Run-id"], "0")
    assert (row.crayfis_version, row.crayfis_version_code) == ("b v1.0.4", "256")
    assert row.hash_code == "q1w2e3=="
    assert row.app_code == "" and row.unlinked is False
    assert row.remote_addr == "127.0.0.1"
    assert row.status == "pending"
    assert row.received_at is not None


def test_same_body_five_times_is_one_row_and_always_202(client):
    for _ in range(5):
        resp = post_submit(client, BODY)
        assert resp.status_code == 202 and json.loads(resp.content) == {}
    assert Upload.objects.count() == 1


def test_same_body_from_another_device_is_another_upload(client):
    post_submit(client, BODY)
    post_submit(client, BODY, dict(B_HEADERS, **{"Device-id": "abc"}))
    assert Upload.objects.count() == 2


def test_missing_device_id_is_400_json(client):
    headers = {k: v for k, v in B_HEADERS.items() if k != "Device-id"}
    resp = post_submit(client, BODY, headers)
    assert resp.status_code == 400
    assert "Device-id" in json.loads(resp.content)["error"]
    assert not Upload.objects.exists()


def test_blank_device_id_is_400(client):
    resp = post_submit(client, BODY, dict(B_HEADERS, **{"Device-id": "  "}))
    assert resp.status_code == 400


def test_body_over_the_cap_is_413(client, settings):
    settings.CRAYFIS_INGEST_MAX_BODY_BYTES = 1000
    assert post_submit(client, b"\x00" * 1000).status_code == 202
    resp = post_submit(client, b"\x00" * 1001)
    assert resp.status_code == 413
    assert "error" in json.loads(resp.content)
    assert Upload.objects.count() == 1


def test_default_cap_takes_a_one_megabyte_body(client):
    assert post_submit(client, b"\x00" * 1_000_000).status_code == 202


def test_blocked_device_is_403_and_nothing_stored(client):
    Device.objects.create(device_id=B_HEADERS["Device-id"], blocked=True)
    resp = post_submit(client, BODY)
    assert resp.status_code == 403
    assert json.loads(resp.content)["error"]
    assert not Upload.objects.exists()


def test_unknown_app_code_is_flagged_when_not_enforced(client, settings):
    settings.CRAYFIS_INGEST_ENFORCE_APP_CODES = False
    resp = post_submit(client, BODY, dict(B_HEADERS, **{"App-code": "nobody"}))
    assert resp.status_code == 202
    row = Upload.objects.get()
    assert row.app_code == "nobody" and row.unlinked is True


def test_unknown_app_code_is_401_when_enforced(client, settings):
    settings.CRAYFIS_INGEST_ENFORCE_APP_CODES = True
    resp = post_submit(client, BODY, dict(B_HEADERS, **{"App-code": "nobody"}))
    assert resp.status_code == 401
    assert not Upload.objects.exists()


def test_known_app_code_is_linked_even_when_enforced(client, settings):
    settings.CRAYFIS_INGEST_ENFORCE_APP_CODES = True
    AppCode.objects.create(code="alice-42")
    resp = post_submit(client, BODY, dict(B_HEADERS, **{"App-code": "alice-42"}))
    assert resp.status_code == 202
    assert Upload.objects.get().unlinked is False


def test_inactive_app_code_counts_as_unknown(client, settings):
    settings.CRAYFIS_INGEST_ENFORCE_APP_CODES = True
    AppCode.objects.create(code="old", active=False)
    assert post_submit(client, BODY, dict(B_HEADERS, **{"App-code": "old"})).status_code == 401


def test_garbage_body_is_stored_and_answered_202_empty(client):
    resp = post_submit(client, b"\xff\xff\xff not a protobuf")
    assert resp.status_code == 202 and json.loads(resp.content) == {}
    assert Upload.objects.get().status == "pending"  # the indexer quarantines it


def test_get_is_405(client):
    assert client.get("/submit").status_code == 405


def test_exact_path_without_redirect(client):
    assert post_submit(client, BODY).status_code == 202
    resp = client.post("/submit/", data=BODY, content_type="application/octet-stream")
    assert resp.status_code == 404


def _overrides(**kw):
    Device.objects.create(device_id=B_HEADERS["Device-id"], **kw)


def test_overrides_become_v1_commands(client):
    _overrides(l1_target_epm=20, l1_thresh=11.5, l1_trig_lock=True, xb_period_s=120)
    reply = json.loads(post_submit(client, BODY).content)
    assert reply == {"set_L1_trig": {"target_epm": 20.0, "l1thresh": 11.5, "trig_lock": True},
                     "set_xb_period": 120}
    assert isinstance(reply["set_L1_trig"]["l1thresh"], float)


def test_v011_gets_an_integer_l1thresh(client):
    _overrides(l1_thresh=11.6, xb_period_s=180)
    reply = json.loads(post_submit(client, BODY, dict(B_HEADERS, **{"Crayfis-version": "b v0.11.0"})).content)
    assert reply == {"set_L1_trig": {"l1thresh": 12}, "set_xb_period": 180}
    assert type(reply["set_L1_trig"]["l1thresh"]) is int


@pytest.mark.parametrize("version", ["a v0.7.2", "a v0.10.1", "", "b weird", "b v0.10.0"])
def test_other_clients_get_no_commands(client, version):
    _overrides(l1_target_epm=20, xb_period_s=120)
    reply = json.loads(post_submit(client, BODY, dict(B_HEADERS, **{"Crayfis-version": version})).content)
    assert reply == {}


def test_a_resend_still_gets_commands(client):
    _overrides(xb_period_s=90)
    post_submit(client, BODY)
    assert json.loads(post_submit(client, BODY).content) == {"set_xb_period": 90}

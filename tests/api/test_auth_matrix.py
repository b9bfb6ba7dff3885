"""Who may call what: every credential kind against every endpoint (real Elasticsearch)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth.models import Permission

from accounts.models import DeviceAPIKey, ScientistAPIKey
from accounts.services import new_device_key, revoke_device_key
from tests.api.conftest import T0, auth, post_upload, upload_body

pytestmark = pytest.mark.django_db

READS = [f"/api/v1/hits?from_ms={T0}&to_ms={T0 + 3_600_000}",
         f"/api/v1/candidates?from_ms={T0}&to_ms={T0 + 3_600_000}",
         f"/api/v1/network/stats?from_ms={T0}&to_ms={T0 + 3_600_000}"]


def _credential(kind, device, scientist):
    """The Authorization header value for one credential kind (after any state change it needs)."""
    dev_key, sci_user, sci_key = device[1], scientist[0], scientist[1]
    if kind == "none":
        return None
    if kind == "bearer":
        return ("raw", f"Bearer {dev_key}")
    if kind == "unknown":
        return "AbCdEfGh.0123456789abcdefghijklmnopqrstuv"
    if kind == "device":
        return dev_key
    if kind == "device-revoked":
        DeviceAPIKey.objects.filter(prefix=dev_key.split(".")[0]).update(revoked=True)
        return dev_key
    if kind == "device-expired":
        DeviceAPIKey.objects.filter(prefix=dev_key.split(".")[0]).update(
            expiry_date=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        return dev_key
    if kind == "scientist":
        return sci_key
    if kind == "scientist-revoked":
        ScientistAPIKey.objects.filter(prefix=sci_key.split(".")[0]).update(revoked=True)
        return sci_key
    if kind == "scientist-no-permission":
        sci_user.user_permissions.remove(Permission.objects.get(codename="read_exact_hits"))
        return sci_key
    if kind == "scientist-inactive":
        type(sci_user).objects.filter(pk=sci_user.pk).update(is_active=False)
        return sci_key
    raise AssertionError(kind)


MATRIX = [  # credential, upload status, read status
    ("none", 401, 200),
    ("bearer", 401, 401),
    ("unknown", 401, 401),
    ("device", 202, 403),
    ("device-revoked", 401, 401),
    ("device-expired", 401, 401),
    ("scientist", 403, 200),
    ("scientist-revoked", 401, 401),
    ("scientist-no-permission", 401, 401),
    ("scientist-inactive", 401, 401),
]


def _headers(cred):
    if isinstance(cred, tuple):
        return {"HTTP_AUTHORIZATION": cred[1]}
    return auth(cred)


@pytest.mark.parametrize("kind, upload_status, read_status", MATRIX)
def test_matrix(client, device, scientist, es_prefix, kind, upload_status, read_status):
    cred = _credential(kind, device, scientist)
    headers = _headers(cred)
    resp = client.generic("POST", "/api/v1/uploads", json.dumps(upload_body()).encode(),
                          content_type="application/json", **headers)
    assert resp.status_code == upload_status, (kind, resp.content)
    if upload_status == 401:
        assert resp["WWW-Authenticate"] == "Api-Key"
    for url in READS:
        resp = client.get(url, **headers)
        assert resp.status_code == read_status, (kind, url, resp.content)


def test_device_key_is_stored_hashed(device):
    reg, key = device
    row = DeviceAPIKey.objects.get(device=reg.device)
    assert key.startswith(row.prefix + ".") and key not in row.hashed_key and row.hashed_key.startswith("sha512$$")
    assert row.is_valid(key) and not row.is_valid(key + "x")


def test_revoked_device_key_cannot_upload_but_a_new_one_can(client, device):
    reg, key = device
    DeviceAPIKey.objects.filter(prefix=key.split(".")[0]).update(revoked=True)
    assert post_upload(client, key, upload_body()).status_code == 401
    assert post_upload(client, new_device_key(reg), upload_body()).status_code == 202


def test_revocation_applies_at_once_in_this_process(client, device):
    """A verified key is cached per process; revoking it from the account page clears that."""
    reg, key = device
    assert post_upload(client, key, upload_body()).status_code == 202     # now cached
    assert revoke_device_key(reg.user, key.split(".")[0])
    assert post_upload(client, key, upload_body()).status_code == 401


def test_other_processes_learn_of_a_revocation_within_the_cache_time(client, device, settings):
    settings.CRAYFIS_API_KEY_CACHE_S = 0                                   # no cache: every request checks
    reg, key = device
    assert post_upload(client, key, upload_body()).status_code == 202
    DeviceAPIKey.objects.filter(prefix=key.split(".")[0]).update(revoked=True)   # as another process would
    assert post_upload(client, key, upload_body()).status_code == 401

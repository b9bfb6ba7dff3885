"""Device keys (shown once, hashed, revocable from the account page and the admin) and
scientist read keys (only for accounts with read_exact_hits)."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission

from accounts.models import DeviceAPIKey, RegisteredDevice, ScientistAPIKey
from accounts.services import register_device

pytestmark = pytest.mark.django_db
KEY_RE = re.compile(r'<code class="key" id="new-key">([^<]+)</code>')


def _shown_key(resp) -> str:
    m = KEY_RE.search(resp.content.decode())
    assert m, "the new key is on the page"
    return m.group(1)


def test_register_device_shows_the_key_once_and_stores_only_its_hash(logged_in, volunteer):
    resp = logged_in.post("/accounts/devices/", {"name": "Pi camera", "kind": "camera"})
    assert resp.status_code == 201
    key = _shown_key(resp)
    reg = RegisteredDevice.objects.get(user=volunteer)
    assert reg.device.device_id.startswith("api-") and reg.device.pseudonym.startswith("d")
    row = DeviceAPIKey.objects.get(device=reg.device)
    assert key.split(".")[0] == row.prefix and key not in row.hashed_key and row.is_valid(key)
    page = logged_in.get("/accounts/").content.decode()
    assert row.prefix in page and key not in page and "Pi camera" in page


def test_register_device_form_errors(logged_in):
    assert logged_in.post("/accounts/devices/", {"name": "", "kind": "camera"}).status_code == 400
    assert logged_in.post("/accounts/devices/", {"name": "x", "kind": "toaster"}).status_code == 400
    assert not RegisteredDevice.objects.exists()


def test_revoke_from_account_page(logged_in, volunteer):
    reg, key = register_device(volunteer, "kit", "scintillator")
    prefix = key.split(".")[0]
    resp = logged_in.post(f"/accounts/keys/{prefix}/revoke/")
    assert resp.status_code == 302
    assert DeviceAPIKey.objects.get(prefix=prefix).revoked
    assert logged_in.post(f"/accounts/keys/{prefix}/revoke/").status_code == 404     # already revoked
    # rotation: a new key for the same device
    new_key = _shown_key(logged_in.post(f"/accounts/devices/{reg.pk}/keys/"))
    assert DeviceAPIKey.objects.get(prefix=new_key.split(".")[0]).device == reg.device


def test_cannot_touch_another_accounts_device(client, django_user_model, volunteer):
    reg, key = register_device(volunteer, "Volunteer's roof kit", "scintillator")
    mallory = django_user_model.objects.create_user("mallory", password="pw-mallory-1234")
    client.force_login(mallory)
    assert client.post(f"/accounts/keys/{key.split('.')[0]}/revoke/").status_code == 404
    assert client.post(f"/accounts/devices/{reg.pk}/keys/").status_code == 404
    assert not DeviceAPIKey.objects.get(prefix=key.split(".")[0]).revoked
    assert "roof kit" not in client.get("/accounts/").content.decode()


def test_read_keys_only_with_permission(logged_in, volunteer):
    assert "Read API keys" not in logged_in.get("/accounts/").content.decode()
    assert logged_in.post("/accounts/read-keys/", {"name": "x"}).status_code == 403
    assert not ScientistAPIKey.objects.exists()
    volunteer.user_permissions.add(Permission.objects.get(codename="read_exact_hits"))
    resp = logged_in.post("/accounts/read-keys/", {"name": "analysis"})
    assert resp.status_code == 201
    key = _shown_key(resp)
    row = ScientistAPIKey.objects.get(user=volunteer)
    assert row.name == "analysis" and row.is_valid(key)
    assert logged_in.post(f"/accounts/read-keys/{row.prefix}/revoke/").status_code == 302
    assert ScientistAPIKey.objects.get(pk=row.pk).revoked


def test_admin_creates_a_device_key_shown_once_and_can_revoke(admin_client, volunteer):
    reg, _ = register_device(volunteer, "kit", "scintillator")
    resp = admin_client.post("/admin/accounts/deviceapikey/add/", {"name": "from admin", "device": reg.device.pk},
                             follow=True)
    assert resp.status_code == 200
    row = DeviceAPIKey.objects.get(name="from admin")
    shown = re.search(r"The API key for from admin is: ([^ ]+)\. ", resp.content.decode()).group(1)
    assert row.is_valid(shown)
    assert shown not in admin_client.get(f"/admin/accounts/deviceapikey/{row.pk}/change/").content.decode()
    resp = admin_client.post(f"/admin/accounts/deviceapikey/{row.pk}/change/",
                             {"name": "from admin", "device": reg.device.pk, "revoked": "on"})
    assert resp.status_code == 302 and DeviceAPIKey.objects.get(pk=row.pk).revoked
    for page in ("/admin/accounts/deviceapikey/", "/admin/accounts/scientistapikey/",
                 "/admin/accounts/registereddevice/", "/admin/accounts/accountappcode/"):
        assert admin_client.get(page).status_code == 200, page

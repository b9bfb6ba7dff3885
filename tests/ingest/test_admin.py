"""Admin: devices (block, overrides), uploads and quarantine (re-queue) work end to end."""
from __future__ import annotations

import pytest

from ingest.models import Device, Upload
from tests.ingest.conftest import B_HEADERS, post_submit

pytestmark = pytest.mark.django_db


def test_blocking_in_the_admin_answers_403_at_once(admin_client, client):
    dev = Device.objects.create(device_id=B_HEADERS["Device-id"])
    assert post_submit(client, b"a").status_code == 202
    resp = admin_client.post("/admin/ingest/device/", {"action": "block", "_selected_action": [dev.pk]})
    assert resp.status_code == 302
    assert post_submit(client, b"b").status_code == 403
    admin_client.post("/admin/ingest/device/", {"action": "unblock", "_selected_action": [dev.pk]})
    assert post_submit(client, b"c").status_code == 202


def test_overrides_set_in_the_admin_reach_the_reply(admin_client, client):
    resp = admin_client.post("/admin/ingest/device/add/", {
        "device_id": B_HEADERS["Device-id"], "note": "", "l1_target_epm": "15", "l1_thresh": "",
        "l1_trig_lock": "unknown", "xb_period_s": "240"})
    assert resp.status_code == 302, resp.content[:500]
    assert Device.objects.get().pseudonym.startswith("d")
    assert post_submit(client, b"x").json() == {"set_L1_trig": {"target_epm": 15.0}, "set_xb_period": 240}


def test_quarantine_lists_and_requeues(admin_client, client):
    post_submit(client, b"junk")
    Upload.objects.update(status="quarantined", error="WireDecodeError: not a crayfis.DataChunk")
    page = admin_client.get("/admin/ingest/quarantinedupload/")
    assert page.status_code == 200 and b"WireDecodeError" in page.content
    up = Upload.objects.get()
    admin_client.post("/admin/ingest/quarantinedupload/", {"action": "requeue", "_selected_action": [up.pk]})
    up.refresh_from_db()
    assert up.status == "pending" and up.attempts == 0
    assert admin_client.get("/admin/ingest/upload/?status__exact=pending").status_code == 200
    assert admin_client.get(f"/admin/ingest/upload/{up.pk}/change/").status_code == 200

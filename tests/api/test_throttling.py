"""Rates: per device for uploads, per scientist key and per anonymous address for reads."""
from __future__ import annotations

import pytest

from ingest.models import Upload
from tests.api.conftest import T0, auth, post_upload, upload_body

pytestmark = pytest.mark.django_db
STATS = f"/api/v1/network/stats?from_ms={T0}&to_ms={T0 + 60_000}"


def test_device_over_its_rate_gets_429_with_retry_after(client, device, other_device, settings):
    settings.CRAYFIS_API_DEVICE_UPLOAD_RATE = "3/min"
    codes = [post_upload(client, device[1], upload_body()).status_code for _ in range(3)]
    assert codes == [202, 202, 202]
    resp = post_upload(client, device[1], upload_body())
    assert resp.status_code == 429
    assert 0 < int(resp["Retry-After"]) <= 60
    assert "throttled" in resp.json()["detail"].lower()
    assert Upload.objects.count() == 3                       # the refused upload was not stored
    # another device has its own budget
    assert post_upload(client, other_device[1], upload_body()).status_code == 202


def test_rejected_requests_count_too(client, device, settings):
    """A client hammering with invalid bodies is throttled as well (the rate guards the server)."""
    settings.CRAYFIS_API_DEVICE_UPLOAD_RATE = "2/min"
    assert [post_upload(client, device[1], b"{}").status_code for _ in range(3)] == [400, 400, 429]


def test_anonymous_reads_are_throttled_per_address(client, es_prefix, settings):
    settings.CRAYFIS_API_ANON_READ_RATE = "2/min"
    a = [client.get(STATS, REMOTE_ADDR="10.0.0.1").status_code for _ in range(3)]
    b = client.get(STATS, REMOTE_ADDR="10.0.0.2").status_code
    assert a == [200, 200, 429] and b == 200


def test_a_forged_forwarded_for_header_does_not_reset_the_count(client, es_prefix, settings):
    settings.CRAYFIS_API_ANON_READ_RATE = "2/min"
    codes = [client.get(STATS, REMOTE_ADDR="10.0.0.3", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").status_code
             for i in range(3)]
    assert codes == [200, 200, 429]


def test_scientist_reads_have_their_own_rate(client, scientist, es_prefix, settings):
    settings.CRAYFIS_API_ANON_READ_RATE = "1/min"
    settings.CRAYFIS_API_SCIENTIST_READ_RATE = "3/min"
    codes = [client.get(STATS, **auth(scientist[1])).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get(STATS).status_code == 200             # anonymous budget untouched by the key's use


def test_uploads_are_limited_per_client_address_whatever_key_they_carry(client, device, other_device, settings):
    """Issue 16: registering devices costs nothing, so the per-device rate alone does not bound a client."""
    settings.CRAYFIS_API_UPLOAD_RATE_PER_IP = "3/min"
    keys = [device[1], other_device[1]]
    codes = [post_upload(client, keys[i % 2], upload_body(), REMOTE_ADDR="203.0.113.5").status_code for i in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    assert post_upload(client, device[1], upload_body(), REMOTE_ADDR="203.0.113.6").status_code == 202


def test_behind_a_trusted_proxy_uploads_count_per_forwarded_client(client, device, settings):
    settings.CRAYFIS_API_UPLOAD_RATE_PER_IP = "2/min"
    settings.CRAYFIS_API_NUM_PROXIES = 1

    def via_proxy(client_addr, forged):
        return post_upload(client, device[1], upload_body(), REMOTE_ADDR="127.0.0.1",
                           HTTP_X_FORWARDED_FOR=f"{forged}, {client_addr}").status_code

    assert [via_proxy("198.51.100.7", f"10.0.0.{i}") for i in range(3)] == [202, 202, 429]
    assert via_proxy("198.51.100.8", "10.0.0.1") == 202
    assert set(Upload.objects.values_list("remote_addr", flat=True)) == {"198.51.100.7", "198.51.100.8"}

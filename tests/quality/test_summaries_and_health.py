"""Summaries from the raw store (quality/summaries.py), device flags (quality/health.py), upload
fates in words (quality/fates.py), and the admin that shows them to operators.

Uploads come in through /submit as the app sends them; summaries are read from the stored
bodies whatever the upload's status, so nothing here needs the indexer.
"""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from ingest.models import Device, Upload, UploadStatus
from quality import fates, health, summaries
from quality.models import DeviceHealth, QualityState, UploadSummary
from tests.accounts.owners import post_garbage, post_phone, recent_network, resend_reordered
from tests.core.quality import phones as sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def network(client):
    """Every phone of the simulated network posted (no App-code), plus an uncovered copy of one
    well-behaved phone and an unreadable upload."""
    result, phones = recent_network()
    for phone in phones.values():
        post_phone(client, phone, None)
    uncovered = sim.uncovered(sim.well_behaved(result, phones)[0])
    post_phone(client, uncovered, None)
    post_garbage(client, "0bad0bad0bad0bad", "x")
    return result, phones, uncovered


def later(minutes: float = 5) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=minutes)


def test_summaries_are_written_once_in_id_order_behind_a_settled_cursor(client, network):
    total = Upload.objects.count()
    assert summaries.summarize_new(10, now=timezone.now()) == 10
    # just received: the cursor stays put (a lower id could still be committing), the query moves on
    assert QualityState.objects.get(name="summaries").summarized_through == 0
    assert summaries.summarize_new(10, now=later()) == 10
    assert QualityState.objects.get().summarized_through == sorted(Upload.objects.values_list("id", flat=True))[19]
    while summaries.summarize_new(25, now=later()):
        pass
    assert UploadSummary.objects.count() == total
    assert QualityState.objects.get().summarized_through == Upload.objects.order_by("-id").first().id
    assert summaries.summarize_new(25, now=later()) == 0
    bad = UploadSummary.objects.get(device_id="0bad0bad0bad0bad")
    assert not bad.readable and bad.error.startswith("WireDecodeError") and bad.n_hits == 0


def test_a_resend_of_the_same_records_is_a_duplicate_of_the_first(client, network):
    result, phones, _ = network
    phone = sim.well_behaved(result, phones)[1]
    resend_reordered(client, phone.uploads[3], "")
    while summaries.summarize_new(50, now=later()):
        pass
    first, again = (Upload.objects.filter(device_id=phone.device_id).order_by("id")[3],
                    Upload.objects.filter(device_id=phone.device_id).order_by("-id")[0])
    assert first.sha256 != again.sha256
    assert UploadSummary.objects.get(upload=again).duplicate_of == first.pk
    assert UploadSummary.objects.get(upload=first).duplicate_of is None
    assert UploadSummary.objects.filter(duplicate_of__isnull=False).count() == 1


def test_devices_are_judged_on_their_window_and_leave_when_it_passes(client, network):
    result, phones, uncovered = network
    while summaries.summarize_new(50, now=later()):
        pass
    now = timezone.now()
    assert health.refresh_due(now)
    assert health.refresh_devices(now) == len(phones) + 1        # the unreadable upload's device has no stats
    assert not health.refresh_due(now)
    flagged = {h.device_id: [f["code"] for f in h.flags] for h in DeviceHealth.objects.filter(flagged=True)}
    assert flagged == {**{d: ["hot"] for d in sim.hot(result)}, uncovered.device_id: ["uncovered"]}
    rate = health.network_rate(now)
    assert 20 * 60 * 0.7 < rate < 20 * 60 * 1.3
    # a day and more later, nothing is in the window: every row goes
    assert health.refresh_devices(now + dt.timedelta(hours=25)) == 0 and not DeviceHealth.objects.exists()


def test_fates_in_plain_words():
    def fate(status, error="", n_hits=3, attempts=0, duplicate_of=None):
        return fates.fate_of(Upload(status=status, error=error, n_hits=n_hits, attempts=attempts), duplicate_of)

    assert fate(UploadStatus.INDEXED) == fates.Fate("indexed", "indexed", "3 hits in the network's data")
    assert fate(UploadStatus.INDEXED, n_hits=1).detail == "1 hit in the network's data"
    assert fate(UploadStatus.INDEXED, duplicate_of=7).detail.startswith("upload #7 already held the same records")
    assert fate(UploadStatus.QUARANTINED, "WireDecodeError: truncated varint\nTraceback...").detail == \
        "the server could not read it: truncated varint"
    assert fate(UploadStatus.QUARANTINED, "rejected by Elasticsearch: 400: mapper_parsing").detail == \
        "the index refused its records: 400: mapper_parsing"
    assert fate(UploadStatus.QUARANTINED, "gave up after 8 attempts: 503").detail == \
        "the index kept failing; gave up after 8 attempts: 503"
    held = fate(UploadStatus.QUARANTINED, fates.WINDOW_REASON_PREFIX + "event time 2031 is far ahead")
    assert (held.code, held.title, held.detail) == ("out_of_window", "outside the time window",
                                                    "event time 2031 is far ahead")
    assert fate(UploadStatus.QUARANTINED, "").detail == "no reason recorded"
    assert fate(UploadStatus.PENDING).detail == "waiting for the indexer"
    assert fate(UploadStatus.PENDING, "503: busy", attempts=2).detail == \
        "retrying after an index error (attempt 2): 503: busy"


def test_operators_see_flags_with_reasons_filter_flagged_devices_and_read_fates(admin_client, client, network):
    result, phones, uncovered = network
    while summaries.summarize_new(50, now=later()):
        pass
    health.refresh_devices()
    for device_id in [*phones, uncovered.device_id]:
        Device.objects.create(device_id=device_id)
    listed = admin_client.get("/admin/ingest/device/?flagged=yes").content.decode()
    shown = set(re.findall(r'<a href="/admin/ingest/device/\d+/change/[^"]*">([0-9a-z]+)</a>', listed))
    assert shown == sim.hot(result) | {uncovered.device_id}
    calm = admin_client.get("/admin/ingest/device/?flagged=no").content.decode()
    assert set(re.findall(r'<a href="/admin/ingest/device/\d+/change/[^"]*">([0-9a-z]+)</a>', calm)) == \
        set(phones) - shown
    assert "hot or noisy" in listed and "camera not covered" in listed           # the flags column
    dev = Device.objects.get(device_id=uncovered.device_id)
    page = admin_client.get(f"/admin/ingest/device/{dev.pk}/change/").content.decode()
    assert "camera not covered" in page and "darkness check refused" in page
    bad = Upload.objects.get(device_id="0bad0bad0bad0bad")
    Upload.objects.filter(pk=bad.pk).update(status=UploadStatus.QUARANTINED, error="WireDecodeError: not a chunk")
    uploads = admin_client.get("/admin/ingest/upload/").content.decode()
    assert "waiting: waiting for the indexer" in uploads and "quarantined: the server could not read it" in uploads
    assert admin_client.get(f"/admin/ingest/upload/{bad.pk}/change/").status_code == 200
    assert admin_client.get("/admin/quality/devicehealth/").status_code == 200

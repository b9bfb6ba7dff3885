"""The event-time window (issue 16): uploads dated too far from their receive time, or spread over
too many months, are quarantined with the reason; an operator's release indexes them once.

Data is dated relative to now, as a phone's would be. On main at d21fe67 none of this exists:
every upload is indexed whatever its dates, and a map's claimed end time is stored as sent.
"""
from __future__ import annotations

import io
import time
import uuid

import numpy as np
import pytest
from django.contrib.admin.sites import site
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from crayfis.wire import build
from crayfis.wire.records import CalibrationRecord, DecodedChunk
from indexer.worker import Indexer, IndexerConfig, make_indexer_client
from ingest.event_window import EventWindow
from ingest.models import PreCalibration, TouchedBucket, Upload, UploadStatus
from ingest.quarantine import HELD_BACK
from tests.ingest.conftest import B_HEADERS, post_submit

pytestmark = pytest.mark.django_db

DAY_MS = 86_400_000
RES = (1920, 1080)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


NO_END = object()


def chunk_body(times: list[int], *, calibration_end: int | None = None, precal_end=None) -> bytes:
    """A DataChunk with one DATA block holding an event at each time (and optionally a
    calibration, and a precalibration map ending at `precal_end`; NO_END: without an end time,
    like the minimal record a phone sends back)."""
    run = uuid.uuid4()
    events = [build.event(t, xbn=1, timestamp_nano=t * 1_000_000, hits=[(10, 10)], values=lambda x, y: 100,
                          res=RES, lat=46.2, lon=6.1, accuracy=5.0) for t in times]
    blocks = [build.exposure_block(run, xbn=1, start_ms=min(times) - 1, end_ms=max(times) + 1, events=events,
                                   lat=46.2, lon=6.1, res=RES, processed=[10, 10, 10, len(events)],
                                   passed=[1, 10, len(events), len(events)])] if times else []
    cals = [build.calibration_result(run, end_ms=calibration_end, hist_maxpixel=[1, 2, 3])] if calibration_end else []
    precals = []
    if precal_end is not None:
        pre = build.precalibration_result(run, end_ms=0 if precal_end is NO_END else precal_end, res=RES, hot_hash=7,
                                          wgt_hash=8, weights_jpeg=b"\xff\xd8w", hotcell=[1])
        if precal_end is NO_END:
            pre.ClearField("end_time")
        precals.append(pre)
    first = min(times + [calibration_end or now_ms()])
    return build.data_chunk(run_configs=[build.run_config(run, start_ms=first - 60_000, res=RES)],
                            exposure_blocks=blocks, calibration_results=cals, precalibration_results=precals)


def index_all(es_url):
    return Indexer(make_indexer_client(es_url), IndexerConfig.from_settings()).run(once=True)


def hit_count(es, prefix) -> int:
    es.indices.refresh(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
    return es.count(index=f"{prefix}-hits-*", ignore_unavailable=True, allow_no_indices=True)["count"]


# --- the rule ----------------------------------------------------------------------------------

WINDOW = EventWindow(max_age_ms=30 * DAY_MS, max_lead_ms=DAY_MS, max_months=2)
RECEIVED = 1_800_000_000_000


def _chunk(calibrations=()) -> DecodedChunk:
    return DecodedChunk(device_id="d", camera_id=None, header_run_uuid=None, client="b", header_build=None,
                        version_code=None, runs=[], exposures=[], calibrations=list(calibrations), precalibrations=[])


@pytest.mark.parametrize("offset_ms,held", [(-30 * DAY_MS, False), (-30 * DAY_MS - 1, True), (DAY_MS, False),
                                            (DAY_MS + 1, True), (0, False)])
def test_the_window_edges_are_inclusive(offset_ms, held):
    reason = WINDOW.violation(_chunk(), np.array([RECEIVED + offset_ms]), ["2027.01"], RECEIVED)
    assert (reason is not None) == held


def test_the_reason_says_what_how_far_and_which_setting():
    old = WINDOW.violation(_chunk(), np.array([RECEIVED - 40 * DAY_MS]), ["2026.11"], RECEIVED)
    assert "40.0 days before" in old and "CRAYFIS_INGEST_MAX_EVENT_AGE_S" in old and "release_quarantine" in old
    ahead = WINDOW.violation(_chunk(), np.array([RECEIVED + 2 * DAY_MS]), ["2027.01"], RECEIVED)
    assert "2.0 days after" in ahead and "CRAYFIS_INGEST_MAX_EVENT_LEAD_S" in ahead
    far = WINDOW.violation(_chunk(), np.array([253_402_300_799_000]), ["9999.12"], RECEIVED)
    assert "9999-12-31" in far
    months = WINDOW.violation(_chunk(), np.array([RECEIVED]), ["2026.12", "2027.01", "2027.02"], RECEIVED)
    assert "3 monthly indices" in months and "CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD" in months


def test_calibrations_count_like_events():
    cal = CalibrationRecord(run_uuid="r", start_ms=RECEIVED - 41 * DAY_MS, end_ms=RECEIVED - 40 * DAY_MS,
                            hist_pixel=[], hist_l2pixel=[], hist_maxpixel=[], hist_numpixel=[])
    assert WINDOW.violation(_chunk([cal]), np.array([], dtype=np.int64), [], RECEIVED)


# --- through the indexer -------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_old_future_and_spread_uploads_are_held_back_recent_ones_indexed(client, es, es_url, es_prefix):
    now = now_ms()
    bodies = {"recent": chunk_body([now - 3_600_000, now - 1_000]),
              "old": chunk_body([now - 31 * DAY_MS]),
              "ahead": chunk_body([now + 2 * DAY_MS]),
              "old_calibration": chunk_body([now - 60_000], calibration_end=now - 45 * DAY_MS)}
    for name, body in bodies.items():
        assert post_submit(client, body, dict(B_HEADERS, **{"Device-id": f"{name}-phone"})).status_code == 202
    totals = index_all(es_url)
    state = {u.device_id.removesuffix("-phone"): u.status for u in Upload.objects.all()}
    assert state == {"recent": "indexed", "old": "quarantined", "ahead": "quarantined",
                     "old_calibration": "quarantined"}
    assert (totals.indexed, totals.quarantined) == (1, 3)
    held = Upload.objects.filter(status=UploadStatus.QUARANTINED)
    assert all(u.error.startswith(HELD_BACK) for u in held)
    assert hit_count(es, es_prefix) == 2
    # nothing of a held-back upload reaches the search's bookkeeping
    old_bucket = (now - 31 * DAY_MS) // 60_000 * 60_000
    assert not TouchedBucket.objects.filter(bucket_ms=old_bucket).exists()


@pytest.mark.django_db(transaction=True)
def test_an_opened_window_takes_an_archive_but_still_counts_months(client, es, es_url, es_prefix, settings):
    settings.CRAYFIS_INGEST_MAX_EVENT_AGE_S = 400 * 86_400
    now = now_ms()
    post_submit(client, chunk_body([now - 100 * DAY_MS]), dict(B_HEADERS, **{"Device-id": "archive-1"}))
    post_submit(client, chunk_body([now - 100 * DAY_MS, now - 40 * DAY_MS, now - 1000]),
                dict(B_HEADERS, **{"Device-id": "archive-2"}))
    index_all(es_url)
    assert dict(Upload.objects.values_list("device_id", "status")) == {"archive-1": "indexed",
                                                                      "archive-2": "quarantined"}


@pytest.mark.django_db(transaction=True)
def test_a_released_upload_is_indexed_once_and_a_second_release_is_refused(client, es, es_url, es_prefix):
    now = now_ms()
    post_submit(client, chunk_body([now - 40 * DAY_MS, now - 40 * DAY_MS + 5]))
    index_all(es_url)
    upload = Upload.objects.get()
    assert upload.status == "quarantined" and hit_count(es, es_prefix) == 0
    out = io.StringIO()
    call_command("release_quarantine", str(upload.pk), stdout=out)
    assert "released 1 upload(s)" in out.getvalue()
    index_all(es_url)
    upload.refresh_from_db()
    assert (upload.status, upload.error, upload.released_at is not None) == ("indexed", "", True)
    assert hit_count(es, es_prefix) == 2
    with pytest.raises(CommandError, match=f"{upload.pk} \\(indexed, not quarantined\\)"):
        call_command("release_quarantine", str(upload.pk), stdout=io.StringIO())
    # a requeue of a released upload (e.g. to rebuild the index) still indexes nothing twice
    Upload.objects.update(status="pending")
    index_all(es_url)
    assert Upload.objects.get().status == "indexed" and hit_count(es, es_prefix) == 2


def test_a_release_with_any_bad_id_releases_nothing(client):
    held = Upload.objects.create(device_id="a", sha256="1" * 64, body=b"x", size=1, received_at="2026-01-01T00:00Z",
                                 status=UploadStatus.QUARANTINED, error="x")
    done = Upload.objects.create(device_id="b", sha256="2" * 64, body=b"y", size=1, received_at="2026-01-01T00:00Z",
                                 status=UploadStatus.INDEXED)
    with pytest.raises(CommandError, match=f"{done.pk} \\(indexed, not quarantined\\), 999999 \\(no such upload\\)"):
        call_command("release_quarantine", str(held.pk), str(done.pk), "999999", stdout=io.StringIO())
    assert Upload.objects.get(pk=held.pk).status == "quarantined"
    with pytest.raises(CommandError, match="nothing to release"):
        call_command("release_quarantine", stdout=io.StringIO())


def test_release_by_device_and_from_the_admin(admin_user):
    def held(device, n):
        return Upload.objects.create(device_id=device, sha256=f"{n:064x}", body=b"x", size=1,
                                     received_at="2026-01-01T00:00Z", status=UploadStatus.QUARANTINED,
                                     error=HELD_BACK + "old")

    a1, a2, b1 = held("offline-phone", 1), held("offline-phone", 2), held("other", 3)
    call_command("release_quarantine", "--device", "offline-phone", stdout=io.StringIO())
    assert {u.pk: u.status for u in Upload.objects.all()} == {a1.pk: "pending", a2.pk: "pending",
                                                              b1.pk: "quarantined"}
    from ingest.models import QuarantinedUpload

    model_admin = site._registry[QuarantinedUpload]
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    request._messages = _Messages()
    model_admin.release_from_quarantine(request, QuarantinedUpload.objects.filter(pk=b1.pk))
    assert Upload.objects.get(pk=b1.pk).status == "pending" and Upload.objects.get(pk=b1.pk).released_at


class _Messages(list):
    def add(self, level, message, extra_tags=""):
        self.append(message)


# --- precalibration end times --------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("claimed_end", ["future", "none"])
def test_a_map_counts_as_no_later_than_its_receive_time(client, es, es_url, es_prefix, claimed_end):
    now = now_ms()
    end = now + 20 * 3_600_000 if claimed_end == "future" else NO_END
    assert post_submit(client, chunk_body([now - 1000], precal_end=end)).status_code == 202
    index_all(es_url)
    stored = PreCalibration.objects.get()
    received = int(Upload.objects.get().received_at.timestamp() * 1000)
    assert stored.end_ms == received


def test_the_migration_caps_maps_stored_before(django_user_model):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("ingest.migrations.0005_released_at_precal_end_cap")
    upload = Upload.objects.create(device_id="v", sha256="3" * 64, body=b"x", size=1,
                                   received_at="2026-03-01T00:00Z", status=UploadStatus.INDEXED)
    forged = PreCalibration.objects.create(device_id="v", camera_id=0, res_x=1, res_y=1, hot_hash=1, wgt_hash=1,
                                           weights=b"w", end_ms=253_402_300_799_000, upload=upload)
    fine = PreCalibration.objects.create(device_id="v", camera_id=1, res_x=1, res_y=1, hot_hash=1, wgt_hash=1,
                                         weights=b"w", end_ms=1_700_000_000_000, upload=upload)
    migration.cap_precal_end_times(apps, None)
    forged.refresh_from_db()
    fine.refresh_from_db()
    assert (forged.end_ms, fine.end_ms) == (1_772_323_200_000, 1_700_000_000_000)

"""Finding 4, index explosion: hit, exposure and calibration indices are named by event month and
any event time up to year 9999 is accepted, so one upload can create an index per month it
names (one shard each, against the node's limit of 1,000 shards, after which every upload for a
new month fails).

The trust model's door: event times outside [receive - CRAYFIS_INGEST_MAX_EVENT_AGE_S,
receive + CRAYFIS_INGEST_MAX_EVENT_LEAD_S] send the upload to quarantine with a reason (still
202: the app must not resend); an upload touching more than CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD
monthly indices likewise; an operator releases a quarantined upload with
`manage.py release_quarantine <upload id>`, which indexes it once.
"""
from __future__ import annotations

import pytest

from ingest.models import Upload
from tests.security.actors import (
    CELL_LAT,
    CELL_LON,
    DAY_MS,
    HOUR_MS,
    command_exists,
    event,
    get_json,
    index_uploads,
    missing,
    now_ms,
    operator_releases,
    phone_posts,
)
from tests.security.conftest import key_auth

pytestmark = [pytest.mark.security, pytest.mark.django_db(transaction=True)]

MONTH_MS = 31 * DAY_MS
YEAR_9999_MS = 253_402_300_799_000
DATED = ("-hits-", "-exposures-", "-calibrations-")


def dated_indices(es, prefix: str) -> set[str]:
    names = es.indices.get(index=f"{prefix}-*", expand_wildcards="all", ignore_unavailable=True)
    return {n for n in names if any(kind in n for kind in DATED)}


def _max_months(settings) -> int:
    return getattr(settings, "CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD", 2)


def test_one_upload_creates_at_most_the_allowed_monthly_indices(client, es, es_prefix, settings):
    """Attack: one upload of 40 events, one a month apart starting now and running into the
    years ahead, plus one in year 9999, each in its own exposure block.

    Property: the upload is answered 202 and quarantined with a reason, and creates indices
    for at most CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD (2) months; none is named after year 9999.

    Fails on main at 8e37016: the upload is indexed and creates a hit and an exposure index
    for each of its 40 months (80 new indices, "-9999.12" among them).
    """
    t0 = now_ms() - HOUR_MS
    blocks = [[(t0 + i * MONTH_MS, CELL_LAT, CELL_LON)] for i in range(39)]
    blocks.append([event(YEAR_9999_MS, CELL_LAT, CELL_LON, xbn=40, with_nano=False)])
    before = dated_indices(es, es_prefix)
    assert phone_posts(client, "1dec0000000000ff", blocks) == 202
    index_uploads()
    created = sorted(dated_indices(es, es_prefix) - before)
    upload = Upload.objects.get()
    months = {name.rsplit("-", 1)[1] for name in created}
    assert len(months) <= _max_months(settings) and "9999.12" not in months, \
        f"one upload created {len(created)} indices over {len(months)} months, e.g. {created[:2]} ... {created[-2:]}"
    assert upload.status == "quarantined" and upload.error, (upload.status, upload.error)


def test_an_upload_spanning_too_many_months_is_quarantined(client, es, es_prefix, settings):
    """Attack: with the age window opened wide by an operator (replaying a year of archives),
    one upload names twelve months.

    Property: an upload touching more than CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD monthly
    indices is quarantined with a reason and creates none.

    Fails on main at 8e37016: it is indexed into twelve monthly hit indices (and twelve
    exposure indices).
    """
    note = missing("CRAYFIS_INGEST_MAX_EVENT_AGE_S", "CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD")
    settings.CRAYFIS_INGEST_MAX_EVENT_AGE_S = 10 * 365 * 86_400
    settings.CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD = 2
    t0 = now_ms() - 400 * DAY_MS
    blocks = [[(t0 + i * MONTH_MS, CELL_LAT, CELL_LON)] for i in range(12)]
    before = dated_indices(es, es_prefix)
    assert phone_posts(client, "1dec0000000000fe", blocks) == 202
    index_uploads()
    created = sorted(dated_indices(es, es_prefix) - before)
    upload = Upload.objects.get()
    assert (upload.status, created) == ("quarantined", []), \
        f"an upload over twelve months: {upload.status}, {len(created)} new indices{note}"
    assert upload.error


def test_events_outside_the_time_window_are_quarantined_and_released_once(client, es, es_prefix, scientist):
    """Attack: back-dated data re-opens old buckets for the continuous search (the oracle's
    tool) and far-future data plants indices; both arrive through the normal door.

    Property: an upload with events 40 days old, and one with an event 2 days ahead, are
    answered 202 and quarantined with a reason (not indexed); an upload an hour old is indexed.
    `manage.py release_quarantine <upload id>` indexes a quarantined upload once: its hits
    appear, and a second release changes nothing.

    Fails on main at 8e37016: the 40-day-old and the future uploads are indexed at once
    (status "indexed", no quarantine), and the release command does not exist.
    """
    now = now_ms()
    old_times = [now - 40 * DAY_MS + i * 1000 for i in range(3)]
    assert phone_posts(client, "1ate000000000001", [[(t, CELL_LAT, CELL_LON) for t in old_times]]) == 202
    assert phone_posts(client, "1ate000000000002", [[(now + 2 * DAY_MS, CELL_LAT, CELL_LON)]]) == 202
    assert phone_posts(client, "1ate000000000003", [[(now - HOUR_MS, CELL_LAT, CELL_LON)]]) == 202
    index_uploads()
    state = {u.device_id: (u.status, bool(u.error)) for u in Upload.objects.all()}
    assert state == {"1ate000000000001": ("quarantined", True), "1ate000000000002": ("quarantined", True),
                     "1ate000000000003": ("indexed", False)}, f"outside the event window: {state}"

    span = f"from_ms={old_times[0] - HOUR_MS}&to_ms={old_times[-1] + HOUR_MS}"
    old = Upload.objects.get(device_id="1ate000000000001")
    assert get_json(client, f"/api/v1/hits?{span}", **key_auth(scientist[1]))[1]["results"] == []
    assert operator_releases(old.pk), "manage.py release_quarantine does not exist"
    index_uploads()
    assert Upload.objects.get(pk=old.pk).status == "indexed"
    hits = get_json(client, f"/api/v1/hits?{span}", **key_auth(scientist[1]))[1]["results"]
    assert sorted(h["t_ms"] for h in hits) == old_times
    operator_releases(old.pk)
    index_uploads()
    again = get_json(client, f"/api/v1/hits?{span}", **key_auth(scientist[1]))[1]["results"]
    assert len(again) == len(old_times) and command_exists("release_quarantine")

"""The owner's phone pages (/accounts/phones/...): built from the owner's own uploads only, every
upload with its fate, the flags, the charts' data, the candidates joined and the gallery.

Through the real doors: simulated v1.0.4 uploads posted to /submit with App-codes, the indexer
into the real Elasticsearch node, the pages through Django's test client. Browser tests of the
same pages are in test_browser_owner_pages.py.
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import replace

import pytest
from django.conf import settings
from elasticsearch import helpers
from PIL import Image

from accounts import gallery, pairing
from crayfis.es.candidates import CONTINUOUS
from crayfis.privacy import pseudonym
from ingest.models import Upload, UploadStatus
from quality.decoding import decode
from quality.fates import WINDOW_REASON_PREFIX
from quality.models import UploadSummary
from tests.accounts.owners import (
    claim_of,
    index_uploads,
    owner,
    post,
    post_garbage,
    post_phone,
    recent_network,
    resend_reordered,
)
from tests.core.quality import phones as sim

pytestmark = pytest.mark.django_db(transaction=True)   # the indexer manages its own transactions


@pytest.fixture
def alice_phone(client, django_user_model, es, es_prefix):
    """Alice's well-behaved phone: its hour of uploads with her code, one unreadable upload, one
    resend of the same records in other bytes; indexed."""
    alice, code = owner(django_user_model, "alice")
    result, phones = recent_network()
    phone = sim.well_behaved(result, phones)[0]
    post_phone(client, phone, code)
    post_garbage(client, phone.device_id, code)
    resend_reordered(client, phone.uploads[2], code)
    index_uploads()
    return alice, code, phone


def html(client, user, url: str, status: int = 200) -> str:
    client.force_login(user)
    resp = client.get(url)
    assert resp.status_code == status, (url, resp.status_code)
    return resp.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, alice_phone):
    alice, _, phone = alice_phone
    claim = claim_of(alice, phone.device_id)
    client.logout()
    for url in ("/accounts/phones/", f"/accounts/phones/{claim.pk}/", f"/accounts/phones/{claim.pk}/events/",
                f"/accounts/phones/{claim.pk}/events/1/0.png"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/"), url


def test_another_accounts_phone_is_not_found(client, django_user_model, alice_phone):
    alice, _, phone = alice_phone
    claim = claim_of(alice, phone.device_id)
    bob, _ = owner(django_user_model, "bob")
    first = Upload.objects.filter(device_id=phone.device_id).order_by("id").first()
    for url in (f"/accounts/phones/{claim.pk}/", f"/accounts/phones/{claim.pk}/events/",
                f"/accounts/phones/{claim.pk}/events/{first.pk}/0.png", f"/accounts/phones/{claim.pk + 999}/"):
        html(client, bob, url, 404)
    assert "alice" not in html(client, bob, "/accounts/phones/")


def test_every_upload_with_its_fate_and_the_counts_per_fate(client, alice_phone):
    alice, _, phone = alice_phone
    claim = claim_of(alice, phone.device_id)
    page = html(client, alice, f"/accounts/phones/{claim.pk}/")
    n = len(phone.uploads)
    counts = dict(re.findall(r'<td class="fate-\w+">([^<]+)</td><td>(\d+)</td>', page))
    assert counts == {"indexed": str(n), "duplicate": "1", "quarantined": "1"}
    assert "the server could not read it: " in page                       # the quarantine's reason
    original = Upload.objects.filter(device_id=phone.device_id).order_by("id")[2]
    assert f"upload #{original.pk} already held the same records" in page
    rows = re.findall(r"<tr><td>#(\d+)</td>", page)
    assert len(rows) == n + 2 and rows == sorted(rows, key=int, reverse=True)   # newest first
    # nothing that names the phone publicly, nor its full Device-id
    assert pseudonym(phone.device_id, settings.CRAYFIS_PSEUDONYM_KEY) not in page
    assert phone.device_id not in page and pairing.label_of(phone.device_id) in page


def test_an_upload_held_back_by_the_time_window_says_so(client, alice_phone):
    """The indexer's reason for an upload outside the event-time window (its prefix) is shown as
    that fate, with the rest of the reason."""
    alice, _, phone = alice_phone
    held = Upload.objects.filter(device_id=phone.device_id, status=UploadStatus.INDEXED).order_by("id").last()
    Upload.objects.filter(pk=held.pk).update(
        status=UploadStatus.QUARANTINED, error=WINDOW_REASON_PREFIX + "event time 2031-01-01 is 400 days after ...")
    page = html(client, alice, f"/accounts/phones/{claim_of(alice, phone.device_id).pk}/")
    assert "outside the time window" in page and "event time 2031-01-01 is 400 days after" in page


def test_upload_list_pages_and_refuses_bad_page_numbers(client, alice_phone, settings):
    alice, _, phone = alice_phone
    settings.CRAYFIS_OWNER_UPLOADS_PAGE = 3
    url = f"/accounts/phones/{claim_of(alice, phone.device_id).pk}/"
    first = re.findall(r"<tr><td>#(\d+)</td>", html(client, alice, url))
    second = re.findall(r"<tr><td>#(\d+)</td>", html(client, alice, url + "?uploads=2"))
    assert len(first) == len(second) == 3 and int(first[-1]) > int(second[0])
    for bad in ("0", "x", "-1", "1e3"):
        html(client, alice, f"{url}?uploads={bad}", 400)


def test_only_the_owners_own_uploads_count(client, django_user_model, alice_phone):
    """Mallory posts under Alice's Device-id with his own code: his page shows his upload only,
    and Alice's does not change."""
    alice, _, phone = alice_phone
    alice_url = f"/accounts/phones/{claim_of(alice, phone.device_id).pk}/"
    before = re.findall(r"<tr><td>#(\d+)</td>", html(client, alice, alice_url))
    mallory, code = owner(django_user_model, "mallory")
    result, phones = recent_network()
    other = sim.well_behaved(result, phones)[1]
    forged = other.uploads[1]
    assert post(client, replace(forged, device_id=phone.device_id,
                                headers={**forged.headers, "Device-id": phone.device_id}), code) == 202
    index_uploads()
    page = html(client, mallory, f"/accounts/phones/{claim_of(mallory, phone.device_id).pk}/")
    assert len(re.findall(r"<tr><td>#(\d+)</td>", page)) == 1
    assert re.findall(r"<tr><td>#(\d+)</td>", html(client, alice, alice_url)) == before


def test_the_page_shows_the_flags_of_its_own_uploads(client, django_user_model, es, es_prefix):
    """A phone whose camera is not covered is flagged with the reason; a well-behaved one is not."""
    carol, code = owner(django_user_model, "carol")
    result, phones = recent_network()
    good, other = sim.well_behaved(result, phones)[:2]
    broken = sim.uncovered(other)
    post_phone(client, good, code)
    post_phone(client, broken, code)
    index_uploads()
    page = html(client, carol, f"/accounts/phones/{claim_of(carol, broken.device_id).pk}/")
    assert 'data-flag="uncovered"' in page and "camera not covered" in page and "darkness check refused" in page
    clean = html(client, carol, f"/accounts/phones/{claim_of(carol, good.device_id).pk}/")
    assert 'data-flag="' not in clean and 'id="no-flags"' in clean


def test_rate_and_exposure_series_start_where_the_data_starts(client, alice_phone):
    alice, _, phone = alice_phone
    page = html(client, alice, f"/accounts/phones/{claim_of(alice, phone.device_id).pk}/")
    series = json.loads(re.search(r'<script id="phone-series" type="application/json">(.*?)</script>', page,
                                  re.S).group(1))
    assert series["bucket_ms"] == 3_600_000 and 1 <= len(series["t_ms"]) <= 3
    # every block once (the resend's blocks are not counted again), about the phone's hour live
    live_h = sum(UploadSummary.objects.filter(device_id=phone.device_id, duplicate_of__isnull=True)
                 .values_list("live_s", flat=True)) / 3600
    assert sum(series["live_h"]) == pytest.approx(live_h, abs=1e-3) and 0.9 < live_h < 1.0
    assert series["live_h"][0] > 0                                # no empty stretch before the data


def test_gallery_pages_show_each_event_as_a_png(client, alice_phone, settings):
    alice, _, phone = alice_phone
    settings.CRAYFIS_OWNER_GALLERY_PAGE = 5
    claim = claim_of(alice, phone.device_id)
    page = html(client, alice, f"/accounts/phones/{claim.pk}/events/")
    images = re.findall(r'<img src="(/accounts/phones/\d+/events/(\d+)/(\d+)\.png)"', page)
    classes = re.findall(r'<figure data-morphology="(\w*)">', page)
    assert len(images) == len(classes) == 5 and 'id="older"' in page
    assert set(classes) <= {"spot", "track", "worm", "noise"}
    for url, upload_id, index in images[:2]:
        resp = client.get(url)
        assert resp.status_code == 200 and resp["Content-Type"] == "image/png"
        img = Image.open(io.BytesIO(resp.content)).convert("RGB")
        # drawn from that very event: its pixels' box (+1 each side) scaled up, its brightest pixel white
        pixels = gallery.hit_events(decode(Upload.objects.get(pk=upload_id), with_pixels=True))[int(index)].pixels
        xs, ys = [p[0] for p in pixels], [p[1] for p in pixels]
        width, height = max(xs) - min(xs) + 3, max(ys) - min(ys) + 3
        scale = max(1, gallery.TARGET_PX // max(width, height))
        assert img.size == (width * scale, height * scale)
        bx, by, _ = max(pixels, key=lambda p: p[2])
        assert img.getpixel(((bx - min(xs) + 1) * scale, (by - min(ys) + 1) * scale)) == (255, 255, 255)
    # the newest upload's latest event comes first (the resend of earlier records is not shown again)
    newest = Upload.objects.filter(device_id=phone.device_id, summary__readable=True, summary__n_hits__gt=0,
                                   summary__duplicate_of__isnull=True).order_by("-received_at", "-id").first()
    assert images[0][1] == str(newest.pk)
    second = html(client, alice, f"/accounts/phones/{claim.pk}/events/?page=2")
    assert not set(re.findall(r'<img src="([^"]+)"', second)) & {u for u, _, _ in images}
    assert client.get(f"/accounts/phones/{claim.pk}/events/{images[0][1]}/99999.png").status_code == 404
    assert client.get(f"/accounts/phones/{claim.pk}/events/?page=0").status_code == 400


def test_candidates_joined_are_public_ones_holding_the_owners_own_hits(client, alice_phone, es, es_prefix):
    """A public candidate with one of Alice's hits is listed with the count of her hits; a public
    candidate naming her phone's pseudonym but only others' hits, and a non-public one holding her
    hit, are not."""
    alice, _, phone = alice_phone
    dev = pseudonym(phone.device_id, settings.CRAYFIS_PSEUDONYM_KEY)
    hits = es.search(index=f"{es_prefix}-hits-*", query={"term": {"device": dev}}, size=3,
                     sort=[{"t_ms": "asc"}])["hits"]["hits"]
    mine = hits[0]["_source"]

    def cand(cid, hit_ids, public):
        return {"_index": f"{es_prefix}-candidates", "_id": f"{CONTINUOUS}:{cid}", "_source": {
            "candidate_id": cid, "source": CONTINUOUS, "job_id": CONTINUOUS, "status": "active", "public": public,
            "devices": [dev, "someone"], "hit_ids": hit_ids, "n_hits": len(hit_ids), "n_devices": 2,
            "n_trusted_devices": 2 if public else 0, "multiplicity": 2, "t_start_ms": mine["t_ms"] - 5,
            "t_end_ms": mine["t_ms"] + 5, "cell": "46.25,6.15", "cell_location": {"lat": 46.25, "lon": 6.15}}}

    helpers.bulk(es, [cand("cjoined", [mine["hit_id"], "x1"], True), cand("cothers", ["x2", "x3"], True),
                      cand("chidden", [mine["hit_id"], "x4"], False)], refresh="wait_for")
    page = html(client, alice, f"/accounts/phones/{claim_of(alice, phone.device_id).pk}/")
    section = page[page.index('id="joined"'):]
    assert "cjoined" in section and "cothers" not in section and "chidden" not in section
    assert re.search(r"cjoined</a></td>\s*<td>46.25,6.15</td><td>2</td><td>1</td>", section)

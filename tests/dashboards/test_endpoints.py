"""Every /api/dash/ endpoint against the real ES, checked against the indexed network's truth."""
from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.services import new_scientist_key
from crayfis.privacy import public_cell
from ingest.models import Upload

pytestmark = pytest.mark.django_db


def _get(client, url, status=200):
    resp = client.get(url)
    assert resp.status_code == status, (url, resp.status_code, resp.content[:300])
    return resp.json()


def test_overview_counts_match_the_indexed_network(client, dash):
    ov = _get(client, "/api/dash/overview")
    now = ov["now_ms"]
    in_day = int(((dash.hit_times >= now - 86_400_000) & (dash.hit_times <= now)).sum())
    assert ov["hits_total"] == dash.n_hits
    assert ov["hits_24h"] == in_day
    assert ov["phones_total"] == len(dash.raw_ids)
    # every phone was live until the data was indexed moments ago
    assert ov["active_phones_10m"] == len(dash.raw_ids)
    assert ov["active_phones_24h"] == len(dash.raw_ids)
    # exposure counts data-taking blocks only; the network also has calibration blocks with live time
    assert any(x["state"] == "CALIBRATION" and x["live_s"] for x in dash.exposures)
    assert ov["exposure_hours_total"] == pytest.approx(dash.live_s / 3600.0, abs=0.01)
    assert ov["exposure_blocks_total"] == dash.n_exposures
    assert ov["candidates_total"] == len(dash.candidates)  # neither the retracted nor the hidden one


def test_overview_counts_hits_per_morphology_class(client, dash):
    """Network-wide counts per class as indexed, every class named (0 when none)."""
    ov = _get(client, "/api/dash/overview")
    truth = {name: dash.hits_by_class.get(name, 0) for name in ("spot", "track", "worm", "noise")}
    assert ov["hits_by_class"] == truth and ov["hits_by_class_24h"] == truth   # the network is 30 min old
    assert 0 < sum(truth.values()) < dash.n_hits      # zero-bias samples have no class


@pytest.mark.parametrize("span,buckets,bucket_ms", [("24h", 96, 900_000), ("7d", 168, 3_600_000)])
def test_rates_sum_the_exposure_blocks_of_each_bucket(client, dash, span, buckets, bucket_ms):
    r = _get(client, f"/api/dash/rates?span={span}")
    # a young network (30 minutes): the chart spans its data, from the bucket of its first
    # data-taking block to the running bucket, not the whole span
    first = min(x["start_ms"] for x in dash.exposures if x["state"] not in ("CALIBRATION", "PRECALIBRATION"))
    assert r["t_ms"][0] == first - first % bucket_ms
    assert len(r["t_ms"]) == len(r["hits_per_min"]) == len(r["phones"]) < buckets
    assert r["bucket_ms"] == bucket_ms
    assert np.all(np.diff(r["t_ms"]) == bucket_ms)
    for i, start in enumerate(r["t_ms"]):
        blocks = [x for x in dash.exposures if start <= x["start_ms"] < start + bucket_ms
                  and x["state"] == "DATA"]
        events = sum(x["n_events"] for x in blocks)
        minutes = max(min(bucket_ms, r["now_ms"] - start), 60_000) / 60_000  # the newest bucket runs
        assert r["hits_per_min"][i] == pytest.approx(events / minutes, abs=1e-3)
        assert r["phones"][i] == len({x["device"] for x in blocks})
        if blocks:
            live_min = sum(x["live_s"] for x in blocks) / 60
            assert r["hits_per_live_min"][i] == pytest.approx(events / live_min, abs=1e-3)
    assert r["t_ms"][-1] <= r["now_ms"] < r["t_ms"][-1] + bucket_ms
    in_span = [x for x in dash.exposures if r["t_ms"][0] <= x["start_ms"] < r["t_ms"][-1] + bucket_ms]
    assert r["total_hits"] == sum(x["n_events"] for x in in_span) > 0
    # every indexed hit sits in its block: the blocks' events are the hits
    assert sum(x["n_events"] for x in dash.exposures) == dash.n_hits


def test_rates_rejects_an_unknown_span(client, dash):
    assert "span" in _get(client, "/api/dash/rates?span=1y", status=400)["error"]


@pytest.mark.parametrize("window", ["10m", "24h"])
def test_map_counts_phones_per_public_cell(client, dash, window):
    m = _get(client, f"/api/dash/map?window={window}")
    since, now = m["since_ms"], m["now_ms"]
    cells: dict[tuple, set] = {}
    for xb in dash.exposures:
        if xb["end_ms"] >= since and xb["start_ms"] <= now and xb["cell_location"]:
            key = (round(xb["cell_location"]["lat"], 2), round(xb["cell_location"]["lon"], 2))
            cells.setdefault(key, set()).add(xb["device"])
    got = {(t["lat"], t["lon"]): t["phones"] for t in m["tiles"]}
    assert got == {k: len(v) for k, v in cells.items()}
    assert len(got) >= 2  # the network straddles public cells


def test_map_precision_is_bounded(client, dash):
    assert _get(client, "/api/dash/map?precision=13", status=400)
    coarse = _get(client, "/api/dash/map?window=24h&precision=3")
    assert len(coarse["tiles"]) == 1 and coarse["tiles"][0]["phones"] == len(dash.raw_ids)


def test_candidates_list_newest_first_without_retracted(client, dash):
    body = _get(client, "/api/dash/candidates")
    ids = [c["candidate_id"] for c in body["candidates"]]
    assert set(ids) == {c["candidate_id"] for c in dash.candidates}
    assert body["total"] == len(dash.candidates)
    starts = [c["t_start_ms"] for c in body["candidates"]]
    assert starts == sorted(starts, reverse=True)
    for item in body["candidates"]:
        truth = next(c for c in dash.candidates if c["candidate_id"] == item["candidate_id"])
        _, clat, clon = public_cell(truth["lat"], truth["lon"])
        assert (item["lat"], item["lon"]) == (round(clat, 2), round(clon, 2))
        assert item["n_devices"] == truth["n_devices"]
        assert item["false_alarm_per_year"] == truth["false_alarm_per_year"]
        assert "hit_ids" not in item and "location" not in item
    everything = _get(client, "/api/dash/candidates?retracted=1")
    assert dash.retracted_id in {c["candidate_id"] for c in everything["candidates"]}
    assert dash.hidden["candidate_id"] not in {c["candidate_id"] for c in everything["candidates"]}


def test_candidates_paging(client, dash):
    page = _get(client, "/api/dash/candidates?limit=1&offset=1")
    assert len(page["candidates"]) == 1
    second = _get(client, "/api/dash/candidates")["candidates"][1]
    assert page["candidates"][0]["candidate_id"] == second["candidate_id"]
    _get(client, "/api/dash/candidates?limit=0", status=400)


def test_candidate_detail_counts_cell_and_multiplicity(client, dash, django_user_model):
    """The public detail shows counts, times, one public cell and the multiplicity distribution
    of public candidates; its members (pseudonyms, hit times, per-hit cells) only reach a
    scientist's key (docs/security.md). The member checks that the public detail used to carry
    (its hits' devices and offsets) are made on the keyed read API."""
    truth = dash.candidates[0]
    c = _get(client, f"/api/dash/candidates/{truth['candidate_id']}")
    assert not {"hits", "cells", "devices", "hit_ids"} & set(c)
    assert (c["n_devices"], c["n_trusted_devices"], c["n_hits"]) == (truth["n_devices"], truth["n_devices"],
                                                                      truth["n_hits"])
    assert c["cell"] == truth["cell"] and (c["t_start_ms"], c["t_end_ms"]) == (truth["t_start_ms"], truth["t_end_ms"])
    expected = {}
    for cand in dash.candidates:
        expected[cand["n_devices"]] = expected.get(cand["n_devices"], 0) + 1
    assert {b["n_devices"]: b["candidates"] for b in c["multiplicity_distribution"]} == expected

    user = django_user_model.objects.create_user("sci", password="x")
    user.user_permissions.add(Permission.objects.get(codename="read_exact_hits"))
    key = new_scientist_key(django_user_model.objects.get(pk=user.pk), "dash")
    span = f"from_ms={truth['t_start_ms']}&to_ms={truth['t_start_ms'] + 1}"
    keyed = client.get(f"/api/v1/candidates?{span}", HTTP_AUTHORIZATION=f"Api-Key {key}").json()["results"]
    (sci,) = [k for k in keyed if k["candidate_id"] == truth["candidate_id"]]
    assert sci["devices"] == truth["devices"] and len(sci["hit_ids"]) == truth["n_hits"]
    hits = client.get(f"/api/v1/hits?from_ms={truth['t_start_ms']}&to_ms={truth['t_end_ms'] + 1}",
                      HTTP_AUTHORIZATION=f"Api-Key {key}").json()["results"]
    members = [h for h in hits if h["hit_id"] in set(sci["hit_ids"])]
    assert {h["device"] for h in members} == set(truth["devices"])
    offsets = [h["t_ms"] - truth["t_start_ms"] for h in members]
    assert min(offsets) == 0 and max(offsets) == truth["t_end_ms"] - truth["t_start_ms"]


def test_candidate_multiplicity_against_the_background(client, dash):
    """The chart's data: per multiplicity m from k, the accidental windows with at least m phones
    the scorer expected over its span (as stored), beside the public active candidates observed
    in that span with at least m phones (the retracted and the hidden one not counted)."""
    truth = dash.candidates[0]
    bg = _get(client, f"/api/dash/candidates/{truth['candidate_id']}")["background"]
    curve = truth["expected_by_multiplicity"]
    assert bg["multiplicity"] == list(range(truth["k"], truth["k"] + len(curve)))
    assert bg["expected"] == pytest.approx(curve)
    assert curve[0] > 0 and all(a >= b for a, b in zip(curve, curve[1:]))   # fewer at higher multiplicity
    assert (bg["from_ms"], bg["to_ms"]) == (truth["background_from_ms"], truth["background_to_ms"])
    assert bg["from_ms"] % 1000 == 0 and bg["to_ms"] % 1000 == 999
    in_span = [c for c in dash.candidates if bg["from_ms"] <= c["t_start_ms"] <= bg["to_ms"]]
    assert bg["observed"] == [sum(c["multiplicity"] >= m for c in in_span) for m in bg["multiplicity"]]
    assert bg["observed"][0] == len(dash.candidates) > 0
    assert max(truth["multiplicity"] for truth in dash.candidates) <= bg["multiplicity"][-1]


def test_a_candidate_that_is_not_public_is_404(client, dash):
    _get(client, f"/api/dash/candidates/{dash.hidden['candidate_id']}", status=404)


def test_unknown_candidate_is_404(client, dash):
    _get(client, "/api/dash/candidates/no-such-thing", status=404)


def test_device_summary(client, dash):
    pseud = dash.candidates[0]["devices"][0]
    d = _get(client, f"/api/dash/device/{pseud}")
    assert d["hits_total"] == dash.hits_by_device[pseud]
    assert d["exposure_hours"] == pytest.approx(dash.live_s_by_device[pseud] / 3600.0, abs=1e-3)
    # no candidate on a device page (which candidates a phone joined is the oracle's read-out;
    # the leaderboard counts public ones), and no time finer than the hour
    assert not [k for k in d if "candidate" in k]
    assert all(d[k] % 3_600_000 == 0 for k in ("first_hit_ms", "last_hit_ms", "last_exposure_end_ms"))
    assert sum(d["hit_rate"]["hits_per_min"]) * 60 == pytest.approx(
        ((dash.hit_devices == pseud) & (dash.hit_times >= d["hit_rate"]["t_ms"][0])).sum(), abs=0.5)
    assert d["calibration"]["calibration_frames"] > 0
    assert d["calibration"]["l1_threshold"] is not None


def test_unknown_device_is_404(client, dash):
    _get(client, "/api/dash/device/dffffffffffffffff", status=404)


def test_leaderboard_ranks_by_candidates_per_hour_and_sets_the_hot_phone_aside(client, dash):
    lb = _get(client, "/api/dash/leaderboard")
    ranked = {r["device"]: r for r in lb["ranked"]}
    unranked = {r["device"]: r for r in lb["unranked"]}
    assert set(ranked) | set(unranked) == set(dash.pseudonyms.values())
    assert dash.hot and all(unranked[p]["reason"] == "rate inconsistent" for p in dash.hot)
    scores = [r["score"] for r in lb["ranked"]]
    assert scores == sorted(scores, reverse=True)
    for dev, row in ranked.items():
        joined = sum(dev in c["devices"] for c in dash.candidates)
        assert row["candidates"] == joined
        assert row["score"] == pytest.approx(100 * joined / (dash.live_s_by_device[dev] / 3600), rel=1e-3)
    assert lb["ranked"][0]["candidates"] >= 1


def test_status_reports_search_doc_and_pending_uploads(client, dash, es):
    es.index(index=f"{dash.prefix}-status", id="search", refresh="wait_for",
             document={"last_pass_ms": dash.now_ms - 5_000, "lag_ms": 42_000,
                       "oldest_pending_bucket_ms": dash.now_ms - 120_000})
    for i in range(3):
        Upload.objects.create(device_id=f"dev{i}", sha256=f"{i:064x}", body=b"x", size=1,
                              received_at=timezone.now())
    Upload.objects.filter(device_id="dev2").update(status="indexed")
    try:
        st = _get(client, "/api/dash/status")
    finally:
        es.delete(index=f"{dash.prefix}-status", id="search", refresh="wait_for")
    assert st["elasticsearch"]["ok"] is True
    assert st["search"]["lag_ms"] == 42_000
    assert st["search"]["age_ms"] >= 5_000
    assert st["uploads"]["pending"] == 2


def test_status_without_search_doc_says_not_run(client, dash):
    assert _get(client, "/api/dash/status")["search"] is None


def test_post_is_refused(client, dash):
    assert client.post("/api/dash/overview").status_code == 405

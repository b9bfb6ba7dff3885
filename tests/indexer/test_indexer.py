"""The indexer against the real Elasticsearch node: wire samples, dedup, poison, precal, buckets."""
from __future__ import annotations

import base64
import json

import pytest

from crayfis.privacy import pseudonym
from indexer.worker import Indexer, IndexerConfig, make_indexer_client
from ingest.models import Device, PreCalibration, TouchedBucket, Upload
from tests.indexer.conftest import staged_rows
from tests.ingest.conftest import post_submit

pytestmark = pytest.mark.django_db


def index_all(es_url, **overrides):
    return Indexer(make_indexer_client(es_url), IndexerConfig.from_settings(**overrides)).run(once=True)


def search(es, prefix, kind, **query):
    es.indices.refresh(index=f"{prefix}-*", ignore_unavailable=True)
    body = {"query": {"term": query}} if query else {"query": {"match_all": {}}}
    return [h["_source"] for h in es.search(index=f"{prefix}-{kind}*", size=1000, **body)["hits"]["hits"]]


def submit_sample(client, samples, name):
    body, exp = samples[name]
    headers = {k: v for k, v in exp["headers"].items() if k != "Content-type"}
    assert post_submit(client, body, headers).status_code == 202
    return exp


def test_2021_sample_indexes_runs_exposures_hits_calibration_precal(client, samples, es, es_url, es_prefix,
                                                                    settings, archive_dir):
    exp = submit_sample(client, samples, "v1.0.4-data.bin")
    totals = index_all(es_url)
    assert (totals.indexed, totals.quarantined) == (1, 0)
    dev = pseudonym(exp["headers"]["Device-id"], settings.CRAYFIS_PSEUDONYM_KEY)

    hits = sorted(search(es, es_prefix, "hits"), key=lambda h: h["t_ms"])
    assert [h["t_ms"] for h in hits] == [e["timestamp"] for e in exp["events"]] + [exp["zero_bias"]["timestamp"]]
    assert {h["device"] for h in hits} == {dev}
    assert [h["n_pix"] for h in hits[:3]] == [e["n_hits"] for e in exp["events"]]
    assert [h["is_hit"] for h in hits] == [True, True, True, False]
    assert hits[0]["location"] == {"lat": pytest.approx(46.2331), "lon": pytest.approx(6.0557)}
    # the event fields the index leaves out are in the archive, one row per hit (the zero-bias
    # sample is not a hit)
    rows = staged_rows(archive_dir).to_pylist()
    assert [r["hit_id"] for r in rows] == [h["hit_id"] for h in hits[:3]]
    assert [r["zero_bias"] for r in rows] == [False, False, False]
    assert all(r["run"] == exp["run_uuid"] and r["xbn"] == 4 and r["device_id"] == dev for r in rows)
    assert [(r["lat"], r["lon"]) for r in rows] == [(h["location"]["lat"], h["location"]["lon"]) for h in hits[:3]]
    assert [r["upload"] for r in rows] == [Upload.objects.get().id] * 3
    assert hits[0]["cell"] == "46.25,6.05"
    # pixel value = (7x + 13y) % 256: the largest around (100,200),(102,201) is 255 at (102,201)
    assert hits[0]["max_val"] == max(v for _, _, v in exp["events"][0]["pixels"])
    assert exp["headers"]["Device-id"] not in json.dumps(hits)

    (xb,) = search(es, es_prefix, "exposures")
    xe = exp["exposure_block"]
    assert (xb["state"], xb["xbn"], xb["start_ms"], xb["end_ms"]) == (xe["daq_state"], xe["xbn"],
                                                                      xe["start_time"], xe["end_time"])
    assert xb["l1_threshold"] == pytest.approx(xe["l1_threshold"], abs=1e-4)
    assert xb["battery_temp_c"] is None and xb["battery_end_temp_c"] == pytest.approx(31.2)
    assert [xb["l0_processed"], xb["qual_processed"], xb["l1_processed"], xb["l2_processed"]] == \
        xe["stage_processed"]
    assert xb["l2_pass"] == xe["stage_pass"][3]
    assert xb["n_events"] == xe["n_events"] and xb["n_zero_bias"] == xe["n_zero_bias"]

    (run,) = search(es, es_prefix, "runs")
    assert (run["run"], run["model"], run["build"]) == (exp["run_uuid"], "Pixel 4a", "v1.0.4")
    (cal,) = search(es, es_prefix, "calibrations")
    assert cal["end_ms"] == exp["calibration"]["end_time"]

    pre = PreCalibration.objects.get()
    assert (pre.device_id, pre.camera_id, pre.res_x, pre.res_y) == (exp["headers"]["Device-id"], 0, 1920, 1080)
    assert (pre.hot_hash, pre.wgt_hash) == (123456789, 987654321)
    assert list(pre.mask) == exp["precalibration"]["hotcell"]
    assert len(bytes(pre.weights)) == exp["precalibration"]["weights_bytes"]

    up = Upload.objects.get()
    assert (up.status, up.n_docs, up.n_hits) == ("indexed", 1 + 1 + 4 + 1 + 1, 4)
    device = Device.objects.get(device_id=exp["headers"]["Device-id"])
    assert device.pseudonym == dev and device.uploads_indexed == 1
    times = [e["timestamp"] for e in exp["events"]] + [exp["zero_bias"]["timestamp"]]
    expected = {}
    for t in times:
        expected[t // 60_000 * 60_000] = expected.get(t // 60_000 * 60_000, 0) + 1
    assert dict(TouchedBucket.objects.values_list("bucket_ms", "hits")) == expected


def test_2016_sample_low_half_run_id_pixels_and_no_fix(client, samples, es, es_url, es_prefix, archive_dir):
    exp = submit_sample(client, samples, "v0.7-2016-data.bin")
    assert index_all(es_url).indexed == 1
    hits = sorted(search(es, es_prefix, "hits"), key=lambda h: h["t_ms"])
    assert [h["t_ms"] for h in hits] == [e["timestamp"] for e in exp["events"]]
    assert [h["max_val"] for h in hits] == [e["max_val"] for e in exp["events"]]
    rows = staged_rows(archive_dir).to_pylist()
    assert [r["hit_id"] for r in rows] == [h["hit_id"] for h in hits]
    assert all(r["run"] == exp["run_uuid_from_header"] for r in rows)
    assert all(r["lat"] is None and r["lon"] is None for r in rows)
    assert all("location" not in h and "cell" not in h for h in hits)  # 0/0 without accuracy
    (xb,) = search(es, es_prefix, "exposures")
    assert (xb["l1_processed"], xb["l1_pass"], xb["l2_pass"]) == (3600, 118, 350)
    assert "location" not in xb and xb["res_x"] == 640
    assert search(es, es_prefix, "hits-1970*") == []


def test_calibration_block_without_events(client, samples, es, es_url, es_prefix):
    exp = submit_sample(client, samples, "v0.11-calibration-aborted.bin")
    assert index_all(es_url).indexed == 1
    (xb,) = search(es, es_prefix, "exposures")
    assert xb["state"] == "CALIBRATION" and xb["aborted"] is True and xb["n_events"] == 0
    assert xb["run"] == exp["headers"]["Run-id"]
    assert not TouchedBucket.objects.exists()


def test_five_sends_one_row_one_copy_indexed(client, samples, es, es_url, es_prefix):
    for _ in range(5):
        submit_sample(client, samples, "v1.0.4-data.bin")
    assert Upload.objects.count() == 1
    index_all(es_url)
    assert len(search(es, es_prefix, "hits")) == 4


def test_same_records_in_different_bytes_are_indexed_once(client, samples, es, es_url, es_prefix):
    """A phone that re-batches the same records sends new bytes: ids still dedup the documents."""
    body, exp = samples["v1.0.4-data.bin"]
    headers = {k: v for k, v in exp["headers"].items() if k != "Content-type"}
    post_submit(client, body, headers)
    post_submit(client, body + body[:0] + b"\x2a\x00", headers)  # + an empty precalibration_updates
    assert Upload.objects.count() == 2
    totals = index_all(es_url)
    assert totals.indexed == 2
    assert len(search(es, es_prefix, "hits")) == 4
    assert len(search(es, es_prefix, "exposures")) == 1


def test_poison_is_quarantined_and_the_queue_goes_on(client, samples, es, es_url, es_prefix):
    post_submit(client, b"\xff\xff\xff\xff not protobuf")
    submit_sample(client, samples, "v1.0.4-data.bin")
    totals = index_all(es_url)
    assert (totals.indexed, totals.quarantined) == (1, 1)
    bad = Upload.objects.get(status="quarantined")
    assert bytes(bad.body).startswith(b"\xff") and "WireDecodeError" in bad.error
    assert len(search(es, es_prefix, "hits")) == 4
    # re-queued from the admin, it is quarantined again (and nothing else changes)
    Upload.objects.filter(pk=bad.pk).update(status="pending", attempts=0)
    assert index_all(es_url).quarantined == 1


def test_precal_json_serves_the_stored_map_else_204(client, samples, es, es_url, es_prefix):
    exp = submit_sample(client, samples, "v1.0.4-data.bin")
    query = {"device_id": exp["headers"]["Device-id"], "camera_id": 0, "res": "1920x1080"}
    assert client.post("/precal.json", query, content_type="application/json").status_code == 204
    index_all(es_url)
    resp = client.post("/precal.json", query, content_type="application/json")
    assert resp.status_code == 200
    got = json.loads(resp.content)
    assert set(got) == {"weights", "mask", "hot_hash", "wgt_hash"}
    assert got["mask"] == exp["precalibration"]["hotcell"]
    assert (got["hot_hash"], got["wgt_hash"]) == (123456789, 987654321)
    assert len(base64.b64decode(got["weights"])) == exp["precalibration"]["weights_bytes"]
    for other in ({**query, "camera_id": 1}, {**query, "res": "1280x720"}, {**query, "device_id": "x"}):
        assert client.post("/precal.json", other, content_type="application/json").status_code == 204


def test_precal_json_bad_request_is_400(client):
    for body in (b"not json", b"{}", b'{"device_id": "a", "camera_id": 0, "res": "big"}',
                 b'{"device_id": "a", "camera_id": 1e30, "res": "1x1"}',
                 b'{"device_id": "a", "camera_id": 0, "res": "99999999999999999999x1"}', b"[]"):
        resp = client.post("/precal.json", body, content_type="application/json")
        assert resp.status_code == 400
        assert "error" in json.loads(resp.content)

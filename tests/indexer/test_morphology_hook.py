"""The morphology class on hit documents, computed at index time (indexer/morphology.py).

Labelled simulated events (crayfis.sim.pixels) posted as the app posts them, and as JSON
uploads, indexed by the real indexer into the real node. Each hit document's `morphology` must
be the class the classifier gives the same event read another way (the protobuf decoder's
pixels, not the indexer's compiled reader), zero-bias samples get none, and with the setting
off no document has the field.
"""
from __future__ import annotations

import json
import time

import pytest

from accounts.services import register_device
from crayfis.morphology.classify import class_names, classify_events
from crayfis.sim import pixels as simpix
from crayfis.wire.decode import decode_submit
from crayfis.wire.jsonapi import decode_upload
from indexer.worker import Indexer, IndexerConfig, make_indexer_client
from tests.api.conftest import post_upload, upload_body
from tests.indexer.test_indexer import search, submit_sample
from tests.ingest.conftest import post_submit

pytestmark = pytest.mark.django_db

DEVICE = "5eed0000000c1a55"


def index_all(es_url) -> None:
    totals = Indexer(make_indexer_client(es_url), IndexerConfig.from_settings()).run(once=True)
    assert totals.quarantined == 0 and totals.indexed >= 1


def labelled_upload(n: int = 80, seed: int = 11) -> tuple[bytes, dict, list]:
    events = simpix.simulate(n, seed)
    run = simpix.run_uuid_for(seed)
    start = time.time_ns() // 1_000_000 - 3_600_000
    body = simpix.data_chunk(events, run_uuid=run, start_ms=start)
    headers = {"Device-id": DEVICE, "Run-id": run, "Camera-id": "0", "Crayfis-version": "b v1.0.4",
               "Crayfis-version-code": "256"}
    return body, headers, events


def test_every_hit_carries_the_class_of_its_pixels(client, es, es_url, es_prefix):
    body, headers, events = labelled_upload()
    assert post_submit(client, body, headers).status_code == 202
    index_all(es_url)
    hits = sorted(search(es, es_prefix, "hits"), key=lambda h: h["t_ms"])
    expected = class_names(classify_events(decode_submit(body, headers, with_pixels=True).events))
    assert [h.get("morphology") for h in hits] == expected
    assert None not in expected and set(expected) == {"spot", "track", "worm", "noise"}
    # and it is the simulator's truth for most of them (the score in docs/morphology.md)
    agree = sum(h["morphology"] == ev.label for h, ev in zip(hits, events))
    assert agree >= 0.8 * len(events)


def test_a_zero_bias_sample_gets_no_class(client, samples, es, es_url, es_prefix):
    submit_sample(client, samples, "v1.0.4-data.bin")
    index_all(es_url)
    hits = sorted(search(es, es_prefix, "hits"), key=lambda h: h["t_ms"])
    assert [h["is_hit"] for h in hits] == [True, True, True, False]   # the last is the zero-bias sample
    assert all(h.get("morphology") in {"spot", "track", "worm", "noise"} for h in hits[:3])
    assert "morphology" not in hits[3]


def test_json_uploads_are_classified_from_their_pixels(client, django_user_model, es, es_url, es_prefix):
    reg, key = register_device(django_user_model.objects.create_user("pi", password="pw-pi-123456"), "pi", "camera")
    _, _, events = labelled_upload(8, seed=3)
    t0 = time.time_ns() // 1_000_000 - 3_600_000
    body = upload_body(n_hits=0, t0=t0)
    body["blocks"][0]["hits"] = [{"t_ms": t0 + 1000 * (i + 1), "pixels": [list(p) for p in ev.lit_values]}
                                 for i, ev in enumerate(events)]
    assert post_upload(client, key, body).status_code == 202
    index_all(es_url)
    hits = sorted(search(es, es_prefix, "hits"), key=lambda h: h["t_ms"])
    chunk = decode_upload(json.dumps(body).encode(), reg.device.device_id)
    assert [h.get("morphology") for h in hits] == class_names(classify_events(chunk.events))
    assert all(h.get("morphology") for h in hits)


def test_the_setting_switches_classification_off(client, es, es_url, es_prefix, settings):
    settings.CRAYFIS_INDEXER_MORPHOLOGY = False
    body, headers, events = labelled_upload(10, seed=4)
    assert post_submit(client, body, headers).status_code == 202
    index_all(es_url)
    hits = search(es, es_prefix, "hits")
    assert len(hits) == len(events) and not any("morphology" in h for h in hits)

"""Random, truncated and mutated bodies: /submit never answers 5xx, the indexer never stalls."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.models import Upload
from tests.indexer.test_indexer import index_all, search, submit_sample
from tests.ingest.conftest import B_HEADERS, SAMPLES, post_submit

pytestmark = pytest.mark.django_db

_SEEDS = [(SAMPLES / name).read_bytes() for name in ("v1.0.4-data.bin", "v0.7-2016-data.bin",
                                                      "v0.11-calibration-aborted.bin")]


@st.composite
def bodies(draw):
    kind = draw(st.sampled_from(["random", "truncated", "flipped", "spliced"]))
    if kind == "random":
        return draw(st.binary(max_size=3000))
    seed = draw(st.sampled_from(_SEEDS))
    if kind == "truncated":
        return seed[: draw(st.integers(0, len(seed) - 1))]
    if kind == "flipped":
        out = bytearray(seed)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(out) - 1))
            out[i] = draw(st.integers(0, 255))
        return bytes(out)
    i = draw(st.integers(0, len(seed)))
    return seed[:i] + draw(st.binary(min_size=1, max_size=64)) + seed[i:]


def test_fuzzed_bodies_are_kept_and_answered_202_and_never_block_the_queue(client, samples, es, es_url,
                                                                            es_prefix):
    sent: list[bytes] = []

    @settings(max_examples=50, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(body=bodies(), device=st.text("0123456789abcdef", min_size=1, max_size=16))
    def post(body, device):
        resp = post_submit(client, body, dict(B_HEADERS, **{"Device-id": f"fuzz{device}"}))
        if not body:   # the one body refused: the app never sends an empty one (docs/ingest.md)
            assert resp.status_code == 400
            return
        assert resp.status_code == 202
        assert isinstance(json.loads(resp.content), dict)
        sent.append(body)

    post()
    submit_sample(client, samples, "v1.0.4-data.bin")  # a good upload queued behind the junk
    totals = index_all(es_url, batch=16)
    assert not Upload.objects.filter(status="pending").exists(), "every upload is indexed or quarantined"
    assert totals.indexed + totals.quarantined == Upload.objects.count()
    quarantined = Upload.objects.filter(status="quarantined")
    assert all(q.error for q in quarantined)
    assert Upload.objects.get(device_id=B_HEADERS["Device-id"]).status == "indexed"
    good = [h for h in search(es, es_prefix, "hits") if h["run"] == "7f3c2a10-51d4-4e8b-9a6f-2b1c0d9e8f70"]
    assert len(good) >= 4


_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                            max_leaves=6)


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.fixed_dictionaries({}, optional={"device_id": _json_values, "camera_id": _json_values,
                                                 "res": _json_values | st.from_regex(r"\A-?\d{1,25}x\d{1,25}\Z")}))
def test_precal_queries_never_5xx(client, query):
    resp = client.post("/precal.json", json.dumps(query), content_type="application/json")
    assert resp.status_code in (204, 400)


@pytest.mark.parametrize("body", [b'{"device_id": "a", "camera_id": Infinity, "res": "1x1"}',
                                  b'{"device_id": "a", "camera_id": 1e999, "res": "1x1"}'])
def test_precal_query_with_infinity_is_400(client, body):
    """JSON's Infinity (or an overflowing 1e999) as a number: int() raises OverflowError, answered 400."""
    resp = client.post("/precal.json", body, content_type="application/json")
    assert resp.status_code == 400

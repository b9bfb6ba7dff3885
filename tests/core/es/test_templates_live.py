"""Templates and documents against the real Elasticsearch node (fixtures `es`, `es_prefix`)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from elasticsearch import BadRequestError, helpers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crayfis.archive.rows import hit_columns
from crayfis.es.documents import build_actions
from crayfis.es.geobox import box_ranges
from crayfis.es.naming import KINDS, index_pattern
from crayfis.es.templates import MAPPINGS, ensure_templates, template_name
from crayfis.wire import build
from crayfis.wire import crayfis_pb2 as pb
from crayfis.wire.decode import WireDecodeError, decode_submit

DATA = Path(__file__).parents[1] / "wire" / "data"
EXPECTED = json.loads((DATA / "expected.json").read_text())
KEY = b"live-key"


def _sample_actions(prefix):
    out = []
    for name, spec in sorted(EXPECTED.items()):
        chunk = decode_submit((DATA / name).read_bytes(), spec["headers"], with_pixels=False)
        out += build_actions(chunk, prefix=prefix, key=KEY, received_ms=1735689600000)
    return out


def _bulk(es, actions, refresh="wait_for"):
    ok, errors = helpers.bulk(es, actions, raise_on_error=False, refresh=refresh)
    return ok, errors


_templated: set[str] = set()


def test_ensure_templates_is_idempotent(es, es_prefix):
    names = ensure_templates(es, es_prefix)
    again = ensure_templates(es, es_prefix)
    assert names == again == [template_name(es_prefix, k) for k in KINDS]
    for kind in MAPPINGS:
        got = es.indices.get_index_template(name=template_name(es_prefix, kind))["index_templates"][0]
        assert got["index_template"]["index_patterns"] == [index_pattern(es_prefix, kind)]
    for kind in ("runs", "precalibrations", "candidates"):
        assert es.indices.exists(index=f"{es_prefix}-{kind}")


def test_samples_index_replay_mappings_and_queries(es, es_prefix):
    """One index build (index creation is the slow part of the node) checked several ways."""
    ensure_templates(es, es_prefix)
    actions = _sample_actions(es_prefix)
    ok, errors = _bulk(es, actions)
    assert errors == [] and ok == len(actions)

    # a replay of the same uploads creates nothing: every action answers 409
    ok, errors = _bulk(es, _sample_actions(es_prefix))
    assert ok == 0 and len(errors) == len(actions)
    assert all(e["create"]["status"] == 409 for e in errors)
    assert es.count(index=f"{es_prefix}-*")["count"] == len(actions)

    index = f"{es_prefix}-hits-2025.01"
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    props = mapping["properties"]
    assert mapping["dynamic"] == "strict" and mapping["_meta"]["schema_version"] == 2
    assert {k: v["type"] for k, v in props["location"]["properties"].items()} == {"lat": "double", "lon": "double"}
    assert props["cell_location"]["type"] == "geo_point"
    assert props["t_ms"]["type"] == "long" and props["device"]["type"] == "keyword"
    idx_settings = es.indices.get_settings(index=index)[index]["settings"]["index"]
    assert idx_settings["number_of_replicas"] == "0" and idx_settings["refresh_interval"] == "1s"
    assert idx_settings["mapping"]["source"]["mode"] == "synthetic"
    assert idx_settings["sort"]["field"] == ["t_ms", "hit_id"] and idx_settings["codec"] == "best_compression"

    # what the index returns is what was sent (synthetic source; exact doubles)
    sent = {a["_id"]: a["_source"] for a in actions if a["_index"].startswith(f"{es_prefix}-hits-")}
    got = {h["_id"]: h["_source"] for h in es.search(index=f"{es_prefix}-hits-*", size=1000)["hits"]["hits"]}
    assert sent.keys() == got.keys()
    for hid, src in sent.items():
        want = {k: v for k, v in src.items() if v is not None and k != "cell_location"}
        assert {k: v for k, v in got[hid].items() if k != "cell_location"} == want, hid

    near = es.search(index=f"{es_prefix}-hits-*", query={"bool": {"filter": [
        box_ranges("location.lat", "location.lon", 6.05, 46.23, 6.06, 46.24),
        {"range": {"t_ms": {"gte": 1735689700000, "lte": 1735689702000}}},
        {"term": {"is_hit": True}},
    ]}})
    assert near["hits"]["total"]["value"] == 3
    cells = es.search(index=f"{es_prefix}-hits-*", size=0, aggs={"c": {"terms": {"field": "cell"}}})
    assert [b["key"] for b in cells["aggregations"]["c"]["buckets"]] == ["46.25,6.05"]


def test_strict_hits_and_candidates(es, es_prefix):
    ensure_templates(es, es_prefix)
    with pytest.raises(BadRequestError):
        es.index(index=f"{es_prefix}-hits-2025.01", id="x", document={"hit_id": "x", "not_a_field": 1})
    # the candidate document has one shape (crayfis/es/candidates.py): a field outside it, such as
    # another writer's name for the false-alarm rate, is refused and nothing is stored
    for extra in ({"extra": {"a": 1}}, {"far_per_year": 0.5}, {"lat": 46.2, "lon": 6.1}):
        with pytest.raises(BadRequestError, match="strict_dynamic_mapping_exception"):
            es.index(index=f"{es_prefix}-candidates", id="c1", refresh="wait_for",
                     document={"candidate_id": "c1", "n_devices": 3, "t_start_ms": 1735689700000, **extra})
    es.indices.refresh(index=f"{es_prefix}-candidates")
    assert es.count(index=f"{es_prefix}-candidates")["count"] == 0


_u32 = st.integers(0, 2**32 - 1)
# mostly one month (each new monthly index costs the node a second), plus the extremes
_ms = st.one_of(st.integers(1735689600000, 1735689600000 + 10**9), st.sampled_from([0, 1, 253402300799999]))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_extreme_but_decodable_values_are_indexable(es, es_prefix, data):
    """Whatever the decoder accepts, the strict mappings and the archive's columns accept: no
    poison after decoding."""
    if es_prefix not in _templated:          # once per test, not per example
        ensure_templates(es, es_prefix)
        _templated.add(es_prefix)
    xb = pb.ExposureBlock(
        run_id=data.draw(st.integers(0, 2**64 - 1)), run_id_hi=data.draw(st.integers(0, 2**64 - 1)),
        start_time=data.draw(_ms), end_time=data.draw(_ms),
        xbn=data.draw(_u32), daq_state=data.draw(st.sampled_from([0, 1, 2, 3])),
        gps_lat=data.draw(st.floats(allow_nan=True)), gps_lon=data.draw(st.floats(allow_nan=True)),
        gps_accuracy=data.draw(st.floats(width=32)), gps_altitude=data.draw(st.floats()),
        L1_thresh=data.draw(st.integers(-2**31, 2**31 - 1)), L1_prescale=data.draw(st.floats(width=32)),
        L2_thresh=data.draw(st.integers(-2**31, 2**31 - 1)), battery_temp=data.draw(_u32),
        res_x=data.draw(st.integers(1, 64)), res_y=data.draw(st.integers(1, 64)), frames_dropped=data.draw(_u32),
        hot_hash=data.draw(st.integers(-2**31, 2**31 - 1)),
        config=[data.draw(st.text(max_size=2000))], processed=data.draw(st.lists(_u32, max_size=5)),
        L1_processed=data.draw(_u32), start_time_nano=data.draw(st.integers(0, 2**64 - 1)),
    )
    ev = xb.events.add(timestamp=data.draw(_ms),
                       timestamp_nano=data.draw(st.integers(0, 2**64 - 1)),
                       exposure_time=data.draw(st.integers(0, 2**64 - 1)),
                       avg=data.draw(st.floats()), std=data.draw(st.floats()),
                       pressure=data.draw(st.floats(width=32)), orient_x=data.draw(st.floats(width=32)))
    ev.pixels.add(x=data.draw(_u32), y=data.draw(_u32), val=data.draw(_u32))
    rc = pb.RunConfig(id_hi=xb.run_id_hi or 1, id_lo=xb.run_id, crayfis_build=data.draw(st.text(max_size=3000)),
                      hw_params=data.draw(st.text(max_size=200)), camera_id=data.draw(_u32))
    body = build.data_chunk([rc], [xb])
    try:
        chunk = decode_submit(body, {"Device-id": "dev", "Camera-id": str(data.draw(_u32))})
    except WireDecodeError:
        return
    actions = build_actions(chunk, prefix=es_prefix, key=KEY, received_ms=1)
    hit_columns(chunk, key=KEY, device_id="dev", upload=1, received_ms=1).table()  # the archive takes it too
    ok, errors = _bulk(es, actions, refresh=False)
    assert [e for e in errors if e["create"]["status"] != 409] == []
    assert ok + len(errors) == len(actions)


def test_make_client_talks_to_the_node(es_url):
    from crayfis.es.client import make_client

    client = make_client(es_url, request_timeout=10)
    try:
        assert client.cluster.health()["status"] in ("green", "yellow")
    finally:
        client.close()

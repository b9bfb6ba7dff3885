"""The JSON upload format: validation names every bad field; decoding feeds the same documents."""
from __future__ import annotations

import json
import uuid

import msgspec
import pytest

from crayfis.es.documents import build_actions
from crayfis.wire import jsonapi
from crayfis.wire.jsonapi import Limits, UploadInvalid, decode_upload, validate_upload

T0 = 1_760_000_000_000


def body(**over) -> dict:
    doc = {
        "upload_id": "6f1c2a9e-3b7d-4c41-9a55-0d2e8f7b1c33",
        "detector": {"kind": "scintillator", "model": "CosmicWatch v2", "build": "fw-1.4"},
        "blocks": [
            {"start_ms": T0, "end_ms": T0 + 60_000, "location": {"lat": 46.2, "lon": 6.05, "accuracy": 12.0},
             "hits": [{"t_ms": T0 + 1_000, "amplitude": 412},
                      {"t_ms": T0 + 2_000, "location": {"lat": 46.21, "lon": 6.06}, "pixels": [[3, 4, 30], [5, 6, 80]]},
                      {"t_ms": T0 + 2_000, "t_ns": 17}]},
            {"start_ms": T0 + 60_000, "end_ms": T0 + 120_000, "live_s": 55.5, "hits": []},
        ],
    }
    doc.update(over)
    return doc


def enc(doc) -> bytes:
    return json.dumps(doc).encode()


def errors_of(raw: bytes, limits: Limits | None = None) -> list[dict]:
    with pytest.raises(UploadInvalid) as info:
        validate_upload(raw, limits or Limits())
    return [e.as_dict() for e in info.value.errors]


def test_valid_body_decodes_to_records():
    chunk = decode_upload(enc(body()), "api-0001")
    assert chunk.device_id == "api-0001" and chunk.client == "json"
    assert len(chunk.runs) == 1 and chunk.runs[0].model == "CosmicWatch v2"
    xb0, xb1 = chunk.exposures
    assert (xb0.xbn, xb1.xbn) == (0, 1)
    assert xb0.live_s == 60.0 and xb1.live_s == 55.5
    assert xb0.n_hits == 3 and [e.t_ms for e in xb0.events] == [T0 + 1000, T0 + 2000, T0 + 2000]
    first, second, third = xb0.events
    assert (first.lat, first.lon, first.accuracy) == (46.2, 6.05, 12.0)     # inherits the block's fix
    assert (second.lat, second.lon, second.accuracy) == (46.21, 6.06, None)  # its own fix
    assert second.max_val == 80 and second.n_pix == 2 and second.hits == [(3, 4), (5, 6)]
    assert first.max_val == 412 and first.pixels is None
    assert xb1.lat is None and xb1.events == []


def test_run_id_is_the_devices_default_run_whatever_the_upload_id():
    """Issue 16: a resend under a new upload_id must not give its hits new ids.

    Fails on main at d21fe67: the run is derived from upload_id."""
    a = decode_upload(enc(body()), "api-1").runs[0].run_uuid
    b = decode_upload(enc(body()), "api-1").runs[0].run_uuid
    c = decode_upload(enc(body(upload_id=str(uuid.uuid4()))), "api-1").runs[0].run_uuid
    other_device = decode_upload(enc(body()), "api-2").runs[0].run_uuid
    assert a == b == c != other_device
    explicit = body()
    explicit["blocks"][0]["run_id"] = "0b5b9a8e-58b4-4a8e-8a3d-6c3b2f9f1a00"
    runs = decode_upload(enc(explicit), "api-1").runs
    assert [r.run_uuid for r in runs] == ["0b5b9a8e-58b4-4a8e-8a3d-6c3b2f9f1a00", a]


def test_a_resend_under_a_new_upload_id_gives_the_same_document_ids():
    first = build_actions(decode_upload(enc(body()), "api-1"), prefix="p", key=b"k")
    resent = build_actions(decode_upload(enc(body(upload_id=str(uuid.uuid4()))), "api-1"), prefix="p", key=b"k")
    assert [a["_id"] for a in first] == [a["_id"] for a in resent]


@pytest.mark.parametrize("raw", [b"[" * 100_000 + b"]" * 100_000, b'{"upload_id": 1e999}',
                                 b'{"a":' * 50_000 + b"1" + b"}" * 50_000],
                         ids=["deep-array", "number-out-of-range", "deep-object"])
def test_json_no_decoder_can_read_is_one_error_not_an_exception(raw):
    """Fails on main at d21fe67: RecursionError and msgspec's "Number out of range" escape (a 500)."""
    with pytest.raises(UploadInvalid) as caught:
        validate_upload(raw)
    assert [e.loc for e in caught.value.errors] == ["$"] and "not valid JSON" in caught.value.errors[0].message


def test_documents_from_json_records_are_public_safe_and_deterministic():
    chunk = decode_upload(enc(body()), "api-secret-id")
    acts = build_actions(chunk, prefix="p", key=b"k")
    again = build_actions(decode_upload(enc(body()), "api-secret-id"), prefix="p", key=b"k")
    assert [a["_id"] for a in acts] == [a["_id"] for a in again]
    hits = [a for a in acts if a["_index"].startswith("p-hits-")]
    assert len(hits) == 3 and len({a["_id"] for a in hits}) == 3
    assert "api-secret-id" not in json.dumps(acts)
    assert hits[0]["_source"]["cell"] == "46.25,6.05" and hits[0]["_source"]["max_val"] == 412


def test_every_bad_field_is_named_with_its_index():
    doc = body(upload_id="not-a-uuid")
    doc["blocks"][0]["start_ms"] = "yesterday"
    doc["blocks"][0]["hits"][1]["location"]["lat"] = 91.0
    doc["blocks"][0]["hits"].append({"t_ms": T0, "colour": "red"})
    doc["blocks"][1]["hits"].append({})
    doc["blocks"].append(7)
    errs = errors_of(enc(doc))
    by_loc = {e["loc"]: e for e in errs}
    assert set(by_loc) == {
        "$.upload_id", "$.blocks[0].start_ms", "$.blocks[0].hits[1].location.lat",
        "$.blocks[0].hits[3].colour", "$.blocks[1].hits[0].t_ms", "$.blocks[2]",
    }
    lat = by_loc["$.blocks[0].hits[1].location.lat"]
    assert (lat["block"], lat["hit"], lat["field"]) == (0, 1, "lat") and "<= 90" in lat["message"]
    assert by_loc["$.blocks[1].hits[0].t_ms"]["message"].startswith("Object missing required field")
    assert by_loc["$.blocks[0].hits[3].colour"]["field"] == "colour"


def test_semantic_errors():
    doc = body()
    doc["blocks"][1]["end_ms"] = T0
    doc["blocks"][0]["hits"][2].pop("t_ns")          # now the same (t_ms, t_ns) as hits[1]
    errs = errors_of(enc(doc))
    assert {(e["loc"], e["block"], e["hit"]) for e in errs} == {
        ("$.blocks[1].end_ms", 1, None), ("$.blocks[0].hits[2].t_ns", 0, 2)}


@pytest.mark.parametrize("raw, loc, fragment", [
    (b"", "$", "not valid JSON"),
    (b"{\"upload_id\": ", "$", "not valid JSON"),
    (b"[1, 2]", "$", "Expected `object`"),
    (b"{}", "$.upload_id", "missing required field"),
    (b'{"upload_id": "6f1c2a9e-3b7d-4c41-9a55-0d2e8f7b1c33", "blocks": []}', "$.blocks", "length >= 1"),
])
def test_structural_errors(raw, loc, fragment):
    errs = errors_of(raw)
    assert errs[0]["loc"] == loc and fragment in errs[0]["message"]


def test_limits_on_blocks_hits_and_error_count():
    doc = body()
    assert errors_of(enc(doc), Limits(max_hits=2))[0]["message"].startswith("3 hits")
    assert "more than 1 blocks" in errors_of(enc(doc), Limits(max_blocks=1))[0]["message"]
    doc["blocks"][0]["hits"] = [{"t_ms": "x"}] * 200
    assert len(errors_of(enc(doc), Limits(max_errors=7))) == 7


def test_schema_is_exportable_for_openapi():
    (schema,), components = msgspec.json.schema_components([jsonapi.Upload], ref_template="#/c/{name}")
    assert schema == {"$ref": "#/c/Upload"}
    assert {"Upload", "Block", "Hit", "Location", "Detector"} <= set(components)
    assert components["Hit"]["required"] == ["t_ms"]

"""The compiled scanner gives exactly what msgspec gives, value by value, on any response shape
Elasticsearch can send for hit documents; what it cannot take it hands to the general decoder."""
from __future__ import annotations

import json
import math

import msgspec
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_jobs.es_pages import (
    ID,
    ROWS,
    Field,
    PageLayout,
    PathTrie,
    decode_page,
    decode_page_python,
    geo_from_text,
    scan_page,
)

FIELDS = [Field.named("_id", ID, "hit_id"), Field.named("device", "keyword", "device_id"),
          Field.named("t_ms", "date"), Field("location", "geo_point", ("lat", "lon")),
          Field.named("n_pix", "integer"), Field.named("avg", "double"), Field.named("pressure", "float"),
          Field.named("is_hit", "boolean"), Field.named("cell_location", "geo_point"),
          Field.named("exposure_ns", "long")]
LAYOUT = PageLayout(FIELDS)


def response(hits: list[dict], indent: int | None = None) -> bytes:
    """A search response around the hits, with the parts Elasticsearch puts beside them."""
    return json.dumps({"pit_id": "abc==", "took": 3, "timed_out": False,
                       "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                       "hits": {"max_score": None, "hits": hits}}, indent=indent,
                      ensure_ascii=False).encode()


def hit(i: int, source: dict | None = None, fields: dict | None = None) -> dict:
    h = {"_index": "x-hits-2026.11", "_id": f"{i:032x}", "_score": None}
    if source is not None:
        h["_source"] = source
    if fields is not None:
        h["fields"] = fields
    h["sort"] = [i]
    return h


def same(a: pa.RecordBatch, b: pa.RecordBatch) -> None:
    """Equal batches, NaN equal to NaN."""
    assert a.schema == b.schema
    for name in a.schema.names:
        x, y = a.column(name), b.column(name)
        if pa.types.is_floating(x.type):
            assert np.array_equal(x.to_numpy(zero_copy_only=False), y.to_numpy(zero_copy_only=False),
                                  equal_nan=True), name
        else:
            assert x.to_pylist() == y.to_pylist(), name


def test_a_response_as_the_indexer_writes_it():
    src = {"hit_id": "x", "t_ms": 1795000738956, "t_nano": 81058980345687, "device": "d9e95a624d94b51a7",
           "run": "dad39ecd", "n_pix": 2, "avg": 1.1190096987362994, "is_hit": True,
           "pressure": 985.02001953125, "exposure_ns": 33000000, "build": "v1.0.4",
           "location": {"lat": 7.341217576169868, "lon": 91.05063136452259}, "cell": "7.35,91.05",
           "cell_location": {"lat": 7.35, "lon": 91.05}}
    data = response([hit(i, dict(src, t_ms=src["t_ms"] + i)) for i in range(3)])
    page = decode_page(data, LAYOUT, 10)
    assert page.fast and page.last_sort == 2
    row = page.batch.to_pylist()[1]
    assert row == {"hit_id": f"{1:032x}", "device_id": "d9e95a624d94b51a7", "t_ms": 1795000738957,
                   "lat": 7.341217576169868, "lon": 91.05063136452259, "n_pix": 2,
                   "avg": 1.1190096987362994, "pressure": pytest.approx(985.02001953125),
                   "is_hit": True, "cell_location_lat": 7.35, "cell_location_lon": 91.05,
                   "exposure_ns": 33000000}
    assert page.batch.schema.field("n_pix").type == pa.int32()
    assert page.batch.schema.field("pressure").type == pa.float32()
    same(page.batch, decode_page_python(data, LAYOUT).batch)


def test_doubles_come_out_exactly_as_json_loads_reads_them():
    texts = ["0.1", "1e-7", "-0", "123456789.123456789", "4.9406564584124654e-324", "1.7976931348623157e308",
             "0.30000000000000004", "2.5E+3", "7.341217576169868", "-91.05063136452259000"]
    body = ('{"hits":{"hits":['
            + ",".join(f'{{"_id":"{i}","_source":{{"avg":{t},"location":{{"lat":{t},"lon":0}}}},"sort":[{i}]}}'
                       for i, t in enumerate(texts)) + "]}}").encode()
    page = decode_page(body, LAYOUT, 20)
    assert page.fast
    want = [float(t) for t in texts]  # what a correctly rounding parser gives; -0 stays -0.0
    got = page.batch.column("avg").to_pylist()
    assert [g.hex() for g in got] == [w.hex() for w in want]  # bit for bit
    assert [g.hex() for g in page.batch.column("lat").to_pylist()] == [w.hex() for w in want]


def test_every_geo_point_shape_and_doc_values():
    shapes = [{"lat": 1.5, "lon": 2.5}, [2.5, 1.5], "1.5,2.5", " 1.5 , 2.5 ", "POINT (2.5 1.5)",
              {"type": "Point", "coordinates": [2.5, 1.5]}, {"lat": "1.5", "lon": "2.5"}]
    hits = [hit(i, {"location": s}) for i, s in enumerate(shapes)]
    hits.append(hit(90, {}, {"location": ["1.5, 2.5"]}))  # doc values of a trimmed _source
    hits.append(hit(91, {"location": "u4pruydqqvj"}))  # a geohash names a cell: no position
    hits.append(hit(92, {"location": None}))
    hits.append(hit(93, {"location": {"lat": 1.5}}))
    data = response(hits)
    page = decode_page(data, LAYOUT, 20)
    assert page.fast
    lat, lon = page.batch.column("lat").to_pylist(), page.batch.column("lon").to_pylist()
    assert lat[:len(shapes) + 1] == [1.5] * (len(shapes) + 1)
    assert lon[:len(shapes) + 1] == [2.5] * (len(shapes) + 1)
    assert all(math.isnan(x) for x in lat[len(shapes) + 1:] + lon[len(shapes) + 1:])
    same(page.batch, decode_page_python(data, LAYOUT).batch)


def test_dates_numbers_and_booleans_in_every_form_elasticsearch_accepts():
    sources = [{"t_ms": "1795000738956", "n_pix": "7", "avg": "2.5", "is_hit": "false"},
               {"t_ms": "2026-11-18T11:18:58.956Z", "n_pix": 7.0, "exposure_ns": 3.3e7},
               {"t_ms": "2026-11-18T11:18:58.956", "is_hit": False},
               {"t_ms": 1795000738956.0}, {"t_ms": None, "n_pix": None, "is_hit": None}, {}]
    data = response([hit(i, s) for i, s in enumerate(sources)])
    page = decode_page(data, LAYOUT, 10)
    assert page.fast
    rows = page.batch.to_pylist()
    assert [r["t_ms"] for r in rows] == [1795000738956, 1795000738956, 1795000738956, 1795000738956,
                                         None, None]
    assert [r["n_pix"] for r in rows] == [7, 7, None, None, None, None]
    assert rows[0]["avg"] == 2.5 and rows[1]["exposure_ns"] == 33_000_000
    assert [r["is_hit"] for r in rows] == [False, None, False, None, None, None]
    same(page.batch, decode_page_python(data, LAYOUT).batch)


def test_doc_values_fill_in_where_the_source_lacks_a_field():
    data = response([hit(0, {"device": "from-source"}, {"device": ["from-dv"], "t_ms": ["1795000738956"]}),
                     hit(1, None, {"device": ["dv-only"], "t_ms": ["1795000738957"], "location": ["-1.25, 3.5"]})])
    page = decode_page(data, LAYOUT, 10)
    rows = page.batch.to_pylist()
    assert [r["device_id"] for r in rows] == ["from-source", "dv-only"]
    assert [r["t_ms"] for r in rows] == [1795000738956, 1795000738957]
    assert (rows[1]["lat"], rows[1]["lon"]) == (-1.25, 3.5)
    same(page.batch, decode_page_python(data, LAYOUT).batch)


def test_a_position_of_two_doubles_comes_from_its_sub_fields_doc_values():
    """Hit schema 2 maps location as an object of two doubles: its doc values come back as
    ``location.lat`` and ``location.lon``, each a list, and only together make a position."""
    data = response([
        hit(0, None, {"device": ["d"], "t_ms": [1795000738956], "location.lat": [-1.25],
                      "location.lon": [3.5]}),
        hit(1, None, {"location.lat": [0.1 + 0.2], "location.lon": [-179.99999999999997]}),
        hit(2, None, {"location.lat": [1.0]}),  # half a position is none
        hit(3, {"location": {"lat": 7.0, "lon": 8.0}}, {"location.lat": [1.0], "location.lon": [2.0]}),
    ])
    page = decode_page(data, LAYOUT, 10)
    assert page.fast
    rows = page.batch.to_pylist()
    assert (rows[0]["lat"], rows[0]["lon"], rows[0]["t_ms"]) == (-1.25, 3.5, 1795000738956)
    assert (rows[1]["lat"], rows[1]["lon"]) == (0.1 + 0.2, -179.99999999999997)
    assert math.isnan(rows[2]["lat"]) and math.isnan(rows[2]["lon"])
    assert (rows[3]["lat"], rows[3]["lon"]) == (7.0, 8.0)  # the source first, as for every field
    same(page.batch, decode_page_python(data, LAYOUT).batch)


def test_escapes_go_to_the_general_decoder_and_come_out_right():
    plain = response([hit(0, {"device": "caf\u00e9 \u2603", "t_ms": 5})])
    fast = decode_page(plain, LAYOUT, 10)  # UTF-8 as such needs no escape
    assert fast.fast and fast.batch.column("device_id").to_pylist() == ["caf\u00e9 \u2603"]
    escaped = json.dumps(json.loads(plain)).encode()  # ensure_ascii: \u00e9
    page = decode_page(escaped, LAYOUT, 10)
    assert not page.fast
    same(page.batch, fast.batch)
    quoted = response([hit(0, {"device": 'a"b\\c', "location": {"lat": 1.0, "lon": 2.0}})])
    page = decode_page(quoted, LAYOUT, 10)
    assert not page.fast and page.batch.column("device_id").to_pylist() == ['a"b\\c']
    junk = response([hit(0, {"device": "d", "other": 'x"y', "nested": {"k\\": 1}})])
    assert decode_page(junk, LAYOUT, 10).fast  # escapes where nothing is read do not matter


def test_an_escaped_key_in_a_wanted_object_is_not_matched_by_bytes():
    data = b'{"hits":{"hits":[{"_id":"a","_source":{"t\\u005fms":5},"sort":[1]}]}}'
    page = decode_page(data, LAYOUT, 10)
    assert not page.fast and page.batch.column("t_ms").to_pylist() == [5]


def test_broken_json_is_an_error_not_a_short_page():
    data = response([hit(i, {"t_ms": i}) for i in range(3)])
    assert scan_page(data[:-40], LAYOUT.trie, 10).status != 0
    with pytest.raises(msgspec.DecodeError):
        decode_page(data[:-40], LAYOUT, 10)


def test_more_rows_than_room_is_not_silently_cut():
    data = response([hit(i, {"t_ms": i}) for i in range(5)])
    page = decode_page(data, LAYOUT, 3)
    assert not page.fast and page.batch.num_rows == 5


def test_trie_finds_keys_by_length_and_bytes():
    paths = [("hits", "hits", ROWS, "_source", name) for name in ("ab", "b", "abc", "ba", "a", "t_ms")]
    trie = PathTrie.build(paths)
    body = b'{"hits":{"hits":[{"_source":{"a":1,"ab":2,"abc":3,"b":4,"ba":5,"bb":6,"t_ms":7}}]}}'
    spans = scan_page(body, trie, 2)
    got = {name: body[spans.spans[0, i, 0]:spans.spans[0, i, 1]] for i, (*_, name) in enumerate(paths)}
    assert got == {"ab": b"2", "b": b"4", "abc": b"3", "ba": b"5", "a": b"1", "t_ms": b"7"}


def test_geo_text_forms():
    assert geo_from_text("1.5,2.5") == (1.5, 2.5)
    assert geo_from_text("POINT (2.5 1.5)") == (1.5, 2.5)
    assert all(math.isnan(v) for v in geo_from_text("u4pruydqqvj") + geo_from_text("a,b"))


# -- any document: the fast path equals the general one ------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
scalar = st.one_of(st.none(), st.booleans(), st.integers(-2**62, 2**62), finite, text)
junk = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                    st.dictionaries(text, inner, max_size=3)), max_leaves=6)
geo = st.one_of(
    st.none(), st.fixed_dictionaries({"lat": finite, "lon": finite}), st.tuples(finite, finite).map(list),
    st.tuples(finite, finite).map(lambda p: f"{p[0]},{p[1]}"), text,
    st.tuples(finite, finite).map(lambda p: {"type": "Point", "coordinates": list(p)}))
source = st.fixed_dictionaries({}, optional={
    "device": st.one_of(text, st.integers(-10**6, 10**6), st.booleans(), st.none()),
    "t_ms": st.one_of(st.integers(0, 4 * 10**12), st.integers(0, 4 * 10**12).map(str), st.none()),
    "location": geo, "cell_location": geo,
    "n_pix": st.one_of(st.integers(-2**31, 2**31 - 1), st.none()),
    "avg": st.one_of(finite, st.integers(-10**9, 10**9), st.none()),
    "pressure": st.one_of(st.floats(-1e30, 1e30), st.none()),
    "is_hit": st.one_of(st.booleans(), st.sampled_from(["true", "false"]), st.none()),
    "exposure_ns": st.one_of(st.integers(-2**62, 2**62), st.none()),
    "other": junk, "nested": st.dictionaries(text, junk, max_size=3)})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(source, max_size=6), st.sampled_from([None, 1]))
def test_fast_path_equals_the_general_decoder_on_any_document(sources, indent):
    data = response([hit(i, s) for i, s in enumerate(sources)], indent=indent)
    fast = decode_page(data, LAYOUT, 10)
    slow = decode_page_python(data, LAYOUT)
    same(fast.batch, slow.batch)
    assert fast.last_sort == slow.last_sort == (len(sources) - 1 if sources else None)

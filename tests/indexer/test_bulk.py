"""indexer.bulk against the real node: created, 409 = success, a refused document is reported."""
from __future__ import annotations

from crayfis.es.templates import ensure_templates
from indexer.bulk import bulk_create, create_lines


def test_created_duplicates_and_refusals(es, es_prefix):
    ensure_templates(es, es_prefix)
    index = f"{es_prefix}-hits-2026.11"
    good = {"_index": index, "_id": "a1", "_source": {"hit_id": "a1", "t_ms": 1795000000000, "n_pix": 3}}
    bad = {"_index": index, "_id": "b2", "_source": {"hit_id": "b2", "t_ms": "not a time", "n_pix": 1}}
    assert bulk_create(es, [good], max_bytes=1 << 20) == []
    failures = bulk_create(es, [good, bad, dict(good, _id="c3")], max_bytes=60)  # tiny chunks: 3 requests
    assert [(pos, status) for pos, status, _ in failures] == [(1, 400)]
    assert "exception" in failures[0][2]
    es.indices.refresh(index=index)
    assert es.count(index=index)["count"] == 2


def test_lines_are_ndjson_pairs():
    lines = create_lines([{"_index": "x-hits-2026.11", "_id": "ab", "_source": {"t_ms": 1, "s": "é\n"}}])
    assert lines == [b'{"create":{"_index":"x-hits-2026.11","_id":"ab"}}\n{"t_ms":1,"s":"\xc3\xa9\\n"}\n']

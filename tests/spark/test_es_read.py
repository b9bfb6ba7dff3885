"""The es:// reader on the real node: every document once whatever the shards, pages and slices,
the same hit codes on every read of the same points-in-time, doc values where a mapping keeps a
field out of _source, and export files committed once."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from elasticsearch import helpers

from crayfis.es.legacy import HITS_V1
from crayfis.es.naming import index_for
from crayfis.es.templates import ensure_templates
from spark_jobs import day_files
from spark_jobs.es_source import (
    EsHitsQuery,
    ReadPlan,
    SliceRequest,
    doc_value_fields,
    hits_dataframe,
    outside_source,
    plan_of,
    point_in_time,
    read_slices,
    tasks_of,
)

pytestmark = pytest.mark.spark

T0 = 1_795_000_000_000  # 2026-11
MONTH_MS = 31 * 86_400_000


def hit_docs(n: int, seed: int = 1, t0: int = T0, span_ms: int = 2 * MONTH_MS) -> list[dict]:
    rng = np.random.default_rng(seed)
    t = t0 + np.sort(rng.integers(0, span_ms, n))
    lat, lon = rng.uniform(-80, 80, n), rng.uniform(-180, 180, n)
    return [{"hit_id": f"h{i:06d}", "t_ms": int(t[i]), "device": f"d{i % 17}",
             "location": {"lat": float(lat[i]), "lon": float(lon[i])}, "is_hit": i % 11 != 0,
             "n_pix": i % 5}
            for i in range(n)]


def index_docs(es, prefix: str, docs: list[dict], shards: int = 1) -> None:
    ensure_templates(es, prefix, shards=shards)
    actions = [{"_op_type": "create", "_index": index_for(prefix, "hits", d["t_ms"]), "_id": d["hit_id"],
                "_source": d} for d in docs]
    ok, errors = helpers.bulk(es, actions, refresh=True, raise_on_error=False)
    assert not errors and ok == len(docs)


def read_all(q: EsHitsQuery, tasks: int = 3) -> pa.Table:
    """Every hit of q through the reader, without Spark (plan on the driver, tasks in a loop)."""
    with point_in_time(q.url, q.pattern) as pits:
        plan = plan_of(q, pits)
        batches = [b for which in tasks_of(len(plan.slices), tasks) for _, b in read_slices(q, plan, which)]
    return pa.Table.from_batches(batches, schema=q.schema())


def test_every_document_once_over_shards_months_and_small_pages(es, es_url, es_prefix):
    docs = hit_docs(1_500)
    index_docs(es, es_prefix, docs, shards=3)
    q = EsHitsQuery(es_url, f"{es_prefix}-hits-*", page_size=40)
    with point_in_time(es_url, q.pattern) as pits:
        assert len(pits) == 3 and all(p.shards == 3 for p in pits)  # three months
        plan = plan_of(q, pits)
    # every shard cut into pieces of at most a page: far more slices than shards
    assert len(plan.slices) >= 1_500 // 40
    got = read_all(q)
    assert sorted(got.column("hit_id").to_pylist()) == [d["hit_id"] for d in docs]
    by_id = {d["hit_id"]: d for d in docs}
    for row in got.to_pylist()[::97]:
        d = by_id[row["hit_id"]]
        assert (row["device_id"], row["t_ms"], row["lat"], row["lon"]) == (
            d["device"], d["t_ms"], d["location"]["lat"], d["location"]["lon"])


def test_time_range_and_zero_bias_filter(es, es_url, es_prefix):
    docs = hit_docs(600)
    index_docs(es, es_prefix, docs)
    start, end = T0 + MONTH_MS // 2, T0 + MONTH_MS + MONTH_MS // 3
    q = EsHitsQuery(es_url, f"{es_prefix}-hits-*", start, end, only_hits=True, page_size=50)
    want = sorted(d["hit_id"] for d in docs if start <= d["t_ms"] < end and d["is_hit"])
    assert sorted(read_all(q).column("hit_id").to_pylist()) == want
    # an index with no document in range is not read at all
    q = EsHitsQuery(es_url, f"{es_prefix}-hits-*", docs[0]["t_ms"], docs[0]["t_ms"] + 1, page_size=50)
    with point_in_time(es_url, q.pattern) as pits:
        plan = plan_of(q, pits)
    assert [p.index for p in plan.pits] == [index_for(es_prefix, "hits", T0)]


def test_a_slice_larger_than_a_page_is_finished_with_search_after(es, es_url, es_prefix):
    docs = hit_docs(230, span_ms=1000)
    index_docs(es, es_prefix, docs)
    q = EsHitsQuery(es_url, f"{es_prefix}-hits-*", page_size=50)
    with point_in_time(es_url, q.pattern) as pits:
        planned = plan_of(q, pits)
        one = ReadPlan(planned.pits, planned.bodies, (SliceRequest(0, 0, 1),), 50)  # one slice of all
        pages = [b for _, b in read_slices(q, one, [0])]
    assert [p.num_rows for p in pages] == [50, 50, 50, 50, 30]
    assert sorted(pa.Table.from_batches(pages).column("hit_id").to_pylist()) == [d["hit_id"] for d in docs]


def test_hit_codes_are_the_same_on_every_read(spark, es, es_url, es_prefix):
    docs = hit_docs(700)
    index_docs(es, es_prefix, docs, shards=2)
    q = EsHitsQuery(es_url, f"{es_prefix}-hits-*", page_size=64)
    with point_in_time(es_url, q.pattern) as pits:
        df = hits_dataframe(spark, q, pits, 3, code_column="hit_code")
        first = df.select("hit_code", "hit_id").toArrow().sort_by("hit_code")
        again = hits_dataframe(spark, q, pits, 2, code_column="hit_code").select(
            "hit_code", "hit_id").toArrow().sort_by("hit_code")
    assert first.num_rows == len(docs) == len(set(first.column("hit_code").to_pylist()))
    assert first.equals(again)  # other task count, same codes


def test_empty_pattern_gives_an_empty_frame(spark, es_url, es_prefix):
    q = EsHitsQuery(es_url, f"{es_prefix}-hits-*")
    with point_in_time(es_url, q.pattern) as pits:
        assert pits is None
        assert hits_dataframe(spark, q, pits, 2, code_column="hit_code").count() == 0


def test_fields_kept_out_of_source_are_read_from_doc_values(es, es_url, es_prefix):
    """An index whose mapping trims _source (or disables it) still reads: doc values stand in,
    positions to doc-value precision. On the mapping with a geo_point `location` (hit schema 1,
    crayfis/es/legacy.py); schema 2's indices keep a synthetic _source that trims nothing."""
    docs = hit_docs(120, span_ms=1000)
    mapping = dict(HITS_V1)
    for name, source in (("trimmed", {"excludes": ["location", "device"]}), ("nosource", {"enabled": False})):
        index = f"{es_prefix}-{name}-hits-2026.11"
        es.indices.create(index=index, mappings={**mapping, "_source": source})
        helpers.bulk(es, [{"_index": index, "_id": d["hit_id"], "_source": d} for d in docs], refresh=True)
        m = es.indices.get_mapping(index=index)[index]["mappings"]
        assert sorted(outside_source(m, ["device", "t_ms", "location", "n_pix"])) == (
            ["device", "location"] if name == "trimmed" else ["device", "location", "n_pix", "t_ms"])
        got = read_all(EsHitsQuery(es_url, index, extra=(("n_pix", "integer"),), page_size=30))
        rows = sorted(got.to_pylist(), key=lambda r: r["hit_id"])
        assert [r["hit_id"] for r in rows] == [d["hit_id"] for d in docs]
        for r, d in zip(rows, docs):
            assert (r["device_id"], r["t_ms"], r["n_pix"]) == (d["device"], d["t_ms"], d["n_pix"])
            assert abs(r["lat"] - d["location"]["lat"]) < 1e-6 and abs(r["lon"] - d["location"]["lon"]) < 1e-6


def test_escaped_and_unicode_values_survive_the_whole_read(es, es_url, es_prefix):
    docs = hit_docs(40, span_ms=1000)
    docs[3]["device"] = 'quote"and\\slash'
    docs[4]["device"] = "caf\u00e9-\u2603"
    index_docs(es, es_prefix, docs)
    got = {r["hit_id"]: r["device_id"] for r in read_all(EsHitsQuery(es_url, f"{es_prefix}-hits-*")).to_pylist()}
    assert got[docs[3]["hit_id"]] == 'quote"and\\slash' and got[docs[4]["hit_id"]] == "caf\u00e9-\u2603"


def test_commit_moves_only_the_reported_files(tmp_path):
    """A retried task attempt leaves its files in the staging: they are never published."""
    root = str(tmp_path / "out")
    filesystem, root = day_files.output_dir(root)
    staging = day_files.staging_dir(root)
    schema = pa.schema([("hit_id", pa.string()), ("t_ms", pa.int64())])
    batch = pa.RecordBatch.from_pydict({"hit_id": ["a", "b", "c"],
                                        "t_ms": [T0, T0 + 86_400_000, None]}, schema=schema)
    failed = day_files.DayWriters(root, f"{staging}/attempt-1", schema)
    failed.write(batch)
    failed.close()
    good = day_files.DayWriters(root, f"{staging}/attempt-2", schema)
    good.write(batch)
    written = pa.Table.from_batches([good.close()])
    assert sorted(written.column("day").to_pylist()) == ["2026-11-18", "2026-11-19", day_files.NULL_DAY]
    assert day_files.commit(filesystem, root, staging, written) == 3
    back = pq.read_table(root, partitioning="hive")
    assert sorted(back.column("hit_id").to_pylist()) == ["a", "b", "c"]
    assert not (tmp_path / "out" / "_temporary").exists() and (tmp_path / "out" / "_SUCCESS").exists()
    with pytest.raises(FileExistsError):
        day_files.prepare(filesystem, root, "error")
    day_files.prepare(filesystem, root, "overwrite")
    assert not (tmp_path / "out").exists()


def test_export_cli_refuses_an_existing_output_in_one_line(es_url, es_prefix, tmp_path):
    (tmp_path / "out").mkdir()
    r = subprocess.run([sys.executable, "-m", "spark_jobs.export_hits", "--input", f"es://{es_prefix}-hits-*",
                        "--start", "2026-01-01", "--end", "2026-01-02", "--output", str(tmp_path / "out"),
                        "--master", "local[1]", "--es-url", es_url], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("spark_jobs.export_hits")]
    assert errors == [f"spark_jobs.export_hits: error: output exists: {tmp_path / 'out'} "
                      "(--mode overwrite replaces it)"]


def test_synthetic_source_indices_are_read_from_the_doc_values_asked_for(es, es_url, es_prefix):
    """Hit schema 2 rebuilds _source from doc values: the job's read asks for its four doc
    values instead (no _source) and gets exactly what the whole _source gives, rows without a
    position or device included; a read that needs a field that is not a plain doc value (the
    export's geo_point cell_location) keeps the whole _source."""
    docs = hit_docs(300, span_ms=1000)
    del docs[5]["location"], docs[9]["device"]
    docs[7]["location"] = {"lat": 0.1 + 0.2, "lon": -179.99999999999997}
    index_docs(es, es_prefix, docs, shards=2)
    q = EsHitsQuery(es_url, f"{es_prefix}-hits-*", page_size=70)
    with point_in_time(es_url, q.pattern) as pits:
        assert all(p.synthetic_source for p in pits)
        plan = plan_of(q, pits)
        assert all(b["_source"] is False for b in plan.bodies)
        assert plan.bodies[0]["docvalue_fields"] == ["device", "t_ms", "location.lat", "location.lon"]
        whole = ReadPlan(plan.pits, tuple({k: v for k, v in b.items() if k not in ("_source", "docvalue_fields")}
                                          for b in plan.bodies), plan.slices, plan.page_size)
        tables = [pa.Table.from_batches([b for which in tasks_of(len(p.slices), 2)
                                         for _, b in read_slices(q, p, which)], schema=q.schema())
                  for p in (plan, whole)]
        mapping = pits[0].mapping
    got, want = (t.sort_by("hit_id") for t in tables)
    assert got.num_rows == len(docs)
    assert got.drop(["lat", "lon"]).equals(want.drop(["lat", "lon"]))
    for axis in ("lat", "lon"):
        assert np.array_equal(got.column(axis).to_numpy(), want.column(axis).to_numpy(), equal_nan=True)
    row7 = got.filter(pa.compute.equal(got.column("hit_id"), docs[7]["hit_id"])).to_pylist()[0]
    assert (row7["lat"], row7["lon"]) == (0.1 + 0.2, -179.99999999999997)
    assert doc_value_fields(mapping, EsHitsQuery(es_url, "x", extra=(("cell_location", "geo_point"),)).fields()) is None
    assert doc_value_fields(mapping, EsHitsQuery(es_url, "x", extra=(("n_pix", "integer"),)).fields()) == [
        "device", "t_ms", "location.lat", "location.lon", "n_pix"]


def test_stored_source_indices_keep_reading_the_source(es, es_url, es_prefix):
    """Hit schema 1 (a stored _source, location a geo_point): no doc-value shape."""
    index = f"{es_prefix}-hits-2026.11"
    es.indices.create(index=index, mappings=HITS_V1)
    docs = hit_docs(50, span_ms=1000)
    helpers.bulk(es, [{"_index": index, "_id": d["hit_id"], "_source": d} for d in docs], refresh=True)
    q = EsHitsQuery(es_url, index)
    with point_in_time(es_url, index) as pits:
        assert not pits[0].synthetic_source
        plan = plan_of(q, pits)
    assert "_source" not in plan.bodies[0] and "docvalue_fields" not in plan.bodies[0]
    assert sorted(read_all(q).column("hit_id").to_pylist()) == [d["hit_id"] for d in docs]

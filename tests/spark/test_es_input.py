"""The ES input path (PIT + sliced search_after) gives what the Parquet path gives; --to-es indexes
candidates with deterministic ids; export_hits round-trips the hits to day-partitioned Parquet."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from elasticsearch import helpers

from crayfis.definition import DAY_MS, SearchParams
from crayfis.es.naming import index_for
from crayfis.es.templates import ensure_templates
from spark_jobs.coincidence import JobConfig, run_job
from spark_jobs.export_hits import export
from spark_jobs.job_config import NO_STAGING, WorkSplit
from spark_jobs.output import index_candidates
from spark_jobs.tiles import TileGrid
from tests.spark.reference import assert_same_candidates, kernel_background, kernel_candidates
from tests.spark.showerdata import START_MS, boundary_showers, make_hits

pytestmark = pytest.mark.spark

TAU, R, K = 10, 500.0, 3


def index_hits(es, prefix: str, table: pa.Table) -> None:
    """Hit documents as the indexer writes them (crayfis/es/documents.py field names)."""
    ensure_templates(es, prefix)
    rows = table.to_pylist()
    actions = []
    for i, r in enumerate(rows):
        src = {"hit_id": r["hit_id"], "t_ms": r["t_ms"], "device": r["device_id"],
               "location": {"lat": r["lat"], "lon": r["lon"]}, "n_pix": i % 7, "max_val": 100 + i,
               "is_hit": True, "gps_accuracy": 12.5}
        actions.append({"_op_type": "create", "_index": index_for(prefix, "hits", r["t_ms"]),
                        "_id": r["hit_id"], "_source": src})
    # zero-bias samples: kept by the export, left out of the search
    actions.append({"_op_type": "create", "_index": index_for(prefix, "hits", START_MS),
                    "_id": "zb-1", "_source": {"hit_id": "zb-1", "t_ms": START_MS, "device": "zb",
                                               "location": {"lat": 46.2, "lon": 6.1},
                                               "is_hit": False}})
    ok, errors = helpers.bulk(es, actions, refresh=True, raise_on_error=False)
    assert not errors and ok == len(actions)


@pytest.fixture(scope="module")
def data():
    showers = boundary_showers(TileGrid.build(1.0, R))
    table, truth = make_hits(5, showers, phones_per_site=6)
    # a day boundary in the data, so the export writes two day partitions
    t = table.column("t_ms").to_numpy().copy()
    late = (np.arange(len(t)) % 5 == 0) & (np.asarray(table.column("shower").to_pylist()) == "")
    t[late] += DAY_MS
    return table.set_column(table.schema.get_field_index("t_ms"), "t_ms", pa.array(t)).drop(["shower"])


def test_es_input_equals_parquet_and_kernel_and_indexes_candidates(spark, es, es_url, es_prefix,
                                                                   data, tmp_path):
    index_hits(es, es_prefix, data)
    pq.write_table(data, tmp_path / "hits.parquet")
    params, split = SearchParams(window_ms=TAU, radius_m=R, min_devices=K), WorkSplit(tile_deg=1.0)
    from_es = JobConfig(input=f"es://{es_prefix}-hits-*", output=str(tmp_path / "es"),
                        params=params, split=split, es_url=es_url, es_slices=3, to_es=True)
    s_es = run_job(spark, from_es)
    s_pq = run_job(spark, JobConfig(input=str(tmp_path / "hits.parquet"),
                                    output=str(tmp_path / "pq"), params=params, split=split))
    got_es = pq.read_table(tmp_path / "es" / "candidates.parquet")
    got_pq = pq.read_table(tmp_path / "pq" / "candidates.parquet")
    assert s_es["hits_read"] == s_pq["hits_read"] == data.num_rows
    assert got_es.drop(["expected_background", "p_value", "far_per_year"]).equals(
        got_pq.drop(["expected_background", "p_value", "far_per_year"]))
    assert_same_candidates(got_es, kernel_candidates(data, TAU, R, K))
    assert got_es.num_rows >= 7

    index = f"{es_prefix}-candidates"
    es.indices.refresh(index=index)
    ids = sorted(h["_id"] for h in es.search(index=index, size=1000)["hits"]["hits"])
    assert ids == sorted(got_es.column("candidate_id").to_pylist())
    doc = es.get(index=index, id=ids[0])["_source"]
    row = got_es.filter(pa.compute.equal(got_es.column("candidate_id"), ids[0])).to_pylist()[0]
    assert doc["hit_ids"] == row["hit_ids"] and doc["k"] == K and doc["cell"]

    # indexing again overwrites the same documents (ids = candidate_id) instead of adding
    index_candidates(es_url, es_prefix, got_es, {"window_ms": TAU, "radius_m": R, "min_devices": K},
                     "rerun")
    es.indices.refresh(index=index)
    assert es.count(index=index)["count"] == len(ids)
    assert es.get(index=index, id=ids[0])["_source"]["job_id"] == "rerun"


def test_staged_es_input_equals_spark_rows(spark, es, es_url, es_prefix, data, tmp_path):
    """es:// hits staged as time-ordered Parquet (es_staging.py) and read into Spark rows give
    the same candidates, counts and background, over a time range that cuts the data; the
    staging folder is gone afterwards."""
    index_hits(es, es_prefix, data)
    t = data.column("t_ms").to_numpy()
    start, end = int(np.quantile(t, 0.2)), int(np.quantile(t, 0.9))
    params = SearchParams(window_ms=TAU, radius_m=R, min_devices=K)
    stage = tmp_path / "stage"

    def run(name, stage_dir):
        cfg = JobConfig(input=f"es://{es_prefix}-hits-*", output=str(tmp_path / name), params=params,
                        split=WorkSplit(tile_deg=1.0), es_url=es_url, es_slices=3,
                        start_ms=start, end_ms=end, es_stage_dir=stage_dir)
        return run_job(spark, cfg), pq.read_table(tmp_path / name / "candidates.parquet")

    s_staged, staged = run("staged", str(stage))
    s_rows, rows = run("rows", NO_STAGING)
    assert s_staged["parameters"]["es_read"] == "staged as Parquet"
    assert s_staged["parameters"]["layout"] == "row groups by time"
    assert s_staged["parameters"]["files_with_stored_device_statistics"] == s_staged["parameters"]["files"]
    assert s_rows["parameters"]["es_read"] == "Spark rows"
    for key in ("rows_in_range", "hits_read", "devices", "t_min_ms", "t_max_ms", "core_anchors",
                "triggered_anchors", "candidates"):
        assert s_staged[key] == s_rows[key], key
    assert s_staged["hits_read"] == int(((t >= start) & (t < end)).sum())
    assert staged.drop(["expected_background", "p_value", "far_per_year"]).equals(
        rows.drop(["expected_background", "p_value", "far_per_year"]))
    assert staged.num_rows >= 3
    np.testing.assert_allclose(staged.column("expected_background").to_numpy(),
                               rows.column("expected_background").to_numpy(), rtol=1e-9)
    assert list(stage.iterdir()) == []


def test_es_search_with_no_hit_in_range_says_nothing_was_read(spark, es, es_url, es_prefix, data,
                                                              tmp_path):
    """A range before every hit: the job ends with no candidate, and its summary says no hit
    was read, not a way of reading that never ran, whether staging was asked for or not."""
    index_hits(es, es_prefix, data)
    params = SearchParams(window_ms=TAU, radius_m=R, min_devices=K)
    for name, stage_dir in (("staged", str(tmp_path / "stage")), ("rows", NO_STAGING)):
        cfg = JobConfig(input=f"es://{es_prefix}-hits-*", output=str(tmp_path / name), params=params,
                        split=WorkSplit(tile_deg=1.0), es_url=es_url, es_slices=2,
                        start_ms=START_MS - 2 * DAY_MS, end_ms=START_MS - DAY_MS, es_stage_dir=stage_dir)
        summary = run_job(spark, cfg)
        assert summary["hits_read"] == 0 and summary["candidates"] == 0
        assert summary["parameters"]["es_read"] == "no hit to read"
        assert pq.read_table(tmp_path / name / "candidates.parquet").num_rows == 0


def index_exposures(es, prefix: str, hits: pa.Table, block_ms: int = 180_000):
    """DATA exposure blocks tiling each device's hours, every third block left out (not live);
    n_hits = the device's hits inside the block, as the phone counts them. Returns the live
    intervals (device code in device_id order, start, end) for the reference."""
    devices = np.unique(np.asarray(hits.column("device_id").to_pylist(), dtype=str))
    dev = np.searchsorted(devices, np.asarray(hits.column("device_id").to_pylist(), dtype=str))
    t = hits.column("t_ms").to_numpy()
    block = (t - START_MS) // block_ms
    actions, live = [], ([], [], [])
    for d in range(len(devices)):  # a test fixture: a few hundred devices
        for b in np.unique(block[dev == d]).tolist():
            if (b + d) % 3 == 0:
                continue
            start = START_MS + b * block_ms
            n = int(((dev == d) & (block == b)).sum())
            src = {"xb_id": f"{devices[d]}-{b}", "device": str(devices[d]), "state": "DATA",
                   "start_ms": start, "end_ms": start + block_ms, "n_hits": n}
            actions.append({"_op_type": "create", "_index": index_for(prefix, "exposures", start),
                            "_id": src["xb_id"], "_source": src})
            for part, value in zip(live, (d, start, start + block_ms)):
                part.append(value)
    ok, errors = helpers.bulk(es, actions, refresh=True, raise_on_error=False)
    assert not errors
    return tuple(np.asarray(x, dtype=np.int64) for x in live)


def test_exposures_give_live_time_and_rates(spark, es, es_url, es_prefix, data, tmp_path):
    index_hits(es, es_prefix, data)
    live = index_exposures(es, es_prefix, data)
    params, split = SearchParams(window_ms=TAU, radius_m=R, min_devices=K), WorkSplit(tile_deg=1.0)
    summary = run_job(spark, JobConfig(input=f"es://{es_prefix}-hits-*", output=str(tmp_path / "x"),
                                       params=params, split=split, es_url=es_url))
    assert summary["live_time_source"] == "exposures"
    reference = kernel_background(data, TAU, R, K, live=live)
    assert summary["expected_accidental_triggers"] == pytest.approx(reference.expected_triggers,
                                                                    rel=1e-9)
    observed = kernel_background(data, TAU, R, K)
    assert abs(reference.expected_triggers - observed.expected_triggers) > 0.05 * observed.expected_triggers
    t = data.column("t_ms").to_numpy()
    assert summary["searched_live_ms"] == pytest.approx(
        reference.searched_live_ms, abs=2 * 180_000)  # blocks clipped to [first hit, last hit]
    assert summary["searched_live_ms"] <= int(t.max()) + 1 - int(t.min())


def test_export_hits_round_trip(spark, es, es_url, es_prefix, data, tmp_path):
    index_hits(es, es_prefix, data)
    start, end = START_MS - 1, START_MS + 2 * DAY_MS
    result = export(spark, es_url, f"{es_prefix}-hits-*", start, end, str(tmp_path / "out"), slices=2)
    assert result["hits"] == data.num_rows + 1  # the zero-bias sample too
    days = sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith("day="))
    assert days == ["day=2026-01-01", "day=2026-01-02"]
    back = pq.read_table(tmp_path / "out").to_pandas().set_index("hit_id").sort_index()
    want = data.to_pandas().set_index("hit_id").sort_index()
    assert list(back.index.drop("zb-1")) == list(want.index)
    for col in ("device_id", "t_ms", "lat", "lon"):
        assert (back.loc[want.index, col].to_numpy() == want[col].to_numpy()).all(), col
    assert {"n_pix", "max_val", "gps_accuracy", "is_hit", "cell_location_lat", "day"} <= set(back.columns)
    assert (back.loc[want.index, "max_val"].to_numpy() >= 100).all()
    assert not back.loc["zb-1", "is_hit"]

    # the export is valid job input: its schema starts with the job's input columns
    schema = pq.read_schema(next((tmp_path / "out").glob("day=*/*.parquet")))
    assert [(f.name, str(f.type)) for f in schema][:5] == [
        ("hit_id", "string"), ("device_id", "string"), ("t_ms", "int64"), ("lat", "double"),
        ("lon", "double")]

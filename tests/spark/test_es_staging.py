"""es:// input staged as Parquet (spark_jobs/es_staging.py): where it is staged, and what a staged
file holds. The whole job on staged input against Spark rows: tests/spark/test_es_input.py."""
from __future__ import annotations

import os
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs

from crayfis.archive.device_sidecar import file_partials, read_sidecar, sidecar_path
from crayfis.coincidence.device_partials import combine_partials
from crayfis.definition import SearchParams
from spark_jobs.day_files import ROW_GROUP_ROWS
from spark_jobs.es_source import EsHitsQuery
from spark_jobs.es_staging import sorted_hits, write_staged
from spark_jobs.job_config import NO_STAGING, JobConfig, es_rows_in_jvm, stage_parent

PARAMS = SearchParams(window_ms=10, radius_m=500.0, min_devices=3)


def test_stage_parent_local_master_stages_in_the_temporary_folder():
    assert stage_parent("local[2]", None) == tempfile.gettempdir()


def test_stage_parent_cluster_reads_into_rows_unless_given_a_folder(tmp_path):
    assert stage_parent("spark://127.0.0.1:7077", None) is None
    assert stage_parent("spark://127.0.0.1:7077", str(tmp_path)) == str(tmp_path)
    assert stage_parent("local[2]", NO_STAGING) is None


def test_stage_parent_makes_a_relative_folder_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert stage_parent("local[2]", "stage") == os.path.join(str(tmp_path), "stage")


@pytest.mark.parametrize(("inp", "master", "stage_dir", "rows"), [
    ("es://x-hits-*", "local[2]", None, False),
    ("es://x-hits-*", "local[2]", NO_STAGING, True),
    ("es://x-hits-*", None, None, True),  # spark-submit's master: a cluster is assumed
    ("es://x-hits-*", None, "/shared/stage", False),
    ("hits.parquet", None, None, False),
])
def test_es_rows_in_jvm(inp, master, stage_dir, rows):
    cfg = JobConfig(input=inp, output="out", params=PARAMS, master=master, es_stage_dir=stage_dir)
    assert es_rows_in_jvm(cfg) is rows


def read_batches(n: int, seed: int = 3) -> list[pa.RecordBatch]:
    """Hits as the read tasks decode them (es_source.INPUT_FIELDS), in no time order, some rows
    without a time or a position, cut into a few batches."""
    rng = np.random.default_rng(seed)
    t = rng.integers(1_700_000_000_000, 1_700_000_600_000, n)
    lat = rng.uniform(-60, 60, n)
    table = pa.table({
        "hit_id": [f"h{i}" for i in range(n)],
        "device_id": [f"d{i % 97}" for i in range(n)],
        "t_ms": pa.array(t, mask=np.arange(n) % 501 == 7),
        "lat": pa.array(lat, mask=np.arange(n) % 313 == 5),
        "lon": rng.uniform(-170, 170, n),
    }, schema=EsHitsQuery("http://x", "p").schema())
    return table.to_batches(max_chunksize=n // 3 + 1)


def test_sorted_hits_puts_rows_in_time_order_with_untimed_rows_last():
    batches = read_batches(5_000)
    schema = batches[0].schema
    got = sorted_hits(batches, schema)
    t = got.column("t_ms")
    timed = t.drop_null().to_numpy()
    assert got.num_rows == 5_000 and np.all(np.diff(timed) >= 0)
    assert t.null_count and all(v is None for v in t.to_pylist()[len(timed):])
    assert sorted(got.column("hit_id").to_pylist()) == sorted(
        pa.Table.from_batches(batches).column("hit_id").to_pylist())


def test_sorted_hits_keeps_rows_already_in_time_order_as_they_are():
    t = pa.table({"hit_id": ["a", "b", "c", "d"], "device_id": ["x"] * 4, "t_ms": [1, 2, 2, 5],
                  "lat": [0.0] * 4, "lon": [0.0] * 4}, schema=EsHitsQuery("http://x", "p").schema())
    batches = t.to_batches(max_chunksize=2)
    assert sorted_hits(batches, t.schema).equals(t)
    shuffled = [batches[1], batches[0]]  # c, d, a, b: b and c tie, and keep their read order
    assert sorted_hits(shuffled, t.schema).column("hit_id").to_pylist() == ["a", "c", "b", "d"]


def test_write_staged_file_has_time_ordered_row_groups_and_bound_statistics(tmp_path):
    n = ROW_GROUP_ROWS * 2 + 1_000
    batches = read_batches(n)
    table = sorted_hits(batches, batches[0].schema)
    path = str(tmp_path / "part-00000.parquet")
    write_staged(table, path)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == n and meta.num_row_groups == 3
    assert pq.read_table(path).equals(table)
    local = fs.LocalFileSystem()
    stored = read_sidecar(local, path)
    assert stored is not None
    want = combine_partials(file_partials(local, path)).sort_by("device_id")
    got = combine_partials(stored).sort_by("device_id")
    assert got.drop(["x", "y", "z"]).equals(want.drop(["x", "y", "z"]))
    for axis in "xyz":  # sums over other cuts of the rows: equal up to rounding
        np.testing.assert_allclose(got.column(axis).to_numpy(), want.column(axis).to_numpy(),
                                   rtol=1e-12, atol=1e-9)
    assert sorted(os.listdir(tmp_path)) == ["_devices", "part-00000.parquet"]
    assert os.listdir(tmp_path / "_devices") == [os.path.basename(sidecar_path(path))]

"""The shuffle-free path for time-ordered Parquet equals the kernel on all hits, ties included."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from crayfis.definition import SearchParams
from spark_jobs.coincidence import JobConfig, run_job
from spark_jobs.job_config import WorkSplit
from spark_jobs.ordered_parquet import RowGroup, plan_tasks, row_groups
from spark_jobs.tiles import TileGrid
from tests.spark.reference import assert_same_candidates, kernel_background, kernel_candidates
from tests.spark.showerdata import START_MS, boundary_showers, make_hits

pytestmark = pytest.mark.spark

TAU, R, K = 10, 500.0, 3


@pytest.fixture(scope="module")
def ordered_data(tmp_path_factory):
    """Boundary showers in time order over two files, in row groups of 97 rows, so row-group
    edges fall inside showers and between hits of equal time."""
    table, truth = make_hits(7, boundary_showers(TileGrid.build(0.5, R)))
    table = table.take(pa.array(np.lexsort((np.arange(table.num_rows), table.column("t_ms").to_numpy()))))
    table = table.drop(["shower"])
    path = tmp_path_factory.mktemp("ordered")
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), path / "a.parquet", row_group_size=97)
    pq.write_table(table.slice(half), path / "b.parquet", row_group_size=97)
    return table, path


def run(spark, path, out, ordered_fast_path=True, **kw):
    cfg = JobConfig(input=str(path), output=str(out),
                    params=SearchParams(window_ms=TAU, radius_m=R, min_devices=K),
                    split=WorkSplit(rows_per_task=700, ordered_fast_path=ordered_fast_path), **kw)
    return run_job(spark, cfg), pq.read_table(out / "candidates.parquet")


def test_time_ordered_row_groups_take_the_shuffle_free_path_and_equal_the_kernel(spark, tmp_path,
                                                                                  ordered_data):
    table, path = ordered_data
    summary, got = run(spark, path, tmp_path / "out")
    assert summary["parameters"]["layout"] == "time-ordered row groups"
    assert summary["tasks"] >= 4 and summary["rows_with_halo"] > table.num_rows
    assert summary["hits_read"] == summary["core_anchors"] == table.num_rows
    assert_same_candidates(got, kernel_candidates(table, TAU, R, K))
    assert summary["expected_accidental_triggers"] == pytest.approx(
        kernel_background(table, TAU, R, K).expected_triggers, rel=1e-9)
    device_of = dict(zip(table.column("hit_id").to_pylist(), table.column("device_id").to_pylist()))
    assert got.column("devices").to_pylist() == [sorted({device_of[h] for h in c})
                                                 for c in got.column("hit_ids").to_pylist()]

    # the same files through the shuffle path give the same candidates
    forced, again = run(spark, path, tmp_path / "shuffled", ordered_fast_path=False)
    assert forced["parameters"]["layout"] == "slabs x tiles (shuffle)"
    assert again.column("hit_ids").to_pylist() == got.column("hit_ids").to_pylist()
    assert again.column("devices").to_pylist() == got.column("devices").to_pylist()
    assert np.allclose(again.column("p_value").to_numpy(), got.column("p_value").to_numpy(), rtol=1e-9)


def test_time_range_on_the_ordered_path(spark, tmp_path, ordered_data):
    table, path = ordered_data
    start, end = START_MS + 5 * 60_000, START_MS + 14 * 60_000
    summary, got = run(spark, path, tmp_path / "out", start_ms=start, end_ms=end)
    assert summary["parameters"]["layout"] == "time-ordered row groups"
    t = table.column("t_ms").to_numpy()
    inside = (t >= start) & (t < end)
    assert summary["hits_read"] == int(inside.sum())
    assert_same_candidates(got, kernel_candidates(table.filter(inside), TAU, R, K))


def test_shuffled_rows_fall_back_to_the_shuffle_path(tmp_path, ordered_data):
    table, _ = ordered_data
    shuffled = table.take(pa.array(np.random.default_rng(1).permutation(table.num_rows)))
    pq.write_table(shuffled, tmp_path / "s.parquet", row_group_size=97)
    groups = row_groups(["file:" + str(tmp_path / "s.parquet")])
    assert plan_tasks(groups, TAU, None, None, 4) is None


def test_halo_takes_every_row_group_that_meets_the_window():
    # core [0, 99] with tau 10 needs the groups that start by 109 and the tie at t = 0
    groups = [RowGroup(0, 0, 0, 10, 0, 99), RowGroup(0, 1, 10, 10, 100, 109),
              RowGroup(0, 2, 20, 10, 110, 200), RowGroup(1, 0, 0, 10, -5, 0)]
    tasks = plan_tasks(groups, 10, None, None, 4, max_halo_share=1.0)
    first = next(t for t in tasks if 0 in t.core)
    assert set(first.halo) >= {1, 3} and 2 not in first.halo
    # the tie at t = 0 comes before the core: a task reads its rows in time order
    assert first.halo[:first.halo_before] == (3,) and 3 not in first.halo[first.halo_before:]


def test_integer_device_ids_and_invalid_rows_on_the_ordered_path(spark, tmp_path, ordered_data):
    """device_id stored as int64 (no dictionary pages) and rows without a device or with a
    latitude off the globe: counted as read, left out of the search, same candidates."""
    table, _ = ordered_data
    names = table.column("device_id").to_pylist()
    number = {d: i for i, d in enumerate(sorted(set(names)))}
    ints = table.set_column(table.schema.get_field_index("device_id"), "device_id",
                            pa.array([number[d] for d in names], pa.int64()))
    t = table.column("t_ms").to_numpy()
    bad = pa.table({"hit_id": ["bad-0", "bad-1"], "device_id": pa.array([None, 7], pa.int64()),
                    "t_ms": pa.array([t[len(t) // 3]] * 2, pa.int64()), "lat": [10.0, 95.0],
                    "lon": [10.0, 10.0]}).select(ints.column_names).cast(ints.schema)
    both = pa.concat_tables([ints, bad])
    both = both.take(pa.array(np.argsort(both.column("t_ms").to_numpy(), kind="stable")))
    pq.write_table(both, tmp_path / "ints.parquet", row_group_size=97)
    summary, got = run(spark, tmp_path / "ints.parquet", tmp_path / "out")
    assert summary["parameters"]["layout"] == "time-ordered row groups"
    assert summary["rows_in_range"] == table.num_rows + 2
    assert summary["hits_read"] == summary["core_anchors"] == table.num_rows
    as_text = ints.set_column(ints.schema.get_field_index("device_id"), "device_id",
                              pc.cast(ints.column("device_id"), pa.string()))
    assert_same_candidates(got, kernel_candidates(as_text, TAU, R, K))
    assert summary["expected_accidental_triggers"] == pytest.approx(
        kernel_background(as_text, TAU, R, K).expected_triggers, rel=1e-9)

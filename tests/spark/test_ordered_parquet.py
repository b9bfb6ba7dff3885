"""The shuffle-free path over row groups by time equals the kernel on all hits, ties included, and
is taken by what its plan reads."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from crayfis.definition import SearchParams
from spark_jobs.coincidence import JobConfig, run_job
from spark_jobs.copy_stage import task_rows
from spark_jobs.job_config import WorkSplit
from spark_jobs.row_group_plan import MAX_READ_SHARE, RowGroup, plan_tasks
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


def run(spark, path, out, ordered_fast_path=True, rows_per_task=700, **kw):
    cfg = JobConfig(input=str(path), output=str(out),
                    params=SearchParams(window_ms=TAU, radius_m=R, min_devices=K),
                    split=WorkSplit(rows_per_task=rows_per_task, ordered_fast_path=ordered_fast_path), **kw)
    return run_job(spark, cfg), pq.read_table(out / "candidates.parquet")


def test_time_ordered_row_groups_take_the_shuffle_free_path_and_equal_the_kernel(spark, tmp_path,
                                                                                  ordered_data):
    table, path = ordered_data
    summary, got = run(spark, path, tmp_path / "out")
    assert summary["parameters"]["layout"] == "row groups by time"
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
    assert summary["parameters"]["layout"] == "row groups by time"
    t = table.column("t_ms").to_numpy()
    inside = (t >= start) & (t < end)
    assert summary["hits_read"] == int(inside.sum())
    assert_same_candidates(got, kernel_candidates(table.filter(inside), TAU, R, K,
                                                         span=(start, end)))


def test_row_groups_spanning_the_whole_range_are_cut_by_time():
    """Shuffled rows in three row groups, each spanning the whole range: four tasks each search
    a quarter of the time and read every group (a read share of 4), instead of three tasks
    each searching every row."""
    groups = [RowGroup(0, i, 1000 * i, 1000, 0, 2999) for i in range(3)]
    plan = plan_tasks(groups, TAU, None, None, 4)
    assert [(t.core_lo, t.core_hi) for t in plan.tasks] == [(0, 749), (750, 1499), (1500, 2249), (2250, 2999)]
    assert all(t.reads == (0, 1, 2) and t.keep_hi == min(t.core_hi + TAU, 2999) for t in plan.tasks)
    assert plan.read_rows == 4 * 3000 and plan.read_share == 4.0
    assert plan.searched_rows == pytest.approx(3000 * (1 + 3 * TAU / 3000))
    # many tasks over such groups read each row once per task: beyond MAX_READ_SHARE
    assert plan_tasks(groups, TAU, None, None, 16).read_share == 16 > MAX_READ_SHARE


def test_time_ordered_row_groups_are_read_once_but_at_the_cuts():
    """Row groups in time order: cuts move to the starts of row groups, so a task reads its own
    groups and, for the tau after its core, the next one."""
    groups = [RowGroup(0, i, 100 * i, 100, 1000 * i, 1000 * i + 999) for i in range(30)]
    plan = plan_tasks(groups, TAU, None, None, 4)
    assert [t.core_lo for t in plan.tasks] == [0, 7000, 15000, 22000]
    assert plan.tasks[0].reads == tuple(range(8))  # its groups 0-6 and group 7 for [7000, 7010]
    assert plan.read_rows == 3000 + 3 * 100
    assert plan.searched_rows == pytest.approx(3000 + 3 * TAU / 10)


def test_a_shuffled_file_with_three_row_groups_searches_each_hit_once(spark, tmp_path, ordered_data):
    """The job on such a file takes the shuffle-free path with each hit in one task's core and
    only the tau after each core twice; same candidates and background as the kernel.

    Fails before the fix: each of three tasks took one row group as its core and the other two
    whole as its halo, so every task searched every row (rows_with_halo = 3 x the hits)."""
    table, _ = ordered_data
    shuffled = table.take(pa.array(np.random.default_rng(1).permutation(table.num_rows)))
    pq.write_table(shuffled, tmp_path / "s.parquet", row_group_size=-(-table.num_rows // 3))
    summary, got = run(spark, tmp_path / "s.parquet", tmp_path / "out", rows_per_task=4000)
    assert summary["parameters"]["layout"] == "row groups by time"
    assert summary["tasks"] == 4 and summary["parameters"]["row_group_read_share"] == 4.0
    assert summary["hits_read"] == summary["core_anchors"] == table.num_rows
    assert summary["rows_with_halo"] < 1.05 * table.num_rows
    assert_same_candidates(got, kernel_candidates(table, TAU, R, K))
    assert summary["expected_accidental_triggers"] == pytest.approx(
        kernel_background(table, TAU, R, K).expected_triggers, rel=1e-9)
    # 19 tasks of 700 rows would each read every row: the general path
    forced, again = run(spark, tmp_path / "s.parquet", tmp_path / "many", rows_per_task=700)
    assert forced["parameters"]["layout"] == "slabs x tiles (shuffle)"
    assert again.column("hit_ids").to_pylist() == got.column("hit_ids").to_pylist()


def test_halo_takes_every_row_group_that_meets_the_window():
    # core [0, 99] with tau 10 needs the groups that start by 109 and the tie at t = 0
    groups = [RowGroup(0, 0, 0, 10, 0, 99), RowGroup(0, 1, 10, 10, 100, 109),
              RowGroup(0, 2, 20, 10, 110, 200), RowGroup(1, 0, 0, 10, -5, 0)]
    plan = plan_tasks(groups, 10, 0, None, 2)
    first = plan.tasks[0]
    assert (first.core_lo, first.core_hi, first.keep_hi) == (0, 99, 109)
    assert set(first.reads) == {0, 1, 3}
    # rows are read in time order: the tie at t = 0 first
    assert first.reads == (3, 0, 1)


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
    assert summary["parameters"]["layout"] == "row groups by time"
    assert summary["rows_in_range"] == table.num_rows + 2
    assert summary["hits_read"] == summary["core_anchors"] == table.num_rows
    as_text = ints.set_column(ints.schema.get_field_index("device_id"), "device_id",
                              pc.cast(ints.column("device_id"), pa.string()))
    assert_same_candidates(got, kernel_candidates(as_text, TAU, R, K))
    assert summary["expected_accidental_triggers"] == pytest.approx(
        kernel_background(as_text, TAU, R, K).expected_triggers, rel=1e-9)


def test_task_rows_put_each_task_alone_in_its_partition(spark):
    rows = task_rows(spark, 5).select("id", F.spark_partition_id().alias("p")).collect()
    assert sorted((r.id, r.p) for r in rows) == [(i, i) for i in range(5)]
    assert task_rows(spark, 0).count() == 0


def with_statistics(path, tmp_path):
    """A copy of the ordered files with their device statistics stored (as compaction does)."""
    import shutil

    from pyarrow import fs

    from crayfis.archive.device_sidecar import backfill

    copy = tmp_path / "stored"
    shutil.copytree(path, copy)
    files = sorted(str(p) for p in copy.glob("*.parquet"))
    assert backfill(fs.LocalFileSystem(), files) == len(files)
    return copy


def same_result(a, got_a, b, got_b):
    assert got_a.column("hit_ids").to_pylist() == got_b.column("hit_ids").to_pylist()
    assert got_a.column("devices").to_pylist() == got_b.column("devices").to_pylist()
    for key in ("hits_read", "rows_in_range", "devices", "t_min_ms", "t_max_ms", "triggered_anchors"):
        assert a[key] == b[key], key
    assert a["expected_accidental_triggers"] == pytest.approx(b["expected_accidental_triggers"], rel=1e-9)


def test_stored_device_statistics_replace_the_first_stage(spark, tmp_path, ordered_data):
    table, path = ordered_data
    computed, got = run(spark, path, tmp_path / "computed")
    assert computed["parameters"]["files_with_stored_device_statistics"] == 0
    stored_path = with_statistics(path, tmp_path)
    stored, again = run(spark, stored_path, tmp_path / "stored")
    assert stored["parameters"]["files"] == stored["parameters"]["files_with_stored_device_statistics"] == 2
    same_result(stored, again, computed, got)
    assert_same_candidates(again, kernel_candidates(table, TAU, R, K))


def test_stored_statistics_serve_only_files_read_whole(spark, tmp_path, ordered_data):
    table, path = ordered_data
    stored_path = with_statistics(path, tmp_path)
    t = table.column("t_ms").to_numpy()
    start = int(t[len(t) // 4])  # inside the first file: it is read in part, the second whole
    summary, got = run(spark, stored_path, tmp_path / "out", start_ms=start)
    assert summary["parameters"]["files_with_stored_device_statistics"] == 1
    inside = t >= start
    assert summary["hits_read"] == int(inside.sum())
    assert_same_candidates(got, kernel_candidates(table.filter(inside), TAU, R, K, span=(start, int(t.max()) + 1)))
    computed, again = run(spark, path, tmp_path / "computed", start_ms=start)
    same_result(summary, got, computed, again)


def test_statistics_of_a_replaced_file_are_not_used(spark, tmp_path, ordered_data):
    table, path = ordered_data
    stored_path = with_statistics(path, tmp_path)
    # b.parquet replaced by fewer rows: its stored statistics count hits it no longer holds
    second = pq.read_table(stored_path / "b.parquet")
    kept = second.slice(0, second.num_rows - 150)
    pq.write_table(kept, stored_path / "b.parquet", row_group_size=97)
    summary, got = run(spark, stored_path, tmp_path / "out")
    assert summary["parameters"]["files_with_stored_device_statistics"] == 1
    now = pa.concat_tables([pq.read_table(stored_path / "a.parquet"), kept])
    assert summary["hits_read"] == now.num_rows
    assert_same_candidates(got, kernel_candidates(now, TAU, R, K))


def test_the_command_in_a_new_process_on_stored_statistics(spark, tmp_path, ordered_data):
    import json
    import subprocess
    import sys

    table, path = ordered_data
    stored_path = with_statistics(path, tmp_path)
    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "spark_jobs.coincidence", "--input", str(stored_path),
                        "--output", str(out), "--window-ms", str(TAU), "--radius-m", str(R),
                        "--min-devices", str(K), "--rows-per-task", "700", "--master", "local[2]"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{table.num_rows} hits" in r.stdout and f"-> {out}" in r.stdout  # flushed before exit
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["files_with_stored_device_statistics"] == 2
    assert_same_candidates(pq.read_table(out / "candidates.parquet"), kernel_candidates(table, TAU, R, K))

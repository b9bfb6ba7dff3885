"""The Spark coincidence job equals the kernel run on all hits at once, on boundary showers.

These tests are about the general path (slabs x tiles): they ask for it (``ordered_fast_path``
False), since the job would search these files' row groups by time without a shuffle
(test_ordered_parquet.py)."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from crayfis.definition import HOUR_MS, SearchParams
from spark_jobs.coincidence import JobConfig, run_job
from spark_jobs.job_config import WorkSplit
from spark_jobs.partitioning import PartitionPlan, aligned_cuts
from spark_jobs.tiles import TileGrid
from tests.spark.reference import assert_same_candidates, kernel_background, kernel_candidates, kernel_time_slides
from tests.spark.showerdata import START_MS, boundary_showers, make_hits

pytestmark = pytest.mark.spark

TAU, R, K = 10, 500.0, 3
TILE_DEG = 0.5


def run(spark, path, out, **split):
    cfg = JobConfig(input=str(path), output=str(out),
                    params=SearchParams(window_ms=TAU, radius_m=R, min_devices=K),
                    split=WorkSplit(ordered_fast_path=False, **split))
    summary = run_job(spark, cfg)
    assert json.loads((out / "summary.json").read_text())["candidates"] == summary["candidates"]
    return summary, pq.read_table(out / "candidates.parquet")


@pytest.fixture(scope="module")
def boundary_data(tmp_path_factory):
    showers = boundary_showers(TileGrid.build(TILE_DEG, R))
    table, truth = make_hits(7, showers)
    path = tmp_path_factory.mktemp("hits")  # three files: hit codes number files and rows
    third = table.num_rows // 3
    for i, (a, b) in enumerate([(0, third), (third, 2 * third), (2 * third, table.num_rows)]):
        pq.write_table(table.slice(a, b - a).drop(["shower"]), path / f"part-{i}.parquet",
                       row_group_size=1000)
    return table, truth, showers, path


def test_showers_on_partition_edges_are_found_once_and_match_the_kernel(spark, tmp_path, boundary_data):
    table, truth, showers, path = boundary_data
    summary, got = run(spark, path, tmp_path / "out", tile_deg=TILE_DEG, slab_ms=60_000)

    # the showers really straddle partitions: their hits have more than one home partition
    plan = PartitionPlan.build(aligned_cuts(summary["t_min_ms"], summary["t_max_ms"], 60_000),
                               TAU, TILE_DEG, R)
    hit_ids = table.column("hit_id").to_pylist()
    for s in showers:
        rows = [hit_ids.index(h) for h in truth[s.name]]
        homes = plan.home(table.column("t_ms").to_numpy()[rows], table.column("lat").to_numpy()[rows],
                          table.column("lon").to_numpy()[rows])
        # (the polar band is one tile, so the hits around the pole share one home)
        assert s.name in ("plain", "north_pole") or len(set(homes.tolist())) > 1, s.name

    assert summary["parameters"]["layout"] == "slabs x tiles (shuffle)"
    assert summary["hits_read"] == table.num_rows == summary["core_anchors"]
    assert summary["partitions"] > 10 and summary["rows_with_halo"] > table.num_rows
    assert_same_candidates(got, kernel_candidates(table, TAU, R, K))
    background = kernel_background(table, TAU, R, K)
    assert summary["expected_accidental_triggers"] == pytest.approx(background.expected_triggers,
                                                                    rel=1e-9)
    assert summary["searched_live_ms"] == background.searched_live_ms
    assert summary["live_time_source"] == "observed_span"
    found = got.column("hit_ids").to_pylist()
    device_of = dict(zip(hit_ids, table.column("device_id").to_pylist()))
    assert got.column("devices").to_pylist() == [sorted({device_of[h] for h in c}) for c in found]
    for s in showers:
        holding = [c for c in found if set(truth[s.name]) & set(c)]
        assert len(holding) == 1 and set(truth[s.name]) <= set(holding[0]), s.name


def test_count_balanced_slabs_and_time_slides_equal_the_kernel(spark, tmp_path, boundary_data):
    table, truth, showers, path = boundary_data
    cfg = JobConfig(input=str(path), output=str(tmp_path / "out"), time_slides=2, slide_seed=3,
                    params=SearchParams(window_ms=TAU, radius_m=R, min_devices=K),
                    split=WorkSplit(tile_deg=1.0, rows_per_slab=1500, rows_per_task=3000))
    summary = run_job(spark, cfg)
    assert summary["parameters"]["time_slabs"] >= 4
    assert_same_candidates(pq.read_table(tmp_path / "out" / "candidates.parquet"),
                           kernel_candidates(table, TAU, R, K))
    slides = kernel_time_slides(table, TAU, R, K, 2, 3)
    assert summary["time_slides"]["triggered_anchors"] == slides.triggered_counts.tolist()
    assert summary["time_slides"]["candidates"] == slides.candidate_counts.tolist()
    # the real showers do not survive the slides
    assert max(slides.triggered_counts) < summary["triggered_anchors"]


def test_a_dense_city_is_spread_over_several_partitions(spark, tmp_path):
    showers = boundary_showers(TileGrid.build(2.0, R))
    city = [(46.2, 6.1)] * 10 + [(s.lat, s.lon) for s in showers[3:]]
    table, truth = make_hits(11, showers, sites=city, phones_per_site=8, rate_hz=0.2)
    path = tmp_path / "hits.parquet"
    pq.write_table(table.drop(["shower"]), path)
    in_city = np.abs(table.column("lat").to_numpy() - 46.2) < 0.1
    assert in_city.mean() > 0.7
    summary, got = run(spark, path, tmp_path / "out", rows_per_slab=table.num_rows // 8,
                       rows_per_task=table.num_rows // 8)
    # one count-balanced slab per task
    assert summary["partitions"] >= 8 and summary["tasks"] == summary["parameters"]["time_slabs"] >= 8
    assert summary["max_partition_rows"] < 0.2 * table.num_rows
    assert summary["max_task_rows"] < 0.2 * table.num_rows
    assert_same_candidates(got, kernel_candidates(table, TAU, R, K))


def test_time_range_limits_the_hits_searched(spark, tmp_path, boundary_data):
    table, truth, showers, path = boundary_data
    start, end = START_MS + 5 * 60_000, START_MS + 14 * 60_000
    cfg = JobConfig(input=str(path), output=str(tmp_path / "out"), start_ms=start, end_ms=end,
                    params=SearchParams(window_ms=TAU, radius_m=R, min_devices=K),
                    split=WorkSplit(tile_deg=TILE_DEG, ordered_fast_path=False))
    summary = run_job(spark, cfg)
    assert summary["parameters"]["layout"] == "slabs x tiles (shuffle)"
    t = table.column("t_ms").to_numpy()
    inside = (t >= start) & (t < end)
    assert summary["hits_read"] == int(inside.sum())
    got = pq.read_table(tmp_path / "out" / "candidates.parquet")
    assert_same_candidates(got, kernel_candidates(table.filter(inside), TAU, R, K,
                                                         span=(start, end)))


def test_a_range_without_hits_gives_empty_outputs(spark, tmp_path, boundary_data):
    table, truth, showers, path = boundary_data
    cfg = JobConfig(input=str(path), output=str(tmp_path / "out"), start_ms=START_MS - HOUR_MS,
                    end_ms=START_MS - 60_000, time_slides=2,
                    params=SearchParams(window_ms=TAU, radius_m=R, min_devices=K))
    summary = run_job(spark, cfg)
    assert (summary["hits_read"], summary["candidates"], summary["triggered_anchors"]) == (0, 0, 0)
    got = pq.read_table(tmp_path / "out" / "candidates.parquet")
    assert got.num_rows == 0 and "hit_ids" in got.column_names

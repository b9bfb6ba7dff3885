"""The shared session's Python workers run with the environment build_session gives them."""

from __future__ import annotations


def test_python_workers_keep_arrow_memory(spark):
    # the setting only helps if it reaches the worker processes, where pyarrow's mimalloc
    # reads it at start; a conf key that Spark ignored would leave it silently unset
    def env(batches):
        import os

        import pyarrow as pa

        for _ in batches:
            yield pa.record_batch({"v": [os.environ.get("MIMALLOC_PURGE_DELAY")]})

    rows = spark.range(2).repartition(2).mapInArrow(env, "v string").collect()
    assert {r.v for r in rows} == {"-1"}


def test_a_job_on_time_ordered_parquet_builds_no_sql_session(spark, tmp_path):
    # the shuffle-free path runs driver_tasks on the context alone; a SparkSession in a new
    # process costs the driver JVM seconds of CPU, so a step that needed one by accident
    # would show here, not only in the cold benchmark
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from crayfis.definition import SearchParams
    from spark_jobs.coincidence import JobConfig, run_job
    from spark_jobs.session import SessionOnDemand

    n = 2000
    rng = np.random.default_rng(3)
    pq.write_table(pa.table({"hit_id": [f"h{i}" for i in range(n)],
                             "device_id": [f"d{i % 40}" for i in range(n)],
                             "t_ms": np.sort(rng.integers(0, 60_000, n)),
                             "lat": 40 + rng.random(n) * 0.05, "lon": -80 + rng.random(n) * 0.05}),
                   tmp_path / "hits.parquet", row_group_size=250)
    lazy = SessionOnDemand(spark.sparkContext)
    summary = run_job(lazy, JobConfig(input=str(tmp_path / "hits.parquet"), output=str(tmp_path / "out"),
                                      params=SearchParams(window_ms=20, radius_m=2000, min_devices=3)))
    assert summary["parameters"]["layout"] == "row groups by time"
    assert summary["hits_read"] == n and summary["triggered_anchors"] > 0
    assert not lazy.built
    assert lazy.range(3).count() == 3 and lazy.built  # anything else builds it

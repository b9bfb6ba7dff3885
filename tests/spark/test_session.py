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

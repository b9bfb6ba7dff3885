"""One way to build a SparkSession, so jobs, tests and benchmarks configure Spark alike."""
from __future__ import annotations

import os
import sys

from pyspark.find_spark_home import _find_spark_home
from pyspark.sql import SparkSession


def build_session(app_name: str = "crayfis", master: str | None = None, conf: dict | None = None):
    """A SparkSession whose Python workers run this interpreter (PYSPARK_PYTHON).

    master=None keeps what spark-submit set (a cluster); otherwise e.g. "local[2]".
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # spark-submit, run without SPARK_HOME, starts a Python interpreter to find it
    os.environ.setdefault("SPARK_HOME", _find_spark_home())
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    defaults = {
        # Arrow's allocator (mimalloc) hands freed memory back to the OS after 10 ms, so every
        # task of a reused Python worker would page-fault its column buffers in again: workers
        # keep it, like glibc's heap after malloc_tuning.keep_freed_memory(); a worker holds
        # its largest task's memory
        "spark.executorEnv.MIMALLOC_PURGE_DELAY": "-1",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }
    for key, value in {**defaults, **(conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()

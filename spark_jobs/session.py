"""One way to build a SparkSession, so jobs, tests and benchmarks configure Spark alike."""
from __future__ import annotations

import os
import sys

from pyspark import SparkContext
from pyspark.find_spark_home import _find_spark_home
from pyspark.sql import SparkSession

from spark_jobs.class_sharing import driver_java_options


def build_session(app_name: str = "crayfis", master: str | None = None, conf: dict | None = None):
    """A SparkSession whose Python workers run this interpreter (PYSPARK_PYTHON).

    master=None keeps what spark-submit set (a cluster); otherwise e.g. "local[2]", and the
    driver JVM maps its classes from a class-data sharing archive (class_sharing.py).
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
    settings = {**defaults, **(conf or {})}
    # when this process starts the driver JVM (spark-submit starts its own; a running context
    # keeps its JVM)
    if master and SparkContext._active_spark_context is None:
        options = " ".join(filter(None, [driver_java_options(os.environ["SPARK_HOME"]),
                                         settings.get("spark.driver.extraJavaOptions")]))
        if options:
            settings["spark.driver.extraJavaOptions"] = options
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()

"""One way to start Spark, so jobs, tests and benchmarks configure it alike.

``build_session`` gives a SparkSession. ``start_spark`` gives a ``SessionOnDemand``: the
SparkContext (and its JVM) at once, Spark SQL's session only when a step first asks for it. A
job whose stages are all driver_tasks (the coincidence job on time-ordered Parquet) never
builds the session, which in a new process costs the driver JVM seconds of CPU (its SQL
machinery's classes, state and first generated code) on the cores the tasks need.
"""
from __future__ import annotations

import os
import sys

from pyspark import SparkConf, SparkContext
from pyspark.find_spark_home import _find_spark_home
from pyspark.sql import SparkSession

from spark_jobs.class_sharing import driver_java_options

ARROW_BATCH_ROWS = 100_000  # rows per Arrow batch between the JVM and Python workers
# For a local driver JVM whose stages are Python tasks: it schedules them and moves their bytes.
# C1 alone compiles that soon enough, where C2 spends seconds of CPU compiling Spark's start-up
# code on the two cores the tasks need; the serial collector has no threads to compete either
# (docs/benchmarks.md, the cold job). Not for JVM-heavy work (a shuffle of rows, Spark SQL).
COORDINATOR_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def spark_settings(master: str | None, conf: dict | None, jvm_options: str = "") -> dict:
    """Spark configuration for a new context: the defaults below, then ``conf``; for a driver
    JVM this process starts (a ``master`` given, no context running) its JVM options: the
    class-data sharing archive (class_sharing.py), ``jvm_options``, then ``conf``'s own."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # spark-submit, run without SPARK_HOME, starts a Python interpreter to find it
    os.environ.setdefault("SPARK_HOME", _find_spark_home())
    defaults = {
        # Arrow's allocator (mimalloc) hands freed memory back to the OS after 10 ms, so every
        # task of a reused Python worker would page-fault its column buffers in again: workers
        # keep it, like glibc's heap after malloc_tuning.keep_freed_memory(); a worker holds
        # its largest task's memory
        "spark.executorEnv.MIMALLOC_PURGE_DELAY": "-1",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(ARROW_BATCH_ROWS),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }
    settings = {**defaults, **(conf or {})}
    if master and SparkContext._active_spark_context is None:
        options = " ".join(filter(None, [driver_java_options(os.environ["SPARK_HOME"]), jvm_options,
                                         settings.get("spark.driver.extraJavaOptions")]))
        if options:
            settings["spark.driver.extraJavaOptions"] = options
    return settings


def build_session(app_name: str = "crayfis", master: str | None = None, conf: dict | None = None):
    """A SparkSession whose Python workers run this interpreter (PYSPARK_PYTHON).

    master=None keeps what spark-submit set (a cluster); otherwise e.g. "local[2]", and the
    driver JVM maps its classes from a class-data sharing archive (class_sharing.py).
    """
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for key, value in spark_settings(master, conf).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


class SessionOnDemand:
    """Stands in for a SparkSession: ``sparkContext`` at once, anything else from the session,
    which is built on first use (with the context's settings) and kept."""

    def __init__(self, sc: SparkContext):
        self.sparkContext = sc
        self._session: SparkSession | None = None

    @property
    def built(self) -> bool:
        return self._session is not None

    @property
    def session(self) -> SparkSession:
        if self._session is None:
            self._session = SparkSession.builder.getOrCreate()
        return self._session

    def __getattr__(self, name: str):
        return getattr(self.session, name)

    def stop(self) -> None:
        (self._session or self.sparkContext).stop()


def start_spark(app_name: str, master: str | None = None, conf: dict | None = None,
                jvm_options: str = "") -> SessionOnDemand:
    """A SparkContext configured as ``build_session`` configures one, its session on demand;
    ``jvm_options`` go to a driver JVM this process starts (e.g. ``COORDINATOR_JVM``)."""
    spark_conf = SparkConf().setAppName(app_name)
    if master:
        spark_conf = spark_conf.setMaster(master)
    spark_conf = spark_conf.setAll(list(spark_settings(master, conf, jvm_options).items()))
    return SessionOnDemand(SparkContext.getOrCreate(spark_conf))

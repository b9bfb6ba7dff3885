"""Python tasks whose results go to the driver, run on the SparkContext alone (no Spark SQL).

``run_tasks(sc, n, body)`` runs ``body(0)`` .. ``body(n - 1)``, one Spark task each, in the
cluster's Python workers, and returns the Arrow record batches they yielded, in task order.
Each batch travels back as one LZ4-compressed Arrow IPC stream (``task_rows.stream_bytes``):
the JVM holds a few byte strings per task and never looks inside. The tasks' specs travel in
the body's closure and each task takes its own by number.

Why not a DataFrame (``mapInArrow`` over ``spark.range``, then ``toArrow``): that needs a
SparkSession, Spark SQL's planning and generated code, and a conversion of every batch to JVM
rows and back, for results that are only bytes to the JVM. In a new process those cost the
driver JVM seconds of CPU before the first task (docs/benchmarks.md, the cold job), on the same
cores as the tasks. One Python worker runs each task (the partition is empty; its index is the
task number), as in a mapInArrow stage, and the workers are reused from task to task.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa

from spark_jobs.task_rows import stream_batches, stream_bytes

TaskBody = Callable[[int], Iterator[pa.RecordBatch]]


def run_tasks(sc, n_tasks: int, body: TaskBody) -> list[pa.RecordBatch]:
    """Every batch ``body(i)`` yields for i = 0 .. n_tasks - 1, task by task, in order."""
    if n_tasks <= 0:
        return []

    def task(number: int, rows) -> Iterator[bytes]:
        # read the (empty) partition to its end marker first: a worker that leaves input
        # unread is not reused, and each task would start a Python worker of its own
        for _ in rows:
            pass
        for batch in body(number):
            yield stream_bytes(batch).to_pybytes()

    streams = sc.parallelize([], n_tasks).mapPartitionsWithIndex(task).collect()
    return [batch for data in streams for batch in stream_batches(data)]


def run_table(sc, n_tasks: int, body: TaskBody, schema: pa.Schema) -> pa.Table:
    """``run_tasks`` as one table of ``schema`` (empty when no task yields a row)."""
    return pa.Table.from_batches(run_tasks(sc, n_tasks, body), schema=schema)

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
from pyspark import InheritableThread

from spark_jobs.task_rows import stream_batches, stream_bytes

TaskBody = Callable[[int], Iterator[pa.RecordBatch]]
_STARTING: list[InheritableThread] = []  # start_workers' jobs not yet joined


def run_tasks(sc, n_tasks: int, body: TaskBody) -> list[pa.RecordBatch]:
    """Every batch ``body(i)`` yields for i = 0 .. n_tasks - 1, task by task, in order (after
    ``start_workers``' job, if one runs: its workers are then idle for these tasks)."""
    if n_tasks <= 0:
        return []
    while _STARTING:
        _STARTING.pop().join()
    return [batch for data in _collect(sc, n_tasks, body) for batch in stream_batches(data)]


def _collect(sc, n_tasks: int, body: TaskBody) -> list[bytes]:
    """The streams of all batches of tasks 0 .. n_tasks - 1, in task order."""

    def task(number: int, rows) -> Iterator[bytes]:
        # read the (empty) partition to its end marker first: a worker that leaves input
        # unread is not reused, and each task would start a Python worker of its own
        for _ in rows:
            pass
        for batch in body(number):
            yield stream_bytes(batch).to_pybytes()

    return sc.parallelize([], n_tasks).mapPartitionsWithIndex(task).collect()


def run_table(sc, n_tasks: int, body: TaskBody, schema: pa.Schema) -> pa.Table:
    """``run_tasks`` as one table of ``schema`` (empty when no task yields a row)."""
    return pa.Table.from_batches(run_tasks(sc, n_tasks, body), schema=schema)


def start_workers(sc, warm: Callable[[], None]) -> InheritableThread:
    """Start the cluster's Python workers now, in the background: one task per core runs
    ``warm`` (e.g. the imports the tasks to come need) in a job of its own, while the caller
    goes on (imports, planning). The next ``run_tasks`` waits for that job, and Spark hands a
    finished task's Python worker to the next task, so its tasks find the workers started
    instead of starting them: in a new process that is seconds on two cores (the Python daemon,
    then each worker's imports) that would otherwise come after the caller's own work instead
    of beside it. Join the thread before leaving. An error here is dropped: the tasks that need
    the same code meet it and report it."""

    def body(number: int) -> Iterator[pa.RecordBatch]:
        warm()
        return iter(())

    def run():
        try:
            _collect(sc, sc.defaultParallelism, body)
        except Exception:  # the tasks that need the same code report it
            pass

    thread = InheritableThread(target=run, daemon=True)
    _STARTING.append(thread)
    thread.start()
    return thread

"""driver_tasks: numbered Python tasks on the SparkContext, their Arrow batches back in order."""

from __future__ import annotations

import pyarrow as pa
import pytest

from spark_jobs.driver_tasks import run_table, run_tasks

SCHEMA = pa.schema([("task", pa.int64()), ("pid", pa.int64()), ("text", pa.string())])


def numbered(counts: list[int]):
    """Task i yields counts[i] batches, each naming the task, the worker and a string."""

    def body(number: int):
        import os

        for k in range(counts[number]):
            yield pa.record_batch({"task": [number] * (k + 1), "pid": [os.getpid()] * (k + 1),
                                   "text": [f"t{number}-b{k}-é"] * (k + 1)}, schema=SCHEMA)
    return body


def test_every_task_runs_once_and_its_batches_come_back_in_task_order(spark):
    counts = [2, 0, 1, 3, 1]
    batches = run_tasks(spark.sparkContext, len(counts), numbered(counts))
    got = [(b.column("task")[0].as_py(), b.num_rows, b.column("text")[0].as_py()) for b in batches]
    assert got == [(0, 1, "t0-b0-é"), (0, 2, "t0-b1-é"), (2, 1, "t2-b0-é"), (3, 1, "t3-b0-é"),
                   (3, 2, "t3-b1-é"), (3, 3, "t3-b2-é"), (4, 1, "t4-b0-é")]
    assert all(b.schema.equals(SCHEMA) for b in batches)


def test_tasks_run_in_python_workers_that_are_reused(spark):
    import os

    # a worker that left its input unread would exit after each task: six new processes,
    # each importing the job's modules again
    sc = spark.sparkContext
    pids = set(run_table(sc, 6, numbered([1] * 6), SCHEMA).column("pid").to_pylist())
    assert os.getpid() not in pids
    assert len(pids) <= sc.defaultParallelism


def test_no_tasks_no_rows(spark):
    assert run_tasks(spark.sparkContext, 0, numbered([])) == []
    assert run_table(spark.sparkContext, 0, numbered([]), SCHEMA).equals(SCHEMA.empty_table())


def test_a_failing_task_fails_the_run_with_its_error(spark):
    def body(number: int):
        if number == 1:
            raise ValueError("task one cannot read its row group")
        yield pa.record_batch({"task": [number], "pid": [0], "text": ["ok"]}, schema=SCHEMA)

    with pytest.raises(Exception, match="task one cannot read its row group"):
        run_tasks(spark.sparkContext, 3, body)


def test_workers_started_ahead_take_the_next_tasks(spark, tmp_path):
    from spark_jobs.driver_tasks import start_workers

    sc = spark.sparkContext

    def warm():  # each started worker leaves its pid
        import os

        (tmp_path / f"warm-{os.getpid()}").touch()

    thread = start_workers(sc, warm)
    pids = set(run_table(sc, 4, numbered([1] * 4), SCHEMA).column("pid").to_pylist())
    assert not thread.is_alive()  # run_tasks waited for it
    warmed = {int(p.name.split("-")[1]) for p in tmp_path.glob("warm-*")}
    # the tasks ran in the workers already started, and none was started beside them
    assert warmed and pids & warmed and len(pids | warmed) <= sc.defaultParallelism


def test_an_error_while_starting_workers_is_left_to_the_tasks(spark):
    from spark_jobs.driver_tasks import start_workers

    def warm():
        raise ImportError("no such module")

    start_workers(spark.sparkContext, warm).join()
    assert run_tasks(spark.sparkContext, 2, numbered([1, 1]))  # still runs

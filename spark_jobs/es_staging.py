"""es:// input staged by its read tasks as time-ordered Parquet files, for the shuffle-free path.

What: the read tasks (driver_tasks.py: Python tasks on the SparkContext) each read their share of
the point-in-time slices (es_source.py: the same plan, the same compiled scanner), sort their
hits by time, and write them as one Parquet file in a staging folder, with row groups of
day_files.ROW_GROUP_ROWS rows and the file's device statistics beside it
(crayfis/archive/device_sidecar.py). The job then searches those files as it searches the
archive (ordered_parquet.py): every file is read whole, so the statistics stage does not run.
The folder is removed when the job is done.

Why: reading into a Spark DataFrame makes the JVM convert every hit from Arrow to its rows,
hold the persisted copy and shuffle it, on the cores Elasticsearch needs to answer the reads.
Here the hits cross no JVM: a read task does what the bare reader does (bench/es_read.py), then
one sort and one write of its rows; the files sit in the page cache for the search.

Where it applies: the tasks and the driver must see the same folder. A local master does; a
cluster needs ``--es-stage-dir`` on storage every worker mounts at the same path (or the
DataFrame read of hits_input.py, the default there).

Exactness: the files hold exactly the rows the DataFrame read would hold (the same query under the
same point-in-time), so the job finds the same candidates; hit codes name (file, row) instead of
(slice, position), and member ids are read back from the files.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import fs

from crayfis.archive.device_sidecar import write_sidecar
from crayfis.coincidence.device_partials import table_partials
from spark_jobs.day_files import ROW_GROUP_ROWS, UNIQUE
from spark_jobs.driver_tasks import run_table
from spark_jobs.es_source import EsHitsQuery, IndexPit, ReadPlan, plan_of, read_slices, tasks_of
from spark_jobs.hits_input import InputHits, es_input
from spark_jobs.parquet_files import local_uri

STAGED = pa.schema([("path", pa.string()), ("rows", pa.int64())])


def sorted_hits(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    """One task's hits in time order (a stable sort: ties keep read order; rows without a time
    last). Hit indices are sorted by time (crayfis/es/templates.py) and a slice is a range of
    doc ids, so a task's slices of a one-segment index usually arrive in time order already:
    then nothing is moved."""
    table = pa.Table.from_batches(batches, schema=schema).combine_chunks()
    t = table.column("t_ms")
    if not t.null_count and np.all(np.diff(t.to_numpy()) >= 0):
        return table
    order = pc.sort_indices(table, sort_keys=[("t_ms", "ascending")])  # nulls go last
    return table.take(order)


def write_staged(table: pa.Table, path: str) -> None:
    """``table`` as a Parquet file at ``path`` with its device statistics beside it. Written
    under a temporary name and moved, so a retried task replaces a whole file."""
    filesystem = fs.LocalFileSystem()
    temp = f"{os.path.dirname(path)}/.{uuid.uuid4().hex}.tmp"
    dictionary = [name for name in table.schema.names
                  if name not in UNIQUE and pa.types.is_string(table.schema.field(name).type)]
    pq.write_table(table, temp, row_group_size=ROW_GROUP_ROWS, compression="none",
                   use_dictionary=dictionary)
    write_sidecar(filesystem, temp, pa.Table.from_batches([table_partials(table)]), publish_as=path)
    filesystem.move(temp, path)


def stage_task(q: EsHitsQuery, plan: ReadPlan, assignment: list[list[int]], folder: str):
    """Task body (driver_tasks.py): read task i's slices, write them as ``part-i.parquet``,
    yield one STAGED row (no file when the slices hold no hit)."""
    schema = q.schema()

    def body(number: int) -> Iterator[pa.RecordBatch]:
        batches = [batch for _, batch in read_slices(q, plan, assignment[number])]
        rows = sum(b.num_rows for b in batches)
        if not rows:
            return
        path = f"{folder}/part-{number:05d}.parquet"
        write_staged(sorted_hits(batches, schema), path)
        yield pa.RecordBatch.from_pydict({"path": [path], "rows": [rows]}, schema=STAGED)
    return body


def stage_hits(sc, q: EsHitsQuery, pits: tuple[IndexPit, ...], n_tasks: int, folder: str) -> list[str]:
    """Read the hits of ``q`` under ``pits`` with ``n_tasks`` tasks into Parquet files in
    ``folder``; their paths, in file-number order."""
    plan = plan_of(q, pits)
    if not plan.slices:
        return []
    n_tasks = max(1, min(int(n_tasks), len(plan.slices)))
    staged = run_table(sc, n_tasks, stage_task(q, plan, tasks_of(len(plan.slices), n_tasks), folder),
                       STAGED)
    return sorted(staged.column("path").to_pylist())


@contextlib.contextmanager
def staged_input(spark, url: str, pattern: str, start_ms: int | None, end_ms: int | None,
                 pits: tuple[IndexPit, ...] | None, n_tasks: int, parent: str):
    """The job's InputHits for es:// hits in [start_ms, end_ms), staged under a new folder in
    ``parent``; the folder is removed on the way out. No hits: the (empty) es:// input."""
    q = EsHitsQuery(url, pattern, start_ms, end_ms, only_hits=True)
    os.makedirs(parent, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="crayfis-es-stage-", dir=parent)
    try:
        files = stage_hits(spark.sparkContext, q, pits, n_tasks, folder) if pits else []
        if not files:
            inp = es_input(spark, url, pattern, start_ms, end_ms, None, n_tasks)
            try:
                yield inp
            finally:
                inp.raw.unpersist()
            return
        yield InputHits(None, is_parquet=True, path=folder, listed=tuple(local_uri(f) for f in files),
                        staged=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

"""The general path's first stage: every hit -> its copies (home and halo), grouped by the task
that will search them, as packed blocks for one shuffle.

Each source task turns its hits into numbers (hit code, device code, t, lat, lon), applies a
time slide if asked (``significance.slid_times``), makes the copies of ``PartitionPlan.assign``
in one compiled pass (compiled_assign.py) and hands Spark one row per destination task: the
task's key and its copies as one Arrow IPC stream (``COPY_COLUMNS``). The
shuffle then moves a few large byte strings per source task instead of a row per copy, and
the hits cross between the JVM and Python at most once (ES input: JVM -> Python here; Parquet
input: not at all, the source tasks read the row groups with pyarrow).

Two sources: ``RowGroupSource`` (Parquet row groups in runs of similar size, device codes by
the row groups' dictionaries, as the shuffle-free path reads them) and ``FrameSource`` (a
DataFrame of coded hits, from Elasticsearch; device codes by device hash).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import TaskContext
from pyspark.sql.pandas.types import from_arrow_schema

from crayfis.coincidence.malloc_tuning import keep_freed_memory
from crayfis.coincidence.significance import slid_times
from spark_jobs import ordered_parquet
from spark_jobs.compiled_assign import copies_by_task
from spark_jobs.partitioning import PartitionPlan
from spark_jobs.row_group_plan import RowGroup

COPIES = pa.schema([("task_key", pa.int64()), ("source", pa.int64()), ("payload", pa.binary())])
# One copy of a hit in one partition, as the search stage receives it.
COPY_COLUMNS = pa.schema([("pkey", pa.int64()), ("home", pa.bool_()), ("hit_code", pa.int64()),
                          ("device_code", pa.int32()), ("t_ms", pa.int64()), ("lat", pa.float64()),
                          ("lon", pa.float64())])
IPC_FRAMING = 4096  # bytes beyond the batch's own: the stream's schema message and end marker
FRAME_BLOCK_ROWS = 1 << 20  # a FrameSource task gathers this many hits per pass (bounds memory)


def task_rows(spark, n_tasks: int):
    """One row per source task (``id`` 0 .. n_tasks - 1), one task per Spark partition, made by
    the JVM (``spark.range`` puts id i alone in partition i), for a mapInArrow whose output a
    shuffle takes (results for the driver go through driver_tasks.py instead). The tasks'
    specs travel in the function's closure and each task looks its own up
    (``numbered_specs``): rows built from Python data would need a Python worker of their own
    in every task, to unpickle them, before the mapInArrow's."""
    return spark.range(0, n_tasks, 1, max(1, n_tasks))


def numbered_specs(batches: Iterator[pa.RecordBatch], specs: list) -> Iterator[tuple[int, object]]:
    """(task number, its spec) for each ``task_rows`` row of a task's input batches."""
    for b in batches:
        for number in b.column("id").to_pylist():
            yield number, specs[number]


@dataclass(frozen=True)
class TimeSlide:
    """Shift device d's times by offsets[d] (device codes) modulo the span [t0, t0 + span):
    ``significance.slid_times``, applied to the hits before they are copied."""

    t0: int
    span: int
    offsets_ms: np.ndarray  # per device code


@dataclass(frozen=True)
class CopyPlan:
    """Where copies go: the partition plan, each slab's task and each task's repartition key."""

    plan: PartitionPlan
    task_of_slab: np.ndarray  # slab -> task 0..n_tasks-1
    task_keys: np.ndarray  # task -> a key value that Spark's hash partitioning sends to it alone
    slide: TimeSlide | None = None

    @property
    def n_tasks(self) -> int:
        return len(self.task_keys)


def pack(batch: pa.RecordBatch) -> pa.Buffer:
    """``batch`` as one Arrow IPC stream, written once into a buffer of its size. Not compressed
    here: Arrow's LZ4 frames cost more CPU than making the copies does, while
    Spark compresses its shuffle files itself (``spark.shuffle.compress``)."""
    buf = pa.allocate_buffer(pa.ipc.get_record_batch_size(batch) + IPC_FRAMING)
    sink = pa.FixedSizeBufferWriter(buf)
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return buf.slice(0, sink.tell())


def copy_blocks(cp: CopyPlan, source: int, code, dev, t, lat, lon) -> Iterator[pa.RecordBatch]:
    """COPIES rows for these hits: one per task that gets any of their copies, each its own
    batch (the IPC bytes stay where they were written, no copy). ``source`` numbers the block
    of hits; a search task puts the blocks it receives back in ``source`` order, so hits that
    came in time order stay in time order."""
    if not len(t):
        return
    if cp.slide is not None:
        t = slid_times(t, cp.slide.t0, cp.slide.span, cp.slide.offsets_ms[dev])
    offsets, idx, key, home = copies_by_task(cp.plan, cp.task_of_slab, cp.n_tasks, t, lat, lon)
    for j in np.flatnonzero(np.diff(offsets)).tolist():  # a loop over tasks, not hits
        part = slice(offsets[j], offsets[j + 1])
        rows = idx[part]
        cols = [key[part], home[part], code[rows], dev[rows].astype(np.int32), t[rows], lat[rows], lon[rows]]
        batch = pa.RecordBatch.from_arrays([pa.array(c, f.type) for c, f in zip(cols, COPY_COLUMNS)],
                                           schema=COPY_COLUMNS)
        data = pack(batch)
        offsets_buf = pa.py_buffer(np.array([0, data.size], dtype=np.int32).tobytes())
        cell = pa.Array.from_buffers(pa.binary(), 1, [None, offsets_buf, data])
        yield pa.RecordBatch.from_arrays([pa.array([int(cp.task_keys[j])], pa.int64()),
                                          pa.array([source], pa.int64()), cell], schema=COPIES)


def unpack_copies(batches) -> dict[str, np.ndarray]:
    """The copies inside a search task's COPIES batches, as numpy columns, blocks in source
    order."""
    cells = [(src, cell) for b in batches
             for src, cell in zip(b.column("source").to_pylist(), b.column("payload"))]
    cells.sort(key=lambda sc: sc[0])
    tables = [pa.ipc.open_stream(cell.as_buffer()).read_all() for _, cell in cells]
    del cells
    if not tables:
        return {f.name: np.zeros(0, f.type.to_pandas_dtype()) for f in COPY_COLUMNS}
    both = pa.concat_tables(tables)
    del tables
    return {name: ordered_parquet.column_array([both.column(name)]) for name in COPY_COLUMNS.names}


@dataclass(frozen=True)
class RowGroupSource:
    """Parquet row groups read by the source tasks themselves, in runs (``specs``)."""

    files: list[str]
    groups: list[RowGroup]
    specs: list[list[int]]  # row-group indices per source task
    start_ms: int | None
    end_ms: int | None

    def copies(self, spark, shared):
        """COPIES rows of every hit. ``shared``: a broadcast of (device ids by code, CopyPlan)."""
        files, groups, specs = self.files, self.groups, self.specs
        start, end = self.start_ms, self.end_ms

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            keep_freed_memory()
            device_ids, cp = shared.value
            for number, reads in numbered_specs(batches, specs):
                tab, ok = ordered_parquet.read_hits(files, groups, reads, start, end)
                if tab is None:
                    continue
                if not pc.all(ok).as_py():
                    tab = tab.filter(ok)
                dev = ordered_parquet.device_indices(tab.column("device_id"), device_ids)
                if len(dev) and dev.min() < 0:
                    raise RuntimeError("a hit's device is missing from the device table")
                cols = [ordered_parquet.column_array([tab.column(c)])
                        for c in ("hit_code", "t_ms", "lat", "lon")]
                del tab
                yield from copy_blocks(cp, number, cols[0], dev, *cols[1:])
        return (task_rows(spark, len(specs))
                .mapInArrow(run, from_arrow_schema(COPIES)))


@dataclass(frozen=True)
class FrameSource:
    """A DataFrame of coded hits (hit_code, device_hash, t_ms, lat, lon)."""

    encoded: object

    def copies(self, spark, shared):
        """COPIES rows of every hit. ``shared``: a broadcast of (device hashes by code, CopyPlan)."""

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            keep_freed_memory()
            hashes, cp = shared.value
            # blocks numbered by partition, then in order within it
            source = TaskContext.get().partitionId() << 32
            pending, n = [], 0
            for b in batches:
                pending.append(b)
                n += b.num_rows
                if n >= FRAME_BLOCK_ROWS:
                    yield from _frame_block(pending, hashes, cp, source)
                    pending, n, source = [], 0, source + 1
            yield from _frame_block(pending, hashes, cp, source)
        return self.encoded.mapInArrow(run, from_arrow_schema(COPIES))


def _frame_block(batches, hashes, cp, source: int):
    batches = [b for b in batches if b.num_rows]
    if not batches:
        return
    tab = pa.Table.from_batches(batches)
    col = {c: ordered_parquet.column_array([tab.column(c)])
           for c in ("hit_code", "device_hash", "t_ms", "lat", "lon")}
    dev = np.minimum(np.searchsorted(hashes, col["device_hash"]), max(len(hashes) - 1, 0))
    if not np.array_equal(hashes[dev], col["device_hash"]):
        raise RuntimeError("a hit's device is missing from the device table")
    yield from copy_blocks(cp, source, col["hit_code"], dev, col["t_ms"], col["lat"], col["lon"])

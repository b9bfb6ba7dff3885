"""What every search task returns, and how it travels back to the driver.

A task's output is three Arrow tables: window pairs (one row per triggered anchor and member),
one statistics row, and the hit_ids of the members it could read. Each is written as one
LZ4-compressed Arrow IPC stream in a single binary cell (``PACKED``), so Spark moves bytes, not
rows; the driver unpacks them. Both search paths (search_tasks.py, ordered_parquet.py) build
their output here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

# One (triggered anchor, member) pair.
WINDOW_PAIRS = pa.schema([
    ("anchor", pa.int64()), ("member", pa.int64()), ("device_code", pa.int64()), ("t_ms", pa.int64()),
    ("lat", pa.float64()), ("lon", pa.float64()),
    ("window_devices", pa.int64())])
# Statistics of one task, with its Lambda(m) terms.
TASK_STATS = pa.schema([
    ("n_groups", pa.int64()), ("max_group_rows", pa.int64()), ("n_rows", pa.int64()),
    ("n_core", pa.int64()), ("n_triggered", pa.int64()), ("uncoded", pa.int64()),
    ("expected", pa.float64()), ("lambdas", pa.list_(pa.float64())),
    ("kernel_cpu_s", pa.float64()), ("background_cpu_s", pa.float64())])
# The hit_id of each distinct window member, where a task could read it (time-ordered Parquet).
MEMBER_NAMES = pa.schema([("hit_code", pa.int64()), ("hit_id", pa.string())])


@dataclass
class SearchRows:
    """What a search stage returns: window pairs of all tasks and one statistics row per task."""

    pairs: pa.Table  # WINDOW_PAIRS
    stats: pa.Table  # TASK_STATS
    names: pa.Table = field(default_factory=MEMBER_NAMES.empty_table)  # MEMBER_NAMES; a hit
    # may be named twice (overlapping halos)


# What the search stages hand to Spark: each WINDOW_PAIRS or TASK_STATS batch as one Arrow IPC
# stream in one binary cell. Spark only moves the bytes; one row per (anchor, member) would cost
# the JVM a conversion per cell, twice (task -> rows -> driver).
PACKED = pa.schema([("payload", pa.binary())])
PACKED_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


def stream_bytes(batch: pa.RecordBatch) -> pa.Buffer:
    """``batch`` as one Arrow IPC stream, its buffers LZ4-compressed: half the bytes for Spark
    to move (codes, times and counts compress well; lat and lon do not), and faster to write
    than the uncompressed stream, whose growing buffer is mostly fresh memory."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=PACKED_OPTIONS) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


def stream_batches(data) -> list[pa.RecordBatch]:
    """The record batches of one ``stream_bytes`` stream (bytes or an Arrow buffer)."""
    return pa.ipc.open_stream(data).read_all().to_batches()


def packed(batch: pa.RecordBatch) -> pa.RecordBatch:
    """One PACKED row holding ``batch`` as ``stream_bytes``."""
    data = stream_bytes(batch)
    offsets = pa.py_buffer(np.array([0, data.size], dtype=np.int32).tobytes())
    cell = pa.Array.from_buffers(pa.binary(), 1, [None, offsets, data])  # no copy of the bytes
    return pa.RecordBatch.from_arrays([cell], schema=PACKED)


def search_rows(batches) -> SearchRows:
    """The window pairs, task statistics and member names among search tasks' batches, each
    kind told by its schema."""
    kinds = {"pairs": WINDOW_PAIRS, "stats": TASK_STATS, "names": MEMBER_NAMES}
    found: dict[str, list] = {k: [] for k in kinds}
    for batch in batches:
        kind = next(k for k, schema in kinds.items() if batch.schema.equals(schema))
        found[kind].append(batch)
    return SearchRows(**{k: pa.Table.from_batches(found[k], schema=kinds[k]) for k in kinds})


def unpacked(table: pa.Table) -> SearchRows:
    """The window pairs, task statistics and member names inside collected PACKED rows."""
    return search_rows(batch for chunk in table.column("payload").chunks
                       for i in range(len(chunk)) for batch in stream_batches(chunk[i].as_buffer()))


def collect_windows(stage) -> SearchRows:
    """Run a search stage (a DataFrame of PACKED rows) and return what its tasks found."""
    return unpacked(stage.toArrow())


def window_batch(tw, code, dev, t, lat, lon) -> pa.RecordBatch:
    """WINDOW_PAIRS: one row per (triggered anchor, member) of a kernel result."""
    per = np.diff(tw.member_offsets)
    a, m = np.repeat(tw.anchors, per), tw.members
    out = {"anchor": code[a], "member": code[m], "device_code": dev[m], "t_ms": t[m],
           "lat": lat[m], "lon": lon[m], "window_devices": np.repeat(tw.window_devices, per)}
    return pa.RecordBatch.from_arrays([pa.array(out[f.name], f.type) for f in WINDOW_PAIRS],
                                      schema=WINDOW_PAIRS)


def no_search_rows() -> SearchRows:
    """What a search over no hits returns: no windows, one task's statistics, all zero."""
    return SearchRows(WINDOW_PAIRS.empty_table(), pa.Table.from_batches([stats_batch(
        dict(n_groups=0, max_group_rows=0, n_rows=0, n_core=0, n_triggered=0, uncoded=0,
             expected=0.0, kernel_cpu_s=0.0, background_cpu_s=0.0), None)]))


def stats_batch(stats: dict, lambdas) -> pa.RecordBatch:
    """TASK_STATS: one task's statistics and its Lambda(m) terms."""
    return pa.RecordBatch.from_pylist([{**stats, "lambdas": lambdas}], schema=TASK_STATS)

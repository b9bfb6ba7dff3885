"""Shuffle-free path for Parquet input whose row groups say, in their footers, when their hits
were taken: no shuffle, hits never enter the JVM.

Why: exports, the archive, ES reads and the simulator write hits in time order, so each row
group covers a short time range (its footer statistics say which). Each task then searches one
interval of time and reads only the row groups that meet it (``row_group_plan.py``: where the
cuts go, and what the plan costs in rows read; the job takes this path only while that cost
stays small). Every window of a task's core anchors lies in its rows, and each hit is a core
anchor in exactly one task: the exactness argument of the slab x tile partitions
(partitioning.py) with one slab per task.

Each Spark task (driver_tasks.py: Python tasks on the SparkContext, results as Arrow streams to
the driver) reads its row groups itself with pyarrow, so the hits cross no JVM -> Python
conversion at all, a conversion that costs about as much as the search itself
(docs/benchmarks.md), and the path needs no Spark SQL.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crayfis.archive.device_sidecar import read_sidecar
from crayfis.coincidence.device_partials import chunk_indices, hit_partials, search_columns, valid_rows
from crayfis.coincidence.kernel import triggered_windows
from crayfis.coincidence.malloc_tuning import keep_freed_memory
from crayfis.coincidence.significance import estimate_background
from spark_jobs.parquet_files import ROW_BITS, filesystem_path, open_parquet, read_parquet_hit_ids
from spark_jobs.row_group_plan import OrderedTask, RowGroup
from spark_jobs.task_rows import MEMBER_NAMES, stats_batch, window_batch


def row_groups(files: list[str]) -> list[RowGroup]:
    """Every row group, with its t_ms range from the footer (None where the footer has no
    statistics or the group holds rows without a time)."""
    out = []
    for f, uri in enumerate(files):
        meta = open_parquet(uri).metadata
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        col = names.index("t_ms") if "t_ms" in names else None
        first = 0
        for g in range(meta.num_row_groups):
            rg = meta.row_group(g)
            st = rg.column(col).statistics if col is not None else None
            timed = st is not None and st.has_min_max and not st.null_count
            if rg.num_rows:
                out.append(RowGroup(f, g, first, rg.num_rows, int(st.min) if timed else None,
                                    int(st.max) if timed else None))
            first += rg.num_rows
    return out


def _read(files, groups, indices, columns, with_codes=True):
    """Per row group, in the order given: (its RowGroup, its columns plus, ``with_codes``, each
    row's hit_code)."""
    opened = {}
    for i in indices:
        g = groups[i]
        if g.file_no not in opened:
            opened[g.file_no] = open_parquet(files[g.file_no], dictionary_ids=True)
        t = opened[g.file_no].read_row_group(g.index, columns=columns)
        if with_codes:
            code = np.arange(t.num_rows, dtype=np.int64)
            code += (g.file_no << ROW_BITS) + g.first_row
            t = t.append_column("hit_code", pa.array(code))
        yield g, t


def _in_range(t: pa.ChunkedArray, start_ms, end_ms):
    mask = pc.is_valid(t) if (start_ms is not None or end_ms is not None) else None
    if start_ms is not None:
        mask = pc.and_(mask, pc.greater_equal(t, start_ms))
    if end_ms is not None:
        mask = pc.and_(mask, pc.less(t, end_ms))
    return mask


def read_hits(files, groups, indices, start_ms, end_ms, with_codes=True):
    """(table of the rows in [start_ms, end_ms), valid mask) of row groups, each filtered as it
    is read (a task keeps only its interval of groups that span more); types cast as the Spark
    path does, except device_id, which stays dictionary-encoded (see ``device_indices``)."""
    parts = []
    for g, tab in _read(files, groups, indices, ["device_id", "t_ms", "lat", "lon"], with_codes):
        codes = {"hit_code": tab.column("hit_code")} if with_codes else {}
        tab = pa.table({**codes, **search_columns(tab)})
        inside = g.t_min is not None and ((start_ms is None or start_ms <= g.t_min)
                                          and (end_ms is None or g.t_max < end_ms))
        if not inside:
            tab = tab.filter(_in_range(tab.column("t_ms"), start_ms, end_ms))
        parts.append(tab)
    if not parts:
        return None, None
    tab = pa.concat_tables(parts, promote_options="permissive")
    return tab, valid_rows(tab)


def column_array(columns: list[pa.ChunkedArray]) -> np.ndarray:
    """The chunks of several null-free numeric columns as one numpy array, copied once (where
    ``to_numpy`` then ``np.concatenate`` would copy twice and allocate twice)."""
    out = np.empty(sum(len(c) for c in columns), dtype=columns[0].type.to_pandas_dtype())
    at = 0
    for col in columns:
        for chunk in col.chunks:
            out[at:at + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
            at += len(chunk)
    return out


def device_indices(column: pa.ChunkedArray, value_set: pa.Array) -> np.ndarray:
    """Place of each row's device_id in ``value_set`` (-1: absent or null), by looking up each
    chunk's dictionary once: strings are compared per distinct device, not per hit."""
    out = []
    for chunk in column.chunks:
        where = pc.index_in(chunk.dictionary, value_set=value_set)
        where = pc.fill_null(where, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        idx = chunk_indices(chunk)
        if not len(where):
            out.append(np.full(len(idx), -1, np.int64))
            continue
        code = where[idx]  # a null's -1 takes the last entry: put right below
        if chunk.null_count:
            code[idx < 0] = -1
        out.append(code)
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def stored_partials(files: list[str], groups: list[RowGroup], start_ms, end_ms) -> dict[int, pa.Table]:
    """The device partials the archive stores (crayfis/archive/device_sidecar.py) for files
    the search reads whole, by file number: a file all of whose rows lie in [start_ms, end_ms).
    Files without statistics to trust are left out; their rows are counted by the statistics
    stage."""
    spans: dict[int, tuple[int, int]] = {}
    for g in groups:
        lo, hi = spans.get(g.file_no, (g.t_min, g.t_max))
        spans[g.file_no] = (min(lo, g.t_min), max(hi, g.t_max))
    out = {}
    for f, (lo, hi) in spans.items():
        if (start_ms is not None and lo < start_ms) or (end_ms is not None and hi >= end_ms):
            continue
        table = read_sidecar(*filesystem_path(files[f]))
        if table is not None:
            out[f] = table
    return out


def statistics_specs(groups: list[RowGroup], tasks: list[OrderedTask], n_tasks: int,
                     known_files=frozenset()) -> list[list[int]]:
    """Row groups for the device-statistics stage: every group some task reads, each once, in
    about ``n_tasks`` runs of similar row counts (the statistics need no halo); none of the files
    in ``known_files`` (whose partials are known already, ``stored_partials``)."""
    used = sorted({i for t in tasks for i in t.reads if groups[i].file_no not in known_files},
                  key=lambda i: (groups[i].t_min, groups[i].t_max, groups[i].file_no, groups[i].index))
    if not used:
        return []
    cum = np.cumsum([groups[i].n_rows for i in used])
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, n_tasks) / n_tasks, side="left") + 1
    bounds = np.unique(np.r_[0, cuts[(cuts > 0) & (cuts < len(used))], len(used)])
    return [used[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]


def device_partials(files, groups, specs: list[list[int]], start_ms, end_ms):
    """Task body (driver_tasks.py): per-device counts, time range and summed unit vectors of
    the rows in [start_ms, end_ms) of task i's row groups ``specs[i]`` (``statistics_specs``).

    Per task, over the row groups' unified device dictionary (integer indices, no string
    hashing), in one compiled pass (device_stats.py); invalid rows count in n_rows only, rows
    without a device in one null row. Unit vectors are ``distance.unit_vector``'s (the general
    path restates them in Spark SQL, ``search_tasks.device_table``; device positions only place
    the background model's neighbours, not the search).
    """
    def body(number: int) -> Iterator[pa.RecordBatch]:
        keep_freed_memory()
        tab, ok = read_hits(files, groups, specs[number], start_ms, end_ms, with_codes=False)
        if tab is not None and tab.num_rows:
            yield hit_partials(tab, ok.to_numpy(zero_copy_only=False))
    return body


def search_tasks(files, groups, tasks: list[OrderedTask], shared, params, max_multiplicity: int):
    """Task body (driver_tasks.py): the kernel and background model on task i's rows (its core
    anchors and the tau after them, ``row_group_plan.OrderedTask``), and the hit_id of every
    window member (read here, from row groups the task holds): task_rows' WINDOW_PAIRS,
    MEMBER_NAMES and TASK_STATS batches.

    ``shared``: a Spark broadcast of (device ids in device-code order, the background's
    SegmentModel or None). Tens of MB for a large network: as a broadcast each Python worker
    loads it once, where a closure would be shipped and unpickled again for every task."""

    def body(number: int) -> Iterator[pa.RecordBatch]:
        keep_freed_memory()
        device_ids, model = shared.value
        yield from _search_task(files, groups, tasks[number], device_ids, model, params,
                                max_multiplicity)
    return body


def _search_task(files, groups, task: OrderedTask, device_ids, model, params, max_multiplicity):
    """One task's batches: its windows, its members' names, its statistics."""
    stats = dict(n_groups=1, max_group_rows=0, n_rows=0, n_core=0, n_triggered=0,
                 uncoded=0, expected=0.0, kernel_cpu_s=0.0, background_cpu_s=0.0)
    # row groups in (t_min, t_max) order: time-ordered files give rows in time order, and
    # the kernel then needs no sort
    tab, ok = read_hits(files, groups, task.reads, task.core_lo, task.keep_hi + 1)
    if tab is not None and not pc.all(ok).as_py():
        tab = tab.filter(ok)
    if tab is None or not tab.num_rows:
        yield stats_batch(stats, None)
        return
    code, t, lat, lon = (column_array([tab.column(c)]) for c in ("hit_code", "t_ms", "lat", "lon"))
    dev = device_indices(tab.column("device_id"), device_ids)
    if dev.min() < 0:
        raise RuntimeError("a hit's device is missing from the device table")
    home = t <= task.core_hi
    n_core = int(home.sum())
    # rows in time order (the usual case) have their core anchors first: views, not copies
    core = slice(0, n_core) if home[:n_core].all() else home
    stats.update(n_rows=len(t), max_group_rows=len(t), n_core=n_core)
    lambdas = None
    if model is not None and n_core:
        c0 = time.process_time()
        est = estimate_background(t[core], lat[core], lon[core], dev[core],
                                  params.window_ms, params.radius_m, params.min_devices,
                                  model=model, max_multiplicity=max_multiplicity)
        stats["expected"] = est.expected_triggers
        lambdas = est.expected_windows(np.arange(1, max_multiplicity + 1)).tolist()
        stats["background_cpu_s"] = time.process_time() - c0
    c0 = time.process_time()
    tw = triggered_windows(t, lat, lon, dev, params.window_ms, params.radius_m,
                           params.min_devices, anchor_mask=home)
    stats["kernel_cpu_s"] = time.process_time() - c0
    stats["n_triggered"] = len(tw.anchors)
    if len(tw.anchors):
        yield window_batch(tw, code, dev, t, lat, lon)
        yield member_names(files, code[tw.members])
    yield stats_batch(stats, lambdas)


def member_names(files, member_codes: np.ndarray) -> pa.RecordBatch:
    """search.MEMBER_NAMES: each distinct member's hit_id, from its row group."""

    names = read_parquet_hit_ids(files, member_codes, columns=("hit_id",))
    return pa.RecordBatch.from_arrays([names.column("hit_code").combine_chunks(),
                                       names.column("hit_id").combine_chunks()], schema=MEMBER_NAMES)

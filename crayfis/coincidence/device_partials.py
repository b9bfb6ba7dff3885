"""Per-device statistics of hit rows as Arrow tables that add up: partial rows from any batch of
hits, their combination, and the job's device table from them.

A partial row holds, for one device id, the rows carrying it (``n_rows``), its valid hits
(``n_hits``: a time, a device and a position inside the globe, ``valid_rows``), their first and
last time and their summed unit vectors (device_stats.py); one row with a null device_id counts
the rows without one. Partials of disjoint batches combine into the partials of their union
(``combine_partials``: sums, minima, maxima), whatever the batches, so the Spark job can take
them from its tasks, from the archive's stored statistics (crayfis/archive/device_sidecar.py),
or both, and get the same device table. Sums of floating-point unit vectors depend on the order
they are added in, so device centroids agree to rounding, not bit for bit, between two
different cuts of the same hits.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .device_stats import device_sums
from .distance import centroid_lat_lon

__all__ = ["DEVICE_DICT", "DEVICE_PARTIALS", "chunk_indices", "combine_partials", "device_dict", "device_table",
           "hit_partials", "search_columns", "table_partials", "valid_rows"]

DEVICE_PARTIALS = pa.schema([("device_id", pa.string()), ("n_hits", pa.int64()),
                             ("n_rows", pa.int64()), ("t_min_ms", pa.int64()),
                             ("t_max_ms", pa.int64()), ("x", pa.float64()), ("y", pa.float64()),
                             ("z", pa.float64())])
DEVICE_DICT = pa.dictionary(pa.int32(), pa.string())


def device_dict(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """device_id as dictionary<int32, string>, whatever type the file stores it as."""
    if col.type == DEVICE_DICT:
        return col
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    return pc.dictionary_encode(pc.cast(col, pa.string()))


def search_columns(tab: pa.Table) -> dict[str, pa.ChunkedArray]:
    """device_id, t_ms, lat and lon in the types the search takes (device_id dictionary-encoded:
    per-device work then runs over small integers, not strings)."""
    return {"device_id": device_dict(tab.column("device_id")),
            "t_ms": pc.cast(tab.column("t_ms"), pa.int64()),
            "lat": pc.cast(tab.column("lat"), pa.float64()),
            "lon": pc.cast(tab.column("lon"), pa.float64())}


def valid_rows(tab: pa.Table) -> pa.ChunkedArray:
    """hits_input.valid_hit in Arrow: a time, a device and a position inside the globe."""
    lat, lon = tab.column("lat"), tab.column("lon")
    ok = pc.and_(pc.is_valid(tab.column("t_ms")), pc.is_valid(tab.column("device_id")))
    for c, lim in ((lat, 90.0), (lon, 180.0)):
        ok = pc.and_(ok, pc.and_(pc.greater_equal(c, -lim), pc.less_equal(c, lim)))
    return pc.fill_null(ok, False)


def chunk_indices(chunk: pa.DictionaryArray) -> np.ndarray:
    """A dictionary chunk's indices as numpy, -1 for nulls (no copy where there are none)."""
    indices = chunk.indices
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    return indices.to_numpy(zero_copy_only=False)


def hit_partials(tab: pa.Table, ok: np.ndarray | None = None) -> pa.RecordBatch:
    """Partial rows of the hits in ``tab`` (device_id, t_ms, lat, lon in the types of
    ``search_columns``): one per device id seen, plus one null-id row counting rows without one.
    ``ok``: ``valid_rows(tab)`` as numpy, when the caller has it already."""
    if ok is None:
        ok = valid_rows(tab).to_numpy(zero_copy_only=False)
    dev = tab.column("device_id").unify_dictionaries()
    if dev.num_chunks:
        names = dev.chunk(0).dictionary.cast(pa.string())
        idx = np.concatenate([chunk_indices(c) for c in dev.chunks])
    else:
        names, idx = pa.array([], pa.string()), np.zeros(0, np.int32)
    # nulls (rows ``ok`` leaves out) as 0: numpy would make an int64 column with nulls float
    col = {c: pc.fill_null(tab.column(c), 0).to_numpy(zero_copy_only=False) for c in ("t_ms", "lat", "lon")}
    sums = device_sums(idx, ok, col["t_ms"], col["lat"], col["lon"], len(names))
    keep = np.flatnonzero(sums.n_rows > 0)
    none = sums.n_hits[keep] == 0  # only invalid rows: no time or position
    cols = [names.take(pa.array(keep)), pa.array(sums.n_hits[keep]), pa.array(sums.n_rows[keep]),
            pa.array(sums.t_min[keep], mask=none), pa.array(sums.t_max[keep], mask=none),
            *[pa.array(v[keep], mask=none) for v in (sums.x, sums.y, sums.z)]]
    batch = pa.RecordBatch.from_arrays(cols, schema=DEVICE_PARTIALS)
    n_null = int((idx < 0).sum())
    if not n_null:
        return batch
    null_row = pa.RecordBatch.from_pylist([{"device_id": None, "n_hits": 0, "n_rows": n_null}],
                                          schema=DEVICE_PARTIALS)
    return pa.Table.from_batches([batch, null_row]).combine_chunks().to_batches()[0]


def table_partials(tab: pa.Table) -> pa.RecordBatch:
    """``hit_partials`` of a table holding device_id, t_ms, lat and lon in any types the
    archive or a job's input stores them as (``search_columns`` casts them)."""
    return hit_partials(pa.table(search_columns(tab)))


def _aggregate(partials: pa.Table) -> pa.Table:
    return partials.group_by("device_id").aggregate(
        [("n_hits", "sum"), ("n_rows", "sum"), ("t_min_ms", "min"), ("t_max_ms", "max"),
         ("x", "sum"), ("y", "sum"), ("z", "sum")])


def combine_partials(partials: pa.Table) -> pa.Table:
    """Partial rows of disjoint batches -> the partial rows of all of them, one per device id
    (and one for rows without), in device_id order, nulls last."""
    agg = _aggregate(partials).sort_by([("device_id", "ascending")])
    return pa.table([agg.column(f"{name}_{how}") if name != "device_id" else agg.column(name)
                     for name, how in zip(DEVICE_PARTIALS.names,
                                          ("", "sum", "sum", "min", "max", "sum", "sum", "sum"))],
                    schema=DEVICE_PARTIALS)


def device_table(partials: pa.Table) -> tuple[pa.Table, int]:
    """Partial rows (of disjoint batches) -> (device table in device_id order: devices with
    valid hits, their code, hit count, time range and centroid; rows counted)."""
    rows_in_range = int(pc.sum(partials.column("n_rows")).as_py() or 0)
    agg = _aggregate(partials)
    agg = agg.filter(pc.and_(pc.is_valid(agg.column("device_id")),
                             pc.greater(agg.column("n_hits_sum"), 0))).sort_by("device_id")
    d_lat, d_lon = centroid_lat_lon(*(agg.column(f"{k}_sum").to_numpy() for k in "xyz"))
    return pa.table({
        "device_id": agg.column("device_id"),
        "device_code": np.arange(agg.num_rows, dtype=np.int64),
        "n_hits": agg.column("n_hits_sum"),
        "t_min_ms": agg.column("t_min_ms_min"),
        "t_max_ms": agg.column("t_max_ms_max"),
        "lat": d_lat, "lon": d_lon,
    }), rows_in_range

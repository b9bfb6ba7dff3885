"""Reading the archive: the sealed days' hits in a time range, with pyarrow.

The coincidence job reads the archive root itself (`--input DIR`: Spark discovers the `day=`
directories and skips `_incoming` and `_tmp`). This module is the same view for Python callers:
only sealed days, only the row groups whose time range meets the request.
"""
from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.dataset as ds

from crayfis.archive.schema import SCHEMA
from crayfis.archive.store import HitArchive, day_name, sort_hits
from crayfis.definition import DAY_MS

__all__ = ["read_hits"]


def read_hits(archive: HitArchive, start_ms: int | None = None, end_ms: int | None = None,
              columns: Sequence[str] | None = None) -> pa.Table:
    """Hits with start_ms <= t_ms < end_ms from the sealed days, in (t_ms, hit_id) order."""
    days = archive.sealed_days()
    if start_ms is not None:
        days = [d for d in days if d >= day_name(start_ms // DAY_MS)]
    if end_ms is not None:
        days = [d for d in days if d <= day_name((end_ms - 1) // DAY_MS)]
    files = [f for d in days for f in archive.day_files(d)]
    wanted = list(columns) if columns is not None else SCHEMA.names
    if not files:
        return SCHEMA.empty_table().select(wanted)
    cond = None
    if start_ms is not None:
        cond = ds.field("t_ms") >= start_ms
    if end_ms is not None:
        upper = ds.field("t_ms") < end_ms
        cond = upper if cond is None else cond & upper
    need = list(dict.fromkeys([*wanted, "t_ms", "hit_id"]))
    table = ds.dataset(files, schema=SCHEMA, format="parquet", filesystem=archive.fs).to_table(
        columns=need, filter=cond)
    return sort_hits(table).select(wanted)

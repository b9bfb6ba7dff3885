"""Hits as a streamed Parquet file (format=parquet): one row group per Elasticsearch batch.

Parquet's footer comes last, so the file can be written while it is sent: pyarrow writes each
batch as a row group into a buffer that the response drains. Column types are fixed here (not
inferred), so every file of the API has the same schema, empty ones included.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

PUBLIC_COLUMNS = (("hit_id", "string"), ("t_ms", "int64"), ("cell", "string"),
                  ("cell_lat", "float64"), ("cell_lon", "float64"), ("n_pix", "int32"), ("max_val", "int64"))
EXACT_COLUMNS = PUBLIC_COLUMNS + (("device", "string"), ("lat", "float64"), ("lon", "float64"), ("accuracy", "float64"),
                                  ("altitude", "float64"), ("t_nano", "int64"), ("model", "string"))
MEDIA_TYPE = "application/vnd.apache.parquet"


class _Drain:
    """A write-only file object whose bytes the generator takes out after every row group."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def parquet_stream(batches: Iterable[list[dict]], exact: bool) -> Iterator[bytes]:
    """Bytes of one Parquet file holding every row of `batches` (dicts as the hit views)."""
    # Heavy, and only this response needs it: a web worker loads pyarrow on its first Parquet answer.
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = EXACT_COLUMNS if exact else PUBLIC_COLUMNS
    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in columns])
    sink = _Drain()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    try:
        for rows in batches:
            table = pa.Table.from_pydict({name: [r.get(name) for r in rows] for name, _ in columns}, schema=schema)
            writer.write_table(table)
            chunk = sink.take()
            if chunk:
                yield chunk
    finally:
        writer.close()
    yield sink.take()

"""Read Elasticsearch hit documents into Spark as Arrow batches, without ES-Hadoop.

The driver opens one point-in-time (a consistent snapshot across all matched indices); each
Spark task then pages through one slice of it with search_after, sorted by _shard_doc (the
cheapest PIT order), and turns each page into an Arrow record batch. One Spark partition per
slice, so the read runs as parallel as there are slices.

Hit documents (crayfis/es/templates.py) map to the job's input schema: device -> device_id,
location {lat, lon} -> lat, lon; t_ms stays Unix ms. Other indexed fields can be asked for by
name and come through with Arrow types taken from the index mapping (geo_points as two doubles).
A partial page (a failed shard, a time limit set on the cluster) fails the task instead of
leaving hits out (crayfis/es/partial.py).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql.pandas.types import from_arrow_schema

from crayfis.es.client import make_client
from crayfis.es.partial import require_complete

INPUT_FIELDS = (("hit_id", pa.string()), ("device_id", pa.string()), ("t_ms", pa.int64()),
                ("lat", pa.float64()), ("lon", pa.float64()))
_SOURCE_OF = {"hit_id": "hit_id", "device_id": "device", "t_ms": "t_ms", "lat": "location",
              "lon": "location"}
_ARROW_OF_ES = {"keyword": pa.string(), "text": pa.string(), "date": pa.int64(), "long": pa.int64(),
                "integer": pa.int32(), "short": pa.int16(), "byte": pa.int8(),
                "float": pa.float32(), "double": pa.float64(), "half_float": pa.float32(),
                "boolean": pa.bool_()}
DEFAULT_PAGE = 5000
SLICE_ROW_BITS = 40  # a slice holds < 2**40 hits; up to 2**23 slices


@dataclass(frozen=True)
class EsHitsQuery:
    """What to read: an index pattern, an optional [start_ms, end_ms) range, extra fields."""

    url: str
    pattern: str
    start_ms: int | None = None
    end_ms: int | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())  # (source field, ES type)
    page_size: int = DEFAULT_PAGE
    only_hits: bool = False  # leave out zero-bias samples (is_hit: false), which are not hits

    def query(self) -> dict[str, Any]:
        rng: dict[str, Any] = {"format": "epoch_millis"}
        if self.start_ms is not None:
            rng["gte"] = self.start_ms
        if self.end_ms is not None:
            rng["lt"] = self.end_ms
        query: dict[str, Any] = {"bool": {"filter": [{"range": {"t_ms": rng}}] if len(rng) > 1 else []}}
        if self.only_hits:
            query["bool"]["must_not"] = [{"term": {"is_hit": False}}]
        return query

    def schema(self) -> pa.Schema:
        fields = [pa.field(n, t) for n, t in INPUT_FIELDS]
        for name, es_type in self.extra:
            if es_type == "geo_point":
                fields += [pa.field(f"{name}_lat", pa.float64()), pa.field(f"{name}_lon", pa.float64())]
            else:
                fields.append(pa.field(name, _ARROW_OF_ES.get(es_type, pa.string())))
        return pa.schema(fields)

    def source_fields(self) -> list[str]:
        return sorted(set(_SOURCE_OF.values()) | {name for name, _ in self.extra})


def mapped_fields(es, pattern: str) -> dict[str, str]:
    """Top-level field -> ES type over every index the pattern matches (first type wins)."""
    out: dict[str, str] = {}
    for body in es.indices.get_mapping(index=pattern, allow_no_indices=True).body.values():
        for name, spec in body.get("mappings", {}).get("properties", {}).items():
            out.setdefault(name, spec.get("type", "object"))
    return out


def _lat_lon(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """geo_point values from _source as given: {lat, lon}, [lon, lat] or 'lat,lon'; None -> NaN."""
    lat = np.full(len(values), np.nan)
    lon = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if isinstance(v, dict):
            lat[i], lon[i] = v.get("lat", np.nan), v.get("lon", np.nan)
        elif isinstance(v, (list, tuple)) and len(v) >= 2:
            lon[i], lat[i] = v[0], v[1]
        elif isinstance(v, str) and "," in v:
            a, b = v.split(",", 1)
            lat[i], lon[i] = float(a), float(b)
    return lat, lon


def _as_ms(v: Any) -> int | None:
    if v is None or isinstance(v, int):
        return v
    if isinstance(v, float) or (isinstance(v, str) and v.lstrip("-").isdigit()):
        return int(v)
    return int(dt.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() * 1000)


def page_to_batch(sources: list[dict[str, Any]], q: EsHitsQuery) -> pa.RecordBatch:
    """One page of _source dicts -> an Arrow batch in ``q.schema()``."""
    schema = q.schema()
    lat, lon = _lat_lon([s.get("location") for s in sources])
    cols: dict[str, Any] = {
        "hit_id": [s.get("hit_id") for s in sources],
        "device_id": [s.get("device") for s in sources],
        "t_ms": [_as_ms(s.get("t_ms")) for s in sources],
        "lat": lat, "lon": lon,
    }
    for name, es_type in q.extra:
        values = [s.get(name) for s in sources]
        if es_type == "geo_point":
            cols[f"{name}_lat"], cols[f"{name}_lon"] = _lat_lon(values)
        elif es_type == "date":
            cols[name] = [_as_ms(v) for v in values]
        else:
            cols[name] = [None if isinstance(v, (dict, list)) else v for v in values]
    return pa.RecordBatch.from_arrays([pa.array(cols[f.name], type=f.type) for f in schema],
                                      schema=schema)


def read_slice(q: EsHitsQuery, pit_id: str, slice_id: int, n_slices: int) -> Iterator[pa.RecordBatch]:
    """Every hit of one PIT slice, one Arrow batch per page (search_after on _shard_doc)."""

    es = make_client(q.url, request_timeout=120)
    body: dict[str, Any] = {
        "size": q.page_size, "query": q.query(), "_source": q.source_fields(),
        "pit": {"id": pit_id, "keep_alive": "5m"}, "sort": ["_shard_doc"],
        "track_total_hits": False,
    }
    if n_slices > 1:
        body["slice"] = {"id": slice_id, "max": n_slices}
    try:
        while True:
            hits = require_complete(es.search(**body).body, "hit slice")["hits"]["hits"]
            if not hits:
                return
            yield page_to_batch([h["_source"] for h in hits], q)
            if len(hits) < q.page_size:
                return
            body["search_after"] = hits[-1]["sort"]
    finally:
        es.close()


@contextmanager
def point_in_time(url: str, pattern: str, keep_alive: str = "10m"):
    """Open a PIT on the pattern for the duration of a job; None when nothing matches."""

    es = make_client(url)
    try:
        if not es.indices.exists(index=pattern, allow_no_indices=False, ignore_unavailable=True):
            yield None
            return
        pit = es.open_point_in_time(index=pattern, keep_alive=keep_alive,
                                    ignore_unavailable=True).body["id"]
        try:
            yield pit
        finally:
            es.close_point_in_time(id=pit)
    finally:
        es.close()


def hits_dataframe(spark, q: EsHitsQuery, pit_id: str | None, n_slices: int,
                   code_column: str | None = None):
    """A DataFrame of the hits in ``q``: one partition per PIT slice, read by mapInArrow.

    With ``code_column``, a leading int64 column (slice << SLICE_ROW_BITS) | position in the
    slice: the same on every read of the same PIT, since _shard_doc order is fixed.
    """
    schema = q.schema()
    if code_column:
        schema = pa.schema([pa.field(code_column, pa.int64())] + list(schema))
    if pit_id is None:
        return spark.createDataFrame([], _spark_schema(schema))
    n_slices = max(1, int(n_slices))

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for slice_id in batch.column(0).to_pylist():
                pos = 0
                for page in read_slice(q, pit_id, int(slice_id), n_slices):
                    if code_column:
                        code = (int(slice_id) << SLICE_ROW_BITS) + pos + np.arange(
                            page.num_rows, dtype=np.int64)
                        pos += page.num_rows
                        page = pa.RecordBatch.from_arrays([pa.array(code)] + page.columns,
                                                          schema=schema)
                    yield page

    ids = spark.range(0, n_slices, 1, numPartitions=n_slices)
    return ids.mapInArrow(read, _spark_schema(schema))


def _spark_schema(schema: pa.Schema):

    return from_arrow_schema(schema)

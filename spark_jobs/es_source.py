"""Read Elasticsearch hit documents into Spark as Arrow batches, without ES-Hadoop.

The driver opens one point-in-time per index the pattern matches (a consistent snapshot of each;
a hit lives in exactly one index, the month of its event time) and cuts every shard into doc-id
slices small enough for one page each: Elasticsearch splits a point-in-time slice first by shard
(slice id modulo the shards) and then into contiguous ranges of Lucene doc ids, so a slice is
answered by one shard walking one doc-id range in order, the cheapest read it has. A slice
that still holds more than a page (documents the shard statistics did not count) is finished
with search_after on ``_shard_doc``. Indices with no matching document are not read.

Spark tasks take the slices round-robin (a time range that selects a few neighbouring slices is
still shared by every task), keep a few requests in flight, and decode each raw response with
the compiled scanner of es_pages.py straight into an Arrow batch: no Python object per hit.
Responses come as Elasticsearch writes them, no ``filter_path`` and no ``_source`` filtering:
filtering costs the node more than the bytes it saves (it re-parses, or rebuilds, every
``_source``). An index whose ``_source`` is synthetic (hit schema 2) rebuilds all of it from doc
values for every document; there, when every field asked for is a plain doc value
(``doc_value_fields``), the read asks for those doc values and no ``_source``, which the node
answers faster. Elsewhere the whole ``_source`` comes, and fields a mapping keeps out of it
are asked for as doc values (``docvalue_fields``) and read from there.

Hit documents (crayfis/es/templates.py) map to the job's input schema: ``_id`` (the hit id) ->
hit_id, device -> device_id, location {lat, lon} -> lat, lon; t_ms stays Unix ms. Other indexed
fields can be asked for by name and come through with Arrow types taken from the index mapping
(geo_points as two doubles). Every request forbids partial results
(``allow_partial_search_results=false``): a failed shard fails the task instead of leaving hits
out.
"""
from __future__ import annotations

import fnmatch
import math
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
from elastic_transport import JsonSerializer

from spark_jobs.es_pages import ID, Field, PageLayout, decode_page

INPUT_FIELDS = (Field.named("_id", ID, "hit_id"), Field.named("device", "keyword", "device_id"),
                Field.named("t_ms", "date"), Field("location", "geo_point", ("lat", "lon")))
DEFAULT_PAGE = 10_000  # hits per request: Elasticsearch's default index.max_result_window
SLICE_ROW_BITS = 40  # a slice holds < 2**40 hits; up to 2**23 slices
IN_FLIGHT = 2  # requests a read task keeps going while it decodes
KEEP_ALIVE = "10m"  # each request renews the point-in-time for this long
SOURCE_MODE = "index.mapping.source.mode"  # "synthetic": _source rebuilt from doc values
_PLAIN_DOC_VALUES = {"keyword", "long", "integer", "short", "byte", "double", "float", "boolean", "date"}
_NO_DOC_VALUES = {"text", "object", "nested", "binary"}


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

    def fields(self) -> list[Field]:
        return list(INPUT_FIELDS) + [Field.named(name, es_type) for name, es_type in self.extra]

    def layout(self) -> PageLayout:
        return PageLayout(self.fields())

    def schema(self) -> pa.Schema:
        return self.layout().schema


def mapped_fields(es, pattern: str) -> dict[str, str]:
    """Top-level field -> ES type over every index the pattern matches (first type wins)."""
    out: dict[str, str] = {}
    for body in es.indices.get_mapping(index=pattern, allow_no_indices=True).body.values():
        for name, spec in body.get("mappings", {}).get("properties", {}).items():
            out.setdefault(name, spec.get("type", "object"))
    return out


def outside_source(mapping: dict[str, Any], names: list[str]) -> list[str]:
    """The fields among ``names`` that this index mapping keeps out of ``_source`` (all of
    them when ``_source`` is disabled) and that have doc values to read instead."""
    source = mapping.get("_source", {})
    properties = mapping.get("properties", {})
    out = []
    for name in names:
        if source.get("enabled", True) is False:
            missing = True
        else:
            includes, excludes = source.get("includes") or [], source.get("excludes") or []
            missing = ((bool(includes) and not any(fnmatch.fnmatchcase(name, p) for p in includes))
                       or any(fnmatch.fnmatchcase(name, p) for p in excludes))
        spec = properties.get(name, {})
        if missing and spec.get("doc_values", True) and spec.get("type", "object") not in _NO_DOC_VALUES:
            out.append(name)
    return out


def _mapped_types(mapping: dict[str, Any]) -> dict[str, str]:
    """Field path (``a`` or ``a.b``) -> ES type, over the mapping's properties two levels deep."""
    out = {}
    for name, spec in mapping.get("properties", {}).items():
        out[name] = spec.get("type", "object")
        for sub, sub_spec in spec.get("properties", {}).items():
            out[f"{name}.{sub}"] = sub_spec.get("type", "object")
    return out


def doc_value_fields(mapping: dict[str, Any], fields: list[Field]) -> list[str] | None:
    """The doc-value fields that give every field asked for (the hit id comes with every hit),
    or None when one of them is not a plain doc-value field here: keyword, number, boolean,
    date, or a position mapped as an object of two doubles (``lat``, ``lon``).

    Why: an index with synthetic ``_source`` rebuilds every document's ``_source`` from doc
    values, every field of it, to answer a read; asking for the few doc values a reader needs
    instead costs the node a third less per hit (docs/benchmarks.md, "Reading hits back")."""
    types = _mapped_types(mapping)
    out = []
    for f in fields:
        if f.es_type == ID:
            continue
        if f.es_type == "geo_point":
            subs = [f"{f.source}.{axis}" for axis in ("lat", "lon")]
            if types.get(f.source) != "object" or any(types.get(n) not in ("double", "float") for n in subs):
                return None
            out += subs
        elif types.get(f.source) in _PLAIN_DOC_VALUES and mapping["properties"][f.source].get("doc_values", True):
            out.append(f.source)
        else:
            return None
    return out


@dataclass(frozen=True)
class IndexPit:
    """A point-in-time on one index, with what plan_read needs to cut its shards into slices
    and to choose between _source and doc values."""

    index: str
    pit_id: str
    shards: int
    max_shard_docs: int  # Lucene documents (live + deleted) of its largest shard copy
    mapping: dict[str, Any]
    synthetic_source: bool = False  # _source is rebuilt from doc values (index.mapping.source.mode)


@dataclass(frozen=True)
class SliceRequest:
    """One slice: index (position in the plan), slice id and count within that index's PIT."""

    index: int
    slice_id: int
    n_slices: int


@dataclass(frozen=True)
class ReadPlan:
    """Every slice to read, and the request body of each index; made once on the driver."""

    pits: tuple[IndexPit, ...]
    bodies: tuple[dict[str, Any], ...]  # per index: the request without slice and search_after
    slices: tuple[SliceRequest, ...]
    page_size: int

    def body(self, s: SliceRequest) -> dict[str, Any]:
        body = dict(self.bodies[s.index])
        if s.n_slices > 1:
            body["slice"] = {"id": s.slice_id, "max": s.n_slices}
        return body


class RawJson(JsonSerializer):
    """Responses as the bytes Elasticsearch sent (the scanner reads them); requests as JSON."""

    def loads(self, data: bytes) -> bytes:
        return data


def raw_client(url: str):
    """An Elasticsearch client whose JSON responses stay raw bytes."""
    from crayfis.es.client import make_client

    return make_client(url, request_timeout=120, serializers={"application/json": RawJson()})


_JSON = {"accept": "application/json", "content-type": "application/json"}


def search_bytes(es, body: dict[str, Any]) -> bytes:
    """POST /_search with a point-in-time body: the raw response. A shard failure is an error
    (allow_partial_search_results=false), never a silently shorter page."""
    return es.perform_request("POST", "/_search", params={"allow_partial_search_results": "false"},
                              headers=_JSON, body=body).body


@contextmanager
def point_in_time(url: str, pattern: str, keep_alive: str = KEEP_ALIVE):
    """Open a PIT on every index of the pattern for the duration of a job.

    Yields the tuple of IndexPit (None when nothing matches); closes them all on the way out."""
    from crayfis.es.client import make_client

    es = make_client(url)
    pits: list[IndexPit] = []
    try:
        names = sorted(es.indices.get(index=pattern, ignore_unavailable=True, allow_no_indices=True,
                                      expand_wildcards="open").body)
        if not names:
            yield None
            return
        mappings = es.indices.get_mapping(index=pattern, expand_wildcards="open", ignore_unavailable=True,
                                         allow_no_indices=True).body
        modes = es.indices.get_settings(index=pattern, name=SOURCE_MODE, flat_settings=True,
                                        expand_wildcards="open", ignore_unavailable=True,
                                        allow_no_indices=True).body
        for name in names:
            pit = es.open_point_in_time(index=name, keep_alive=keep_alive).body
            mapping = mappings.get(name, {}).get("mappings", {})
            mode = (modes.get(name, {}).get("settings", {}).get(SOURCE_MODE)
                    or mapping.get("_source", {}).get("mode"))
            pits.append(IndexPit(name, pit["id"], int(pit["_shards"]["total"]), 0, mapping,
                                 synthetic_source=mode == "synthetic"))
        stats = es.indices.stats(index=pattern, level="shards", metric="docs",
                                 expand_wildcards="open").body["indices"]
        pits = [replace(p, max_shard_docs=_max_shard_docs(stats.get(p.index, {}))) for p in pits]
        yield tuple(pits)
    finally:
        for p in pits:
            es.options(ignore_status=404).close_point_in_time(id=p.pit_id)
        es.close()


def _max_shard_docs(index_stats: dict[str, Any]) -> int:
    """Largest Lucene document count (live + deleted) over an index's shard copies."""
    best = 0
    for copies in index_stats.get("shards", {}).values():
        for copy in copies:
            docs = copy.get("docs", {})
            best = max(best, int(docs.get("count", 0)) + int(docs.get("deleted", 0)))
    return best


def plan_read(es, q: EsHitsQuery, pits: tuple[IndexPit, ...]) -> ReadPlan:
    """Slices of every index that holds a matching document, each about a page."""
    names = [f.source for f in q.fields() if f.es_type != ID]
    kept, bodies, slices = [], [], []
    for p in pits:
        count = msgspec.json.decode(search_bytes(es, {
            "pit": {"id": p.pit_id, "keep_alive": KEEP_ALIVE}, "size": 0, "query": q.query(),
            "track_total_hits": True}))["hits"]["total"]["value"]
        if not count:
            continue
        body: dict[str, Any] = {
            "size": q.page_size, "query": q.query(), "pit": {"id": p.pit_id, "keep_alive": KEEP_ALIVE},
            "sort": ["_shard_doc"], "track_total_hits": False,
        }
        whole = doc_value_fields(p.mapping, q.fields()) if p.synthetic_source else None
        if whole is not None:
            body["_source"] = False
            doc_values = whole
        else:
            if p.mapping.get("_source", {}).get("enabled", True) is False:
                body["_source"] = False
            doc_values = outside_source(p.mapping, names)
        if doc_values:
            types = _mapped_types(p.mapping)
            body["docvalue_fields"] = [{"field": n, "format": "epoch_millis"} if types.get(n) == "date" else n
                                       for n in doc_values]
        per_shard = max(1, math.ceil(max(p.max_shard_docs, count) / q.page_size))
        n_slices = p.shards * per_shard
        slices += [SliceRequest(len(kept), s, n_slices) for s in range(n_slices)]
        kept.append(p)
        bodies.append(body)
    if len(slices) >= 1 << (63 - SLICE_ROW_BITS):
        raise ValueError(f"{len(slices)} slices: more than hit codes can number")
    return ReadPlan(tuple(kept), tuple(bodies), tuple(slices), q.page_size)


def plan_of(q: EsHitsQuery, pits: tuple[IndexPit, ...]) -> ReadPlan:
    """``plan_read`` with a client of its own (the driver plans once, before the tasks)."""
    es = raw_client(q.url)
    try:
        return plan_read(es, q, pits)
    finally:
        es.close()


def search_error(exc: Exception) -> str:
    """One line for a failed search: the reason Elasticsearch gave, else the exception."""
    body = getattr(exc, "body", None)
    if isinstance(body, (bytes, str)):
        try:
            err = msgspec.json.decode(body).get("error", {})
            cause = (err.get("root_cause") or [err])[0] if isinstance(err, dict) else {"reason": err}
            return f"{cause.get('type', 'error')}: {cause.get('reason', '')}"
        except (msgspec.DecodeError, AttributeError):
            pass
    return f"{type(exc).__name__}: {exc}"


def read_slice(es, plan: ReadPlan, layout: PageLayout, s: SliceRequest) -> list[pa.RecordBatch]:
    """Every hit of one slice: one batch per page (a slice normally fits in one)."""
    from elasticsearch import ApiError

    body = plan.body(s)
    out = []
    while True:
        try:
            data = search_bytes(es, body)
        except ApiError as exc:
            raise RuntimeError(f"reading {plan.pits[s.index].index} slice {s.slice_id}: "
                               f"{search_error(exc)}") from None
        page = decode_page(data, layout, plan.page_size)
        out.append(page.batch)
        if page.batch.num_rows < plan.page_size:
            return out
        if page.last_sort is None:
            raise RuntimeError("a full page without the _shard_doc sort value to continue from")
        body = dict(body, search_after=[page.last_sort])


def read_slices(q: EsHitsQuery, plan: ReadPlan, which: list[int],
                in_flight: int = IN_FLIGHT) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(slice number, batch) for the given slices of the plan, in that order, with up to
    ``in_flight`` slices requested ahead (decoding releases the GIL, so they overlap)."""
    es = raw_client(q.url)
    layout = q.layout()
    try:
        with ThreadPoolExecutor(max_workers=max(1, in_flight)) as pool:
            pending: deque = deque()
            todo = iter(which)
            for k in todo:
                pending.append((k, pool.submit(read_slice, es, plan, layout, plan.slices[k])))
                if len(pending) >= in_flight:
                    break
            while pending:
                k, future = pending.popleft()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append((nxt, pool.submit(read_slice, es, plan, layout, plan.slices[nxt])))
                for batch in future.result():
                    yield k, batch
    finally:
        es.close()


def tasks_of(n_slices: int, n_tasks: int) -> list[list[int]]:
    """Slice numbers per read task, dealt round-robin."""
    return [list(range(t, n_slices, n_tasks)) for t in range(n_tasks)]


def map_read_tasks(spark, q: EsHitsQuery, pits: tuple[IndexPit, ...] | None, n_tasks: int,
                   consume: Callable[[Iterator[tuple[int, pa.RecordBatch]]], Iterator[pa.RecordBatch]],
                   out_schema: pa.Schema):
    """A DataFrame of what ``consume`` makes of each read task's (slice number, batch) stream:
    ``n_tasks`` partitions sharing the plan's slices round-robin. Empty without a PIT."""
    if not pits:
        return spark.createDataFrame([], _spark_schema(out_schema))
    plan = plan_of(q, pits)
    n_tasks = max(1, min(int(n_tasks), len(plan.slices) or 1))
    assignment = tasks_of(len(plan.slices), n_tasks)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for task in batch.column(0).to_pylist():
                yield from consume(read_slices(q, plan, assignment[int(task)]))

    ids = spark.range(0, n_tasks, 1, numPartitions=n_tasks)
    return ids.mapInArrow(run, _spark_schema(out_schema))


def hits_dataframe(spark, q: EsHitsQuery, pits: tuple[IndexPit, ...] | None, n_tasks: int,
                   code_column: str | None = None):
    """A DataFrame of the hits in ``q``, read by ``n_tasks`` tasks.

    With ``code_column``, a leading int64 column (slice number << SLICE_ROW_BITS) | position in
    the slice: the same on every read of the same points-in-time, since the plan is fixed and
    ``_shard_doc`` order within a slice is too.
    """
    schema = q.schema()
    if code_column:
        schema = pa.schema([pa.field(code_column, pa.int64())] + list(schema))

    def coded(pages: Iterator[tuple[int, pa.RecordBatch]]) -> Iterator[pa.RecordBatch]:
        position: dict[int, int] = {}
        for k, page in pages:
            if code_column:
                pos = position.get(k, 0)
                code = (k << SLICE_ROW_BITS) + pos + np.arange(page.num_rows, dtype=np.int64)
                position[k] = pos + page.num_rows
                page = pa.RecordBatch.from_arrays([pa.array(code)] + page.columns, schema=schema)
            yield page

    return map_read_tasks(spark, q, pits, n_tasks, coded, schema)


def _spark_schema(schema: pa.Schema):
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)

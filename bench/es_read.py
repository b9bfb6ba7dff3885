"""Benchmark: reading hit documents back from Elasticsearch, the job and export against a bare client.

Setup (untimed): ``--uploads`` realistic v1.0.4 DataChunks (150 events each, ingest.synthetic) are
stored as pending uploads in a fresh SQLite database and indexed by the indexer (Indexer.run, as
in production) under this run's own prefix, then force-merged to one segment per shard. In one
run, under ``flock /tmp/bench.lock``, every target reads all of those hit documents:

  ceiling     a bare client, the fastest way this Elasticsearch (8.x core) allows as measured
              by ``--shapes``: one point-in-time per index, doc-id slices of about a page
              (10,000 hits) per shard, sort ``_shard_doc``, no ``track_total_hits``, in
              parallel worker processes (urllib3, one request at a time per process), each
              response decoded by msgspec into typed structs and then into columns (hit id,
              device, t_ms, lat, lon). Two request shapes: the whole ``_source`` (exact
              positions) and ``_source: false`` with doc values (``docvalue_fields``; positions
              to ~1e-7 degrees); the best of shapes and process counts is the ceiling;
  reader      spark_jobs.es_source.read_slices (the job's reader, compiled scanner to Arrow)
              in the same worker processes, without Spark;
  job read    the coincidence job's input stage on local[2]: hits_input.es_input (PIT, plan,
              mapInArrow over the slices) persisted and counted, as the job materialises it;
  export      spark_jobs.export_hits.export of every hit to day-partitioned Parquet.

Each target must see the same hits (count and sum of t_ms, checked). After ``--warmup`` untimed
rounds, ``--repeats`` rounds with the order of the targets rotating; medians, the ratio of each
to the ceiling, and the load average before each run. ``--shapes`` first times one stream of
each request shape (which fields, doc values or _source, filter_path) so the ceiling's choice
is shown, not assumed. Everything created is deleted at the end.

    flock -u: the script takes /tmp/bench.lock itself for the timed part
    .venv/bin/python bench/es_read.py [--uploads 6700] [--repeats 3] [--warmup 1] [--json out.json]
"""
from __future__ import annotations

import argparse
import fcntl
import json
import math
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa
import urllib3

# The repository first on sys.path: this folder's ingest.py and indexer.py would shadow the
# packages of the same name.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spark_jobs.es_source import EsHitsQuery, plan_read, point_in_time, raw_client, read_slices  # noqa: E402

LOCK = "/tmp/bench.lock"
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
SHAPES = {  # request shape -> extra body keys; the bare client reads these fields of each hit
    "source": {},
    "doc_values": {"_source": False, "docvalue_fields": [
        "device", {"field": "t_ms", "format": "epoch_millis"}, "location"]},
}


# ----------------------------------------------------------------------------------------------
# The bare client (runs in spawned worker processes)

class _Loc(msgspec.Struct, gc=False):
    lat: float
    lon: float


class _Source(msgspec.Struct, gc=False):
    t_ms: int
    device: str
    location: _Loc


class _DocValues(msgspec.Struct, gc=False):
    t_ms: list[str]
    device: list[str]
    location: list[str]


class _Hit(msgspec.Struct, gc=False, rename={"id": "_id", "source": "_source", "fields": "fields"}):
    id: str
    sort: list[int]
    source: _Source | None = None
    fields: _DocValues | None = None


class _Hits(msgspec.Struct, gc=False):
    hits: list[_Hit]


class _Response(msgspec.Struct, gc=False):
    hits: _Hits


_DECODER = msgspec.json.Decoder(_Response)


def _columns(hits: list[_Hit]) -> list:
    """The five columns of a page, as a bare client would build them."""
    ids = pa.array([h.id for h in hits], pa.string())
    if hits and hits[0].source is not None:
        dev = pa.array([h.source.device for h in hits], pa.string())
        t = np.array([h.source.t_ms for h in hits], np.int64)
        lat = np.array([h.source.location.lat for h in hits], np.float64)
        lon = np.array([h.source.location.lon for h in hits], np.float64)
    else:
        dev = pa.array([h.fields.device[0] for h in hits], pa.string())
        t = np.array([int(h.fields.t_ms[0]) for h in hits], np.int64)
        pairs = [h.fields.location[0].split(",") for h in hits]
        lat = np.array([float(p[0]) for p in pairs], np.float64)
        lon = np.array([float(p[1]) for p in pairs], np.float64)
    return [ids, dev, t, lat, lon]


_PY_TYPE = {"keyword": str, "date": int, "long": int, "integer": int, "short": int, "byte": int,
            "float": float, "double": float, "half_float": float, "boolean": bool, "geo_point": _Loc}
_ARROW_TYPE = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}


def all_fields_decoder(fields: tuple[tuple[str, str], ...]) -> msgspec.json.Decoder:
    """A typed decoder for hits whose _source has these (name, ES type) fields, all optional."""
    source = msgspec.defstruct("AllSource", [(name, _PY_TYPE[kind] | None, None) for name, kind in fields],
                               gc=False)
    hit = msgspec.defstruct("AllHit", [("id", str), ("sort", list[int]), ("source", source)], gc=False,
                            rename={"id": "_id", "source": "_source"})
    hits = msgspec.defstruct("AllHits", [("hits", list[hit])], gc=False)
    return msgspec.json.Decoder(msgspec.defstruct("AllResponse", [("hits", hits)], gc=False))


def _all_columns(hits: list, fields: tuple[tuple[str, str], ...]) -> dict:
    """Every field of every hit as Arrow columns (geo_points as two), as a bare client would."""
    cols = {"hit_id": pa.array([h.id for h in hits], pa.string())}
    for name, kind in fields:
        values = [getattr(h.source, name) for h in hits]
        if kind == "geo_point":
            cols[f"{name}_lat"] = pa.array([v.lat if v else None for v in values], pa.float64())
            cols[f"{name}_lon"] = pa.array([v.lon if v else None for v in values], pa.float64())
        else:
            cols[name] = pa.array(values, _ARROW_TYPE[_PY_TYPE[kind]])
    return cols


def bare_part(url: str, bodies: list[dict], page: int,
              fields: tuple[tuple[str, str], ...] | None = None) -> tuple[int, int]:
    """Read the given slice requests one after another; (hits, sum of t_ms). ``fields``: decode
    every one of these _source fields (the export's work) instead of the job's five columns."""
    http = urllib3.PoolManager(maxsize=2)
    decoder = all_fields_decoder(fields) if fields else _DECODER
    n = t_sum = 0
    for body in bodies:
        while True:
            r = http.request("POST", f"{url}/_search?allow_partial_search_results=false",
                             body=msgspec.json.encode(body), headers=JSON_HEADERS)
            if r.status != 200:
                raise RuntimeError(f"search answered {r.status}: {r.data[:300]!r}")
            hits = decoder.decode(r.data).hits.hits
            if fields:
                t = _all_columns(hits, fields)["t_ms"].to_numpy()
            else:
                t = _columns(hits)[2]
            n += len(hits)
            t_sum += int(t.sum())
            if len(hits) < page:
                break
            body = dict(body, search_after=hits[-1].sort)
    return n, t_sum


def reader_part(q: EsHitsQuery, plan, which: list[int]) -> tuple[int, int]:
    """The job's reader over the given slices, without Spark; (hits, sum of t_ms)."""
    n = t_sum = 0
    for _, batch in read_slices(q, plan, which):
        n += batch.num_rows
        t_sum += int(np.sum(batch.column("t_ms").to_numpy()))
    return n, t_sum


def warm_worker() -> None:
    """Import and load the compiled scanner once per worker (numba's cache), outside timings."""
    from spark_jobs.es_pages import Field, PageLayout, decode_page

    decode_page(b'{"hits":{"hits":[]}}', PageLayout([Field.named("_id", "_id")]), 1)


# ----------------------------------------------------------------------------------------------
# Setup: index hits the way production does

def build_index(args, tmp: Path, prefix: str) -> dict:
    from bench.indexer import count_hits, run_indexer, setup_django, store_uploads

    setup_django(tmp)
    from django.conf import settings

    from crayfis.es.templates import ensure_templates
    from indexer.worker import make_indexer_client

    es = make_indexer_client()
    t0 = time.perf_counter()
    n_events = store_uploads(args.uploads)
    print(f"{args.uploads} pending uploads, {n_events:,} events stored ({time.perf_counter() - t0:.0f} s); "
          f"indexing into {prefix}-* on {settings.CRAYFIS_ES_URL}", flush=True)
    ensure_templates(es, prefix, replicas=0)
    seconds, hits = run_indexer(es, prefix, settings.CRAYFIS_INDEXER_BATCH)
    print(f"indexer: {hits:,} hits in {seconds:.0f} s ({hits / seconds:,.0f} hits/s); force-merging", flush=True)
    t0 = time.perf_counter()
    es.options(request_timeout=3600).indices.forcemerge(index=f"{prefix}-hits-*", max_num_segments=1)
    docs = count_hits(es, prefix)
    stats = es.indices.stats(index=f"{prefix}-hits-*", metric="store,docs")["_all"]["primaries"]
    print(f"force-merged in {time.perf_counter() - t0:.0f} s: {docs:,} hit documents, "
          f"{stats['store']['size_in_bytes'] / docs:.0f} bytes/document on disk", flush=True)
    return {"documents": docs, "events": n_events, "bytes_per_document": stats["store"]["size_in_bytes"] / docs,
            "indexer_hits_per_s": hits / seconds}


def drop(prefix: str) -> None:
    from bench.indexer import drop as drop_prefix
    from indexer.worker import make_indexer_client

    drop_prefix(make_indexer_client(), prefix)


# ----------------------------------------------------------------------------------------------
# Targets

def shape_bodies(plan, shape: str) -> list[dict]:
    """Every slice request of the plan in a bare-client shape."""
    out = []
    for s in plan.slices:
        body = plan.body(s)
        body.pop("_source", None)
        body.pop("docvalue_fields", None)
        body.update(SHAPES[shape])
        out.append(body)
    return out


def run_ceiling(pool, workers: int, url: str, plan, shape: str, fields=None) -> tuple[int, int, float]:
    bodies = shape_bodies(plan, shape)
    parts = [bodies[w::workers] for w in range(workers)]
    t0 = time.perf_counter()
    results = pool.starmap(bare_part, [(url, part, plan.page_size, fields) for part in parts])
    seconds = time.perf_counter() - t0
    return sum(r[0] for r in results), sum(r[1] for r in results), seconds


def run_reader(pool, workers: int, q, plan) -> tuple[int, int, float]:
    parts = [list(range(w, len(plan.slices), workers)) for w in range(workers)]
    t0 = time.perf_counter()
    results = pool.starmap(reader_part, [(q, plan, part) for part in parts])
    seconds = time.perf_counter() - t0
    return sum(r[0] for r in results), sum(r[1] for r in results), seconds


def run_job_read(spark, url: str, pattern: str) -> tuple[int, int, float]:
    """The job's input stage: open the PITs, plan, read into Spark, persist, count."""
    from pyspark.sql import functions as F

    from spark_jobs.hits_input import es_input

    t0 = time.perf_counter()
    with point_in_time(url, pattern) as pits:
        inp = es_input(spark, url, pattern, None, None, pits, spark.sparkContext.defaultParallelism)
        n = inp.raw.count()
        seconds = time.perf_counter() - t0
        t_sum = int(inp.raw.agg(F.sum("t_ms")).collect()[0][0])
        inp.raw.unpersist()
    return n, t_sum, seconds


def run_export(spark, url: str, pattern: str, out: Path) -> tuple[int, int, float]:
    import pyarrow.dataset as ds

    from spark_jobs.export_hits import export

    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    result = export(spark, url, pattern, 0, 1 << 62, str(out), mode="overwrite")
    seconds = time.perf_counter() - t0
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table(columns=["t_ms"])
    if table.num_rows != result["hits"]:
        raise AssertionError(f"export said {result['hits']} hits, wrote {table.num_rows}")
    t_sum = int(np.sum(table.column("t_ms").to_numpy()))
    shutil.rmtree(out, ignore_errors=True)
    return table.num_rows, t_sum, seconds


def mapped_hit_fields(url: str, pattern: str) -> tuple[tuple[str, str], ...]:
    """(name, ES type) of every hit field, as the export reads them (t_ms among them)."""
    from crayfis.es.client import make_client
    from spark_jobs.es_source import mapped_fields

    es = make_client(url)
    try:
        return tuple(sorted((k, v) for k, v in mapped_fields(es, pattern).items()
                            if v != "object" and k != "hit_id"))
    finally:
        es.close()


def request_shapes(url: str, plan, n_docs: int) -> list[dict]:
    """One stream of requests per shape over the first slices: hits/s, bytes per hit.

    Shapes: whole _source; _source filtered to the fields; doc values; each of those with
    filter_path; nothing but _id; nothing at all (the per-hit floor)."""
    fp = "filter_path=hits.hits._id,hits.hits._source,hits.hits.fields,hits.hits.sort"
    fields = ["device", {"field": "t_ms", "format": "epoch_millis"}, "location"]
    shapes = [
        ("whole _source", {}, ""), ("whole _source + filter_path", {}, fp),
        ("_source filtered to the 3 fields", {"_source": ["device", "t_ms", "location"]}, ""),
        ("doc values (docvalue_fields)", {"_source": False, "docvalue_fields": fields}, ""),
        ("doc values + filter_path", {"_source": False, "docvalue_fields": fields}, fp),
        ("_id only", {"_source": False}, ""),
        ("nothing (stored_fields: _none_)", {"stored_fields": "_none_"}, ""),
    ]
    http = urllib3.PoolManager(maxsize=1)
    bodies = [plan.body(s) for s in plan.slices]
    take = bodies[:max(1, min(len(bodies), math.ceil(min(n_docs, 300_000) / plan.page_size)))]
    out = []
    for name, extra, params in shapes:
        n = nbytes = 0
        t0 = time.perf_counter()
        for body in take:
            body = {k: v for k, v in body.items() if k not in ("_source", "docvalue_fields")} | extra
            r = http.request("POST", f"{url}/_search?allow_partial_search_results=false&{params}",
                             body=msgspec.json.encode(body), headers=JSON_HEADERS)
            n += len(msgspec.json.decode(r.data)["hits"]["hits"])
            nbytes += len(r.data)
        seconds = time.perf_counter() - t0
        out.append({"shape": name, "hits": n, "hits_per_s": n / seconds, "bytes_per_hit": nbytes / n,
                    "load": os.getloadavg()[0]})
        print(f"  shape {name:36s} {n / seconds:9,.0f} hits/s  {nbytes / n:6.0f} bytes/hit "
              f"(one stream, response bytes only)", flush=True)
    return out


# ----------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uploads", type=int, default=6700, help="uploads of 150 events (6700: 1,005,000 hits)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds of every target first")
    ap.add_argument("--workers", type=int, nargs="+", default=[2, 4], help="bare-client processes to try")
    ap.add_argument("--shapes", action="store_true", help="also time one stream per request shape")
    ap.add_argument("--keep", metavar="PREFIX", help="reuse (and keep) an index built under this prefix")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="crayfis-bench-es-read-"))
    prefix = args.keep or f"benchesread{uuid.uuid4().hex[:6]}"
    spark = pool = None
    try:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        url = os.environ.get("CRAYFIS_ES_URL", "http://127.0.0.1:9200")
        es = raw_client(url)
        have = es.options(ignore_status=404).indices.exists(index=f"{prefix}-hits-*").body if args.keep else False
        if have:
            from bench.indexer import setup_django

            setup_django(tmp)
            stats = msgspec.json.decode(es.indices.stats(index=f"{prefix}-hits-*", metric="store,docs").body)
            docs = stats["_all"]["primaries"]["docs"]["count"]
            setup = {"documents": docs,
                     "bytes_per_document": stats["_all"]["primaries"]["store"]["size_in_bytes"] / docs}
            print(f"reusing {prefix}-hits-*: {docs:,} documents", flush=True)
        else:
            setup = build_index(args, tmp, prefix)
        pattern = f"{prefix}-hits-*"
        from spark_jobs.session import build_session

        spark = build_session("bench-es-read", "local[2]", {"spark.driver.memory": "4g",
                                                             "spark.local.dir": str(tmp)})
        pool = multiprocessing.get_context("spawn").Pool(max(args.workers), initializer=warm_worker)
        q = EsHitsQuery(url, pattern, only_hits=True)
        results: dict[str, list[float]] = {}
        loads: dict[str, list[float]] = {}
        shapes = []
        with open(LOCK, "w") as lock:
            print(f"waiting for {LOCK}", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
            print(f"holding {LOCK}; load {os.getloadavg()[0]:.1f}", flush=True)
            with point_in_time(url, pattern) as pits:
                plan = plan_read(es, q, pits)
                print(f"plan: {len(plan.pits)} index(es), {len(plan.slices)} slices of <= {plan.page_size} hits",
                      flush=True)
                if args.shapes:
                    shapes = request_shapes(url, plan, setup["documents"])
                targets = {f"ceiling {shape} x{w}": (lambda shape=shape, w=w: run_ceiling(pool, w, url, plan, shape))
                           for shape in SHAPES for w in args.workers}
                targets |= {f"reader x{w}": (lambda w=w: run_reader(pool, w, q, plan)) for w in args.workers}
                fields = mapped_hit_fields(url, pattern)
                targets |= {f"ceiling all fields x{w}": (lambda w=w: run_ceiling(pool, w, url, plan, "source", fields))
                            for w in args.workers}
                targets["job read"] = lambda: run_job_read(spark, url, pattern)
                targets["export"] = lambda: run_export(spark, url, pattern, tmp / "export")
                names = list(targets)
                expect = None
                for r in range(-args.warmup, args.repeats):
                    order = names[r % len(names):] + names[:r % len(names)] if r >= 0 else names
                    for name in order:
                        before = os.getloadavg()[0]
                        n, t_sum, seconds = targets[name]()
                        if expect is None:
                            expect = (n, t_sum)
                        elif (n, t_sum) != expect:
                            raise AssertionError(f"{name} read {n} hits (t sum {t_sum}), expected {expect}")
                        label = f"run {r}" if r >= 0 else "warm-up"
                        print(f"  {name:22s} {label}: {n / seconds:9,.0f} hits/s ({seconds:.2f} s, load {before:.1f})",
                              flush=True)
                        if r >= 0:
                            results.setdefault(name, []).append(n / seconds)
                            loads.setdefault(name, []).append(before)
        median = {k: statistics.median(v) for k, v in results.items()}
        ceiling_name = max((k for k in median if k.startswith("ceiling") and "all fields" not in k), key=median.get)
        ceiling = median[ceiling_name]
        all_name = max((k for k in median if k.startswith("ceiling all fields")), key=median.get)
        summary = {
            "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), **setup, "hits": expect[0],
            "slices": len(plan.slices), "repeats": args.repeats,
            "hits_per_s_median": median, "hits_per_s_runs": results, "load_before_runs": loads,
            "ceiling": ceiling_name,
            "ratio_to_ceiling": {k: v / ceiling for k, v in median.items()},
            "ceiling_all_fields": all_name,
            "export_to_ceiling_all_fields": median["export"] / median[all_name],
            "shapes": shapes,
        }
        print(json.dumps(summary, indent=1), flush=True)
        print("\n| target | hits/s, median | runs | / ceiling | load before runs |\n|---|---|---|---|---|")
        for k, v in median.items():
            print(f"| {k} | {v:,.0f} | {' / '.join(f'{x:,.0f}' for x in results[k])} | {v / ceiling:.2f} "
                  f"| {' / '.join(f'{x:.1f}' for x in loads[k])} |")
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1))
    finally:
        if pool is not None:
            pool.terminate()
        if spark is not None:
            spark.stop()
        if not args.keep:
            drop(prefix)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

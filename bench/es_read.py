"""Benchmark: reading hit documents back from Elasticsearch, the job and export against bare clients.

Setup (untimed): ``--uploads`` realistic v1.0.4 DataChunks (150 events each, ingest.synthetic) are
stored as pending uploads in a fresh SQLite database and indexed by the indexer (Indexer.run, as
in production) under this run's own prefix, then force-merged to one segment per shard.

Timed, under /tmp/bench.lock (the script takes it): every target reads all of those documents,
through the same plan (spark_jobs.es_source: one point-in-time per index, doc-id slices of about
a page per shard, sort _shard_doc, no track_total_hits, no filter_path: ``--shapes`` times one
stream of each request shape so that choice is shown, not assumed). Two groups:

  the job's five columns (hit id, device, t_ms, lat, lon of the hits, zero-bias left out)
    bare msgspec, source     worker processes (urllib3, one request at a time each) asking for
                             the whole _source, decoding with msgspec typed structs into columns;
    bare msgspec, doc_values the same with _source off and docvalue_fields (positions are doubles);
    bare scanner             the job's reader (compiled scanner to Arrow) in the same worker
                             processes, without Spark;
    job read, staged as Parquet
                             the coincidence job's input stage on local[2] as it runs there by
                             default (es_staging.py): plan, two read tasks writing time-ordered
                             Parquet files with their device statistics, the row-group listing;
    job read, Spark rows     the same stage read into Spark rows (--es-stage-dir none, a
                             cluster's default): hits_input.es_input (mapInArrow over the
                             slices) persisted and counted, as the job materialises it;
    job, whole, staged / Spark rows
                             the whole coincidence job on es:// (tau 10 ms, R 500 m, k 3) each
                             way, for context (its hits/s counts the search too);
  every field of every document (the export's work)
    bare msgspec / bare scanner, every field;
    export                   spark_jobs.export_hits.export to day-partitioned Parquet.

The best bare client of a group is its ceiling; each target's ratio to it is reported. Worker
counts from ``--workers``. Targets of a group must read the same hits (count and sum of t_ms,
checked). After ``--warmup`` untimed rounds (a fresh Spark session's first read pays cold Python
workers; each Spark target also starts its workers untimed, as Spark stops those idle a
minute), ``--repeats`` rounds with the order of the targets rotating; medians, every run, and
the load average before each run. Everything created is deleted at the end (``--keep PREFIX``
reuses and keeps an index instead, for repeated runs).

    .venv/bin/python bench/es_read.py [--uploads 6700] [--repeats 3] [--warmup 1] [--shapes] [--json out.json]
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

from bench._rounds import timed_rounds  # noqa: E402
from spark_jobs.es_source import EsHitsQuery, plan_read, point_in_time, raw_client, read_slices  # noqa: E402
from spark_jobs.export_hits import export_query  # noqa: E402
from spark_jobs.job_config import NO_STAGING  # noqa: E402

LOCK = "/tmp/bench.lock"
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
SHAPES = {  # request shape -> extra body keys; the bare client reads these fields of each hit
    "source": {},
    "doc_values": {"_source": False, "docvalue_fields": ["device", "t_ms", "location.lat", "location.lon"]},
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


class _DocValues(msgspec.Struct, gc=False, rename={"lat": "location.lat", "lon": "location.lon"}):
    t_ms: list[int]
    device: list[str]
    lat: list[float]
    lon: list[float]


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
        t = np.array([h.fields.t_ms[0] for h in hits], np.int64)
        lat = np.array([h.fields.lat[0] for h in hits], np.float64)
        lon = np.array([h.fields.lon[0] for h in hits], np.float64)
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


def warm_spark_workers(spark) -> None:
    """Start the Spark targets' Python workers and load the readers in them, off the clock:
    Spark stops a Python worker that has been idle for a minute, the bare clients' turns take
    longer than that, and the first Spark target of each round would otherwise pay the workers'
    start alone (the cold job's start is bench/coincidence_spark.py --cold's subject)."""
    from spark_jobs.driver_tasks import run_tasks

    def body(number: int):
        warm_worker()
        import spark_jobs.es_staging  # noqa: F401
        return iter(())

    run_tasks(spark.sparkContext, spark.sparkContext.defaultParallelism, body)


def warmed(spark, target, *args):
    """``target(*args)`` after ``warm_spark_workers``."""
    warm_spark_workers(spark)
    return target(*args)


# ----------------------------------------------------------------------------------------------
# Setup: index hits the way production does

def build_index(args, tmp: Path, prefix: str) -> dict:
    from bench.indexer import count_hits, setup_django, store_and_index

    setup_django(tmp)
    from django.conf import settings

    from indexer.worker import make_indexer_client

    es = make_indexer_client()
    n_events, seconds, hits = store_and_index(es, prefix, args.uploads, f"on {settings.CRAYFIS_ES_URL}")
    print("force-merging", flush=True)
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


def run_bare(pool, workers: int, url: str, plan, shape: str, fields=None) -> tuple[int, int, float]:
    """msgspec bare client in ``workers`` processes over the plan's slices."""
    bodies = shape_bodies(plan, shape)
    parts = [bodies[w::workers] for w in range(workers)]
    t0 = time.perf_counter()
    results = pool.starmap(bare_part, [(url, part, plan.page_size, fields) for part in parts])
    seconds = time.perf_counter() - t0
    return sum(r[0] for r in results), sum(r[1] for r in results), seconds


def run_scanner(pool, workers: int, q, plan) -> tuple[int, int, float]:
    """The job's reader (compiled scanner) in ``workers`` processes, without Spark."""
    parts = [list(range(w, len(plan.slices), workers)) for w in range(workers)]
    t0 = time.perf_counter()
    results = pool.starmap(reader_part, [(q, plan, part) for part in parts])
    seconds = time.perf_counter() - t0
    return sum(r[0] for r in results), sum(r[1] for r in results), seconds


def run_job_read(spark, url: str, pattern: str) -> tuple[int, int, float]:
    """The job's input stage read into Spark rows (``--es-stage-dir none``, and a cluster's
    default): open the PITs, plan, read into Spark, persist, count."""
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


def run_staged_read(spark, url: str, pattern: str, tmp: Path) -> tuple[int, int, float]:
    """The job's input stage staged as Parquet (es_staging.py, a local master's default): open
    the PITs, plan, the read tasks write their time-ordered files; then the job's listing of
    their row groups, as ``job_steps.ordered_layout`` reads them."""
    import pyarrow.dataset as ds

    from spark_jobs.es_staging import staged_input
    from spark_jobs.ordered_parquet import row_groups

    t0 = time.perf_counter()
    with point_in_time(url, pattern) as pits:
        with staged_input(spark, url, pattern, None, None, pits, spark.sparkContext.defaultParallelism,
                          str(tmp)) as inp:
            n = sum(g.n_rows for g in row_groups(inp.files()))
            seconds = time.perf_counter() - t0
            table = ds.dataset(inp.path, format="parquet").to_table(columns=["t_ms"])
    return n, int(np.sum(table.column("t_ms").to_numpy())), seconds


def run_whole_job(spark, url: str, pattern: str, out: Path, stage_dir: str | None) -> tuple[int, None, float]:
    """The whole coincidence job on es:// (tau 10 ms, R 500 m, k 3): wall time, hits read."""
    from spark_jobs.coincidence import JobConfig, run_job
    from spark_jobs.search_tasks import SearchParams

    t0 = time.perf_counter()
    summary = run_job(spark, JobConfig(input=f"es://{pattern}", output=str(out), es_url=url,
                                       params=SearchParams(window_ms=10, radius_m=500.0, min_devices=3),
                                       es_stage_dir=stage_dir))
    seconds = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    return summary["hits_read"], None, seconds


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
    fields = ["device", "t_ms", "location.lat", "location.lon"]
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

# Which targets read what: the job's five columns of the hits (zero-bias samples left out), or
# every field of every document (the export's work). Ratios are to the best bare client of the group.
JOB_GROUP, EXPORT_GROUP = "job's five columns", "every field (export)"


def make_targets(args, pool, spark, url: str, pattern: str, plans: dict, tmp: Path) -> dict:
    """name -> (group, function returning (hits, sum of t_ms or None, seconds), is a bare client)."""
    hits_q, docs_q = plans["hits"][0], plans["docs"][0]
    hits_plan, docs_plan = plans["hits"][1], plans["docs"][1]
    fields = mapped_hit_fields(url, pattern)
    targets = {}
    for w in args.workers:
        for shape in SHAPES:
            targets[f"bare msgspec, {shape} x{w}"] = (
                JOB_GROUP, lambda w=w, shape=shape: run_bare(pool, w, url, hits_plan, shape), True)
        targets[f"bare scanner x{w}"] = (JOB_GROUP, lambda w=w: run_scanner(pool, w, hits_q, hits_plan), True)
        targets[f"bare msgspec, every field x{w}"] = (
            EXPORT_GROUP, lambda w=w: run_bare(pool, w, url, docs_plan, "source", fields), True)
        targets[f"bare scanner, every field x{w}"] = (
            EXPORT_GROUP, lambda w=w: run_scanner(pool, w, docs_q, docs_plan), True)
    targets["job read, staged as Parquet"] = (
        JOB_GROUP, lambda: warmed(spark, run_staged_read, spark, url, pattern, tmp), False)
    targets["job read, Spark rows"] = (
        JOB_GROUP, lambda: warmed(spark, run_job_read, spark, url, pattern), False)
    targets["job, whole, staged"] = (
        JOB_GROUP, lambda: warmed(spark, run_whole_job, spark, url, pattern, tmp / "job", None), False)
    targets["job, whole, Spark rows"] = (
        JOB_GROUP, lambda: warmed(spark, run_whole_job, spark, url, pattern, tmp / "job", NO_STAGING), False)
    targets["export"] = (EXPORT_GROUP, lambda: warmed(spark, run_export, spark, url, pattern, tmp / "export"),
                         False)
    return targets


def run_rounds(args, targets: dict) -> tuple[dict, dict]:
    """Rates (hits/s) and load averages per target over the timed rounds; checks every target
    of a group read the same hits."""
    expect: dict[str, tuple] = {}

    def measure(name):
        group, fn, _ = targets[name]
        n, t_sum, seconds = fn()
        want = expect.setdefault(group, (n, t_sum))
        if n != want[0] or (t_sum is not None and t_sum != want[1]):
            raise AssertionError(f"{name} read {n} hits (t sum {t_sum}), expected {want}")
        return n, seconds

    return timed_rounds(list(targets), args.warmup, args.repeats, measure, width=34)


def summarize(targets: dict, rates: dict, loads: dict) -> dict:
    median = {k: statistics.median(v) for k, v in rates.items()}
    ceilings = {g: max((k for k, (group, _, bare) in targets.items() if group == g and bare), key=median.get)
                for g in (JOB_GROUP, EXPORT_GROUP)}
    ratio = {k: v / median[ceilings[targets[k][0]]] for k, v in median.items()}
    print("\n| target | reads | hits/s, median | runs | / best bare client of its group | load before runs |\n"
          "|---|---|---|---|---|---|")
    for k, v in median.items():
        print(f"| {k} | {targets[k][0]} | {v:,.0f} | {' / '.join(f'{x:,.0f}' for x in rates[k])} "
              f"| {ratio[k]:.2f} | {' / '.join(f'{x:.1f}' for x in loads[k])} |")
    return {"hits_per_s_median": median, "hits_per_s_runs": rates, "load_before_runs": loads,
            "ceilings": ceilings, "ratio_to_ceiling": ratio}


def reuse_index(es, tmp: Path, prefix: str) -> dict:
    from bench.indexer import setup_django

    setup_django(tmp)  # the settings drop() reads at the end
    stats = msgspec.json.decode(es.indices.stats(index=f"{prefix}-hits-*", metric="store,docs").body)
    docs = stats["_all"]["primaries"]["docs"]["count"]
    print(f"reusing {prefix}-hits-*: {docs:,} documents", flush=True)
    return {"documents": docs, "bytes_per_document": stats["_all"]["primaries"]["store"]["size_in_bytes"] / docs}


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
        # a wildcard "exists" answers true when nothing matches: ask for the matching indices
        if args.keep and msgspec.json.decode(
                es.indices.get(index=f"{prefix}-hits-*", allow_no_indices=True).body):
            setup = reuse_index(es, tmp, prefix)
        else:
            setup = build_index(args, tmp, prefix)
        pattern = f"{prefix}-hits-*"
        from spark_jobs.session import build_session

        spark = build_session("bench-es-read", "local[2]", {"spark.driver.memory": "4g",
                                                             "spark.local.dir": str(tmp)})
        pool = multiprocessing.get_context("spawn").Pool(max(args.workers), initializer=warm_worker)
        with open(LOCK, "w") as lock:
            print(f"waiting for {LOCK}", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
            print(f"holding {LOCK}; load {os.getloadavg()[0]:.1f}", flush=True)
            with point_in_time(url, pattern) as pits:
                plans = {}
                for key, q in (("hits", EsHitsQuery(url, pattern, only_hits=True)),
                               ("docs", export_query(url, pattern, None, None))):
                    plans[key] = (q, plan_read(es, q, pits))
                plan = plans["hits"][1]
                print(f"plan: {len(plan.pits)} index(es), {len(plan.slices)} slices of <= {plan.page_size} hits",
                      flush=True)
                shapes = request_shapes(url, plan, setup["documents"]) if args.shapes else []
                targets = make_targets(args, pool, spark, url, pattern, plans, tmp)
                rates, loads = run_rounds(args, targets)
        summary = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), **setup,
                   "slices": len(plan.slices), "repeats": args.repeats, **summarize(targets, rates, loads),
                   "shapes": shapes}
        print(json.dumps(summary, indent=1), flush=True)
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

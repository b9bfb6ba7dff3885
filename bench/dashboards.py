"""Benchmark: latency of every /api/dash/ endpoint with ~1e7 hits indexed in the embedded node.

    .venv/bin/python bench/dashboards.py [--hits 10000000] [--phones 1000] [--requests 40]
                                         [--prefix benchdash] [--reuse] [--keep]

1. Indexes a synthetic network through the project's own index templates (crayfis.es): phones
   in ~150 towns across Europe, 20 triggers/min with a log-normal spread and 1 % hot phones,
   180 s exposure blocks in sessions spread over the last 7 days (a few phones live right now),
   one hit document per event with the same fields the indexer writes, and candidates made of
   real hit ids. Documents are built with numpy and sent as pre-serialized NDJSON bulk bodies
   (two in flight, refresh off during the load).
2. Starts gunicorn on 127.0.0.1 and times real HTTP GETs of every endpoint: once with the
   dashboard cache off (every request aggregates in ES), once with the default 5 s cache.
3. Baseline in the same run: the same numbers computed the naive way, from the hit documents
   instead of the exposure blocks (active phones, map, hit rates, per-phone hit counts), timed
   directly against ES next to the dashboards' own query functions.

Results are printed as a Markdown table (paste into docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crayfis.definition import DAY_MS, MINUTE_MS, SearchParams  # noqa: E402
from crayfis.es.candidates import (  # noqa: E402
    CONTINUOUS,
    CONTINUOUS_JOB_ID,
    RETRACTED,
    Component,
    Lifecycle,
    candidate_document,
    document_id,
)
from crayfis.es.client import make_client  # noqa: E402
from crayfis.es.naming import month_suffix  # noqa: E402
from crayfis.es.templates import ensure_templates  # noqa: E402
from crayfis.privacy import public_cells  # noqa: E402

BLOCK_MS = 180_000
RATE_PER_MIN = 20.0
PARAMS = SearchParams(window_ms=30, radius_m=150.0, min_devices=3)  # what the bench candidates claim
MODELS = np.array(["SM-G973F", "Pixel 4a", "Moto G7", "SM-A515F", "Redmi Note 8"])


# --- data -----------------------------------------------------------------------------------

def plan_network(n_hits: int, n_phones: int, now_ms: int, rng: np.random.Generator) -> dict:
    """Phones, their positions and exposure blocks so that the blocks hold ~n_hits events."""
    towns = np.column_stack([rng.uniform(36, 60, 150), rng.uniform(-9, 30, 150)])
    town = rng.integers(0, len(towns), n_phones)
    lat = towns[town, 0] + rng.normal(0, 0.05, n_phones)
    lon = towns[town, 1] + rng.normal(0, 0.07, n_phones)
    rate = RATE_PER_MIN * rng.lognormal(0, 0.3, n_phones)
    hot = rng.random(n_phones) < 0.01
    rate[hot] *= rng.uniform(5, 10, hot.sum())
    hi, lo = rng.integers(0, 2**63, n_phones), rng.integers(0, 2**63, n_phones)
    device = np.array([f"d{h:016x}"[:17] for h in hi ^ lo], dtype=object)
    # blocks needed per phone: share the hits in proportion to exposure, not rate
    blocks_per_phone = max(1, int(round(n_hits / (n_phones * RATE_PER_MIN * 3))))
    sessions = max(1, blocks_per_phone // 10)
    per_session = -(-blocks_per_phone // sessions)
    start = now_ms - 7 * DAY_MS
    s_start = rng.integers(start, now_ms - per_session * BLOCK_MS, (n_phones, sessions))
    live_now = rng.random(n_phones) < 0.05  # these phones' last session runs through "now"
    s_start[live_now, -1] = now_ms - (per_session // 2) * BLOCK_MS
    b_dev = np.repeat(np.arange(n_phones), sessions * per_session)
    b_start = (np.repeat(s_start.ravel(), per_session)
               + np.tile(np.arange(per_session) * BLOCK_MS, n_phones * sessions))
    n_events = rng.poisson(rate[b_dev] * 3)
    done = b_start + BLOCK_MS <= now_ms  # only blocks already recorded exist
    return {"device": device, "lat": lat, "lon": lon, "town": town, "hot": hot, "live_now": live_now,
            "b_dev": b_dev[done], "b_start": b_start[done], "b_events": n_events[done],
            "model": MODELS[rng.integers(0, len(MODELS), n_phones)]}


def top_up_live(es, prefix: str, n_hits: int, n_phones: int, seed: int) -> int:
    """For a reused index: the blocks and hits of the phones live right now (last 30 min), so the
    'active now' numbers and the 10-minute map measure a non-empty window. Same phones as the
    original load (same seed); new documents."""
    now_ms = int(time.time() * 1000)
    net = plan_network(n_hits, n_phones, now_ms, np.random.default_rng(seed))
    keep = net["live_now"][net["b_dev"]] & (net["b_start"] >= now_ms - 30 * MINUTE_MS)
    for key in ("b_dev", "b_start", "b_events"):
        net[key] = net[key][keep]
    rng = np.random.default_rng(now_ms)
    xb_lines, xb_ids, cells, clat, clon = exposure_lines(prefix, net, rng)
    lines, *_ = hit_lines(prefix, net, xb_ids, cells, clat, clon, rng)
    send(es, xb_lines + lines)
    es.indices.refresh(index=f"{prefix}-*")
    return len(xb_lines)


def _hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    a, b = rng.integers(0, 2**63, n), rng.integers(0, 2**63, n)
    return np.array([f"{x:016x}{y:016x}" for x, y in zip(a.tolist(), b.tolist())], dtype=object)


def exposure_lines(prefix: str, net: dict, rng: np.random.Generator):
    """NDJSON create lines for every exposure block, and the blocks' ids."""
    n = len(net["b_dev"])
    xb_ids = _hex_ids(rng, n)
    d = net["b_dev"]
    lat = net["lat"][d] + rng.normal(0, 2e-4, n)
    lon = net["lon"][d] + rng.normal(0, 2e-4, n)
    cells, clat, clon = public_cells(lat, lon)
    lines = []
    for i in range(n):
        s = int(net["b_start"][i])
        idx = f"{prefix}-exposures-{month_suffix(s)}"
        dev = net["device"][d[i]]
        lines.append(f'{{"create":{{"_index":"{idx}","_id":"{xb_ids[i]}"}}}}\n'
                     f'{{"xb_id":"{xb_ids[i]}","device":"{dev}","run":"r{d[i]}","xbn":{i},"state":"DATA",'
                     f'"start_ms":{s},"end_ms":{s + BLOCK_MS},"duration_s":180.0,"live_s":179.0,'
                     f'"location":{{"lat":{lat[i]:.6f},"lon":{lon[i]:.6f}}},"gps_accuracy":12.0,'
                     f'"cell":"{cells[i]}","cell_location":{{"lat":{clat[i]},"lon":{clon[i]}}},'
                     f'"res_x":1920,"res_y":1080,"l1_threshold":30.0,"l2_threshold":28,'
                     f'"n_events":{int(net["b_events"][i])},"n_hits":{int(net["b_events"][i])},'
                     f'"aborted":false,"model":"{net["model"][d[i]]}","build":"v1.0.4"}}\n')
    return lines, xb_ids, cells, clat, clon


def hit_lines(prefix: str, net: dict, xb_ids, cells, clat, clon, rng: np.random.Generator,
              extra: dict | None = None, block: slice | None = None):
    """NDJSON lines for the hits of the blocks in `block` (one document per event)."""
    sel = np.arange(len(net["b_dev"]))[block or slice(None)]
    counts = net["b_events"][sel]
    b = np.repeat(sel, counts)
    t = net["b_start"][b] + rng.integers(0, BLOCK_MS, b.size)
    ids = _hex_ids(rng, b.size)
    d = net["b_dev"][b]
    lat = net["lat"][d] + rng.normal(0, 2e-4, b.size)
    lon = net["lon"][d] + rng.normal(0, 2e-4, b.size)
    n_pix = rng.integers(1, 7, b.size)
    max_val = rng.integers(20, 256, b.size)
    out = []
    for i in range(b.size):
        blk = int(b[i])
        ti = int(t[i])
        out.append(f'{{"create":{{"_index":"{prefix}-hits-{month_suffix(ti)}","_id":"{ids[i]}"}}}}\n'
                   f'{{"hit_id":"{ids[i]}","t_ms":{ti},"device":"{net["device"][d[i]]}","run":"r{d[i]}",'
                   f'"xbn":{blk},"xb_id":"{xb_ids[blk]}","n_pix":{int(n_pix[i])},"max_val":{int(max_val[i])},'
                   f'"avg":1.4,"std":1.3,"zero_bias":false,"is_hit":true,'
                   f'"location":{{"lat":{lat[i]:.6f},"lon":{lon[i]:.6f}}},"gps_accuracy":12.0,'
                   f'"cell":"{cells[blk]}","cell_location":{{"lat":{clat[blk]},"lon":{clon[blk]}}},'
                   f'"model":"{net["model"][d[i]]}","build":"v1.0.4"}}\n')
    return out, ids, t, d


def candidate_docs(net: dict, n: int, now_ms: int, rng: np.random.Generator) -> tuple[list[str], list[dict]]:
    """Candidates of 3-6 phones from one town firing within 30 ms; their hits are extra hit lines."""
    town_of = net["town"]
    towns = np.unique(town_of)
    lines, cands = [], []
    for c in range(n):
        members = np.flatnonzero(town_of == towns[rng.integers(0, len(towns))])
        if len(members) < 3:
            continue
        k = int(min(len(members), rng.integers(3, 7)))
        devs = rng.choice(members, k, replace=False)
        t0 = int(rng.integers(now_ms - 7 * DAY_MS, now_ms))
        hit_ids = _hex_ids(rng, k)
        times = t0 + np.sort(rng.integers(0, 30, k))
        for hid, dev, tt in zip(hit_ids, devs, times):
            cell, clat, clon = public_cells(np.array([net["lat"][dev]]), np.array([net["lon"][dev]]))
            lines.append(f'{{"create":{{"_index":"{{prefix}}-hits-{month_suffix(int(tt))}","_id":"{hid}"}}}}\n'
                         f'{{"hit_id":"{hid}","t_ms":{int(tt)},"device":"{net["device"][dev]}","run":"r{dev}",'
                         f'"n_pix":3,"max_val":200,"avg":1.4,"std":1.3,"zero_bias":false,"is_hit":true,'
                         f'"location":{{"lat":{net["lat"][dev]:.6f},"lon":{net["lon"][dev]:.6f}}},'
                         f'"cell":"{cell[0]}","cell_location":{{"lat":{clat[0]},"lon":{clon[0]}}}}}\n')
        lat = float(np.mean(net["lat"][devs]))
        lon = float(np.mean(net["lon"][devs]))
        cid = f"bench-{c}"
        found = Component(canonical_id=cid, hit_ids=tuple(hit_ids.tolist()), anchors=(hit_ids[0],),
                          devices=tuple(sorted(net["device"][devs].tolist())), n_devices=k, multiplicity=k,
                          t_start_ms=int(times[0]), t_end_ms=int(times[-1]), lat=lat, lon=lon,
                          n_triggered_anchors=k)
        life = Lifecycle.first(cid, now_ms)
        if rng.random() < 0.03:
            life = replace(life, status=RETRACTED, retraction="unsupported")
        scores = {"expected_background": float(rng.uniform(1e-5, 1e-2)), "p_value": float(10 ** rng.uniform(-9, -3)),
                  "false_alarm_per_year": float(10 ** rng.uniform(-3, 1))}
        cands.append(candidate_document(cid, found, life, PARAMS, scores, source=CONTINUOUS,
                                        job_id=CONTINUOUS_JOB_ID))
    return lines, cands


def send(es, lines: list[str], per_request: int = 8000, workers: int = 2) -> int:
    """Bulk-send NDJSON lines (each an action + source pair), `workers` requests in flight."""
    def one(chunk: list[str]) -> int:
        body = "".join(chunk)
        resp = es.options(request_timeout=300).bulk(operations=body)
        if resp.get("errors"):
            bad = [it for it in resp["items"] if it.get("create", {}).get("status", 201) not in (201, 409)]
            if bad:
                raise RuntimeError(f"bulk errors: {bad[:2]}")
        return len(chunk)

    done = 0
    with cf.ThreadPoolExecutor(workers) as pool:
        for n in pool.map(one, [lines[i:i + per_request] for i in range(0, len(lines), per_request)]):
            done += n
    return done


def index_network(es, prefix: str, n_hits: int, n_phones: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    now_ms = int(time.time() * 1000)
    ensure_templates(es, prefix)
    net = plan_network(n_hits, n_phones, now_ms, rng)
    t0 = time.time()
    xb_lines, xb_ids, cells, clat, clon = exposure_lines(prefix, net, rng)
    # pre-create the dated indices with refresh off for the load
    months = {month_suffix(now_ms - k * DAY_MS) for k in range(9)}
    for kind in ("hits", "exposures"):
        for m in months:
            name = f"{prefix}-{kind}-{m}"
            if not es.indices.exists(index=name):
                es.indices.create(index=name)
            es.indices.put_settings(index=name, settings={"refresh_interval": "-1",
                                                          "translog.durability": "async"})
    n_xb = send(es, xb_lines)
    print(f"exposure blocks: {n_xb:,} in {time.time() - t0:.0f} s", flush=True)
    n_blocks = len(net["b_dev"])
    step = max(1, n_blocks // 40)
    sent = 0
    t1 = time.time()
    pending = None
    with cf.ThreadPoolExecutor(1) as sender:
        for start in range(0, n_blocks, step):
            lines, *_ = hit_lines(prefix, net, xb_ids, cells, clat, clon, rng, block=slice(start, start + step))
            if pending is not None:
                sent += pending.result()
            pending = sender.submit(send, es, lines)
            rate = sent / max(time.time() - t1, 1e-9)
            print(f"  hits sent {sent:,} ({rate:,.0f}/s)", flush=True)
        sent += pending.result()
    hit_s = time.time() - t1
    print(f"hits: {sent:,} in {hit_s:.0f} s ({sent / hit_s:,.0f} docs/s)", flush=True)
    c_lines, cands = candidate_docs(net, 3000, now_ms, rng)
    send(es, [line.replace("{prefix}", prefix) for line in c_lines])
    cand_lines = [json.dumps({"create": {"_index": f"{prefix}-candidates",
                                         "_id": document_id(CONTINUOUS, c["candidate_id"])}}) + "\n"
                  + json.dumps(c) + "\n" for c in cands]
    send(es, cand_lines)
    for kind in ("hits", "exposures"):
        es.indices.put_settings(index=f"{prefix}-{kind}-*", settings={"refresh_interval": "1s",
                                                                      "translog.durability": "request"})
    es.indices.refresh(index=f"{prefix}-*")
    return {"now_ms": now_ms, "hits": sent + len(c_lines), "exposures": n_xb, "candidates": len(cands),
            "phones": n_phones, "index_s": time.time() - t0, "hit_docs_per_s": sent / hit_s,
            "devices": net["device"][:50].tolist(), "candidate_ids": [c["candidate_id"] for c in cands[:50]]}


def delete_indices(es, prefix: str) -> None:
    """Delete by name (the node refuses wildcard deletes)."""
    names = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all", ignore_unavailable=True))
    for i in range(0, len(names), 50):
        es.indices.delete(index=",".join(names[i:i + 50]), ignore_unavailable=True)


def count(es, index: str) -> int:
    return int(es.count(index=index, ignore_unavailable=True, allow_no_indices=True)["count"])


# --- timing ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(prefix: str, cache_s: float, db: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "CRAYFIS_ES_PREFIX": prefix, "CRAYFIS_DASH_CACHE_S": str(cache_s),
           "SECRET_KEY": "bench-dashboards-not-secret", "ALLOWED_HOSTS": "127.0.0.1",
           "CRAYFIS_PSEUDONYM_KEY": "bench-dashboards-not-secret",
           "CRAYFIS_DASH_RATE": "1000000/min",   # one client times every endpoint: no budget
           "DATABASE_URL": f"sqlite:///{db}", "CRAYFIS_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi", "-w", "1", "--threads", "2",
                             "-b", f"127.0.0.1:{port}", "--log-level", "warning"], cwd=ROOT, env=env)
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/api/dash/status")
            conn.getresponse().read()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def time_http(port: int, paths: list[str], n: int) -> tuple[np.ndarray, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out, status = [], 200
    for i in range(n):
        path = paths[i % len(paths)]
        t = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        out.append(time.perf_counter() - t)
        if resp.status != 200:
            status = resp.status
    return np.array(out) * 1000, status


def endpoints(info: dict) -> dict[str, list[str]]:
    return {
        "overview": ["/api/dash/overview"],
        "rates 24h": ["/api/dash/rates?span=24h"],
        "rates 7d": ["/api/dash/rates?span=7d"],
        "map 10m": ["/api/dash/map?window=10m"],
        "map 24h": ["/api/dash/map?window=24h"],
        "candidates": ["/api/dash/candidates?limit=20"],
        "candidate detail": [f"/api/dash/candidates/{c}" for c in info["candidate_ids"]],
        "device": [f"/api/dash/device/{d}" for d in info["devices"]],
        "leaderboard": ["/api/dash/leaderboard"],
        "status": ["/api/dash/status"],
    }


def pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q))


# --- baseline: the same numbers from the hits --------------------------------------------------

def naive_queries(prefix: str, now_ms: int) -> dict[str, dict]:
    hits = f"{prefix}-hits-*"
    rng = {"range": {"t_ms": {"gte": now_ms - DAY_MS, "lte": now_ms}}}
    return {
        "overview (active phones)": (hits, {
            "size": 0, "query": rng, "aggs": {"day": {"cardinality": {"field": "device"}},
                                              "now": {"filter": {"range": {"t_ms": {"gte": now_ms - 10 * MINUTE_MS}}},
                                                      "aggs": {"n": {"cardinality": {"field": "device"}}}}}}),
        "map 24h": (hits, {
            "size": 0, "query": rng, "aggs": {"t": {"geotile_grid": {"field": "cell_location", "precision": 12,
                                                                      "size": 10000},
                                                     "aggs": {"n": {"cardinality": {"field": "device"}}}}}}),
        "rates 24h": (hits, {
            "size": 0, "query": rng,
            "aggs": {"t": {"date_histogram": {"field": "t_ms", "fixed_interval": "60s", "min_doc_count": 0,
                                              "extended_bounds": {"min": now_ms - DAY_MS, "max": now_ms}}}}}),
        "rates 7d": (hits, {
            "size": 0, "query": {"range": {"t_ms": {"gte": now_ms - 7 * DAY_MS, "lte": now_ms}}},
            "aggs": {"t": {"date_histogram": {"field": "t_ms", "fixed_interval": "3600s", "min_doc_count": 0},
                           "aggs": {"n": {"cardinality": {"field": "device"}}}}}}),
        "leaderboard (hits per phone)": (hits, {
            "size": 0, "query": {"range": {"t_ms": {"gte": now_ms - 30 * DAY_MS}}},
            "aggs": {"d": {"terms": {"field": "device", "size": 10000}}}}),
    }


def time_direct(fn, n: int) -> np.ndarray:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return np.array(out) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hits", type=float, default=1e7)
    ap.add_argument("--phones", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=40, help="timed requests per endpoint and mode")
    ap.add_argument("--prefix", default="benchdash")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--reuse", action="store_true", help="keep an index already loaded by --keep")
    ap.add_argument("--keep", action="store_true", help="do not delete the indices at the end")
    args = ap.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-dashboards-not-secret")
    os.environ.setdefault("CRAYFIS_PSEUDONYM_KEY", "bench-dashboards-not-secret")
    # Django and the dashboards app need the settings module chosen just above: imported here.
    import django

    django.setup()
    from django.conf import settings

    from dashboards import queries

    es = make_client(settings.CRAYFIS_ES_URL, request_timeout=120)
    prefix = args.prefix
    info_path = ROOT / "var" / f"{prefix}-bench.json"
    if args.reuse and info_path.exists() and count(es, f"{prefix}-hits-*") > 0:
        info = json.loads(info_path.read_text())
        print(f"reusing {prefix}: {count(es, f'{prefix}-hits-*'):,} hits", flush=True)
        added = top_up_live(es, prefix, int(args.hits), args.phones, args.seed)
        print(f"topped up {added} live exposure blocks (and their hits) of phones live now", flush=True)
    else:
        delete_indices(es, prefix)
        info = index_network(es, prefix, int(args.hits), args.phones, args.seed)
        info_path.write_text(json.dumps(info))
    n_hits = count(es, f"{prefix}-hits-*")
    n_xb = count(es, f"{prefix}-exposures-*")
    print(f"indexed: {n_hits:,} hits, {n_xb:,} exposure blocks, {info['candidates']:,} candidates, "
          f"{info['phones']:,} phones", flush=True)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.sqlite3")
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                       env={**os.environ, "DATABASE_URL": f"sqlite:///{db}"})
        for mode, cache_s, n in (("no cache", 0.0, args.requests), ("5 s cache", 5.0, args.requests * 5)):
            proc, port = start_server(prefix, cache_s, db)
            try:
                for name, paths in endpoints(info).items():
                    time_http(port, paths, 2)  # warm the connection and the JVM paths
                    ms, status = time_http(port, paths, n)
                    rows.append((mode, name, len(ms), pct(ms, 50), pct(ms, 95), pct(ms, 99), status))
                    print(f"{mode:9s} {name:18s} p50 {pct(ms, 50):7.1f} ms  p95 {pct(ms, 95):7.1f} ms"
                          f"  (status {status})", flush=True)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)

    base = []
    now = int(time.time() * 1000)
    ours = {"overview (active phones)": lambda: queries.overview(es, prefix, int(time.time() * 1000)),
            "map 24h": lambda: queries.activity_map(es, prefix, int(time.time() * 1000), "24h", 12),
            "rates 24h": lambda: queries.rates(es, prefix, int(time.time() * 1000), "24h"),
            "rates 7d": lambda: queries.rates(es, prefix, int(time.time() * 1000), "7d"),
            "leaderboard (hits per phone)": lambda: queries.leaderboard_inputs(es, prefix,
                                                                                 int(time.time() * 1000), 30)}
    for name in naive_queries(prefix, now):
        def naive(name=name):
            index, body = naive_queries(prefix, int(time.time() * 1000))[name]
            es.search(index=index, request_cache=False, **body)
        a = time_direct(naive, max(5, args.requests // 4))
        b = time_direct(ours[name], max(5, args.requests // 4))
        base.append((name, pct(a, 50), pct(a, 95), pct(b, 50), pct(b, 95)))
        print(f"baseline {name:28s} from hits p95 {pct(a, 95):8.1f} ms | from exposures p95 {pct(b, 95):7.1f} ms",
              flush=True)

    print()
    print(f"{n_hits:,} hits, {n_xb:,} exposure blocks, {info['candidates']:,} candidates, {info['phones']:,} phones; "
          f"load {info.get('hit_docs_per_s', 0):,.0f} hit docs/s")
    print("| mode | endpoint | requests | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---:|---:|---:|---:|")
    for mode, name, n, p50, p95, p99, _ in rows:
        print(f"| {mode} | {name} | {n} | {p50:.1f} | {p95:.1f} | {p99:.1f} |")
    print()
    print("| numbers | naive: from hits p50 / p95 ms | dashboards: from exposure blocks p50 / p95 ms |")
    print("|---|---:|---:|")
    for name, a50, a95, b50, b95 in base:
        print(f"| {name} | {a50:.0f} / {a95:.0f} | {b50:.0f} / {b95:.0f} |")
    if not args.keep:
        delete_indices(es, prefix)
        for tmpl in es.options(ignore_status=404).indices.get_index_template(name=f"{prefix}-*").get(
                "index_templates", []):
            es.indices.delete_index_template(name=tmpl["name"])


if __name__ == "__main__":
    main()

"""Benchmark: POST /api/v1/uploads (JSON) beside POST /submit (protobuf), same server, same events.

The JSON section of the ingest benchmark, in its own file beside bench/ingest.py, with a set-up
like it: one gunicorn with gthread workers (`ingest.wsgi`, the threaded entry point: /submit
before Django's handler, /api/v1/uploads through it) on a fresh SQLite database in a temporary
directory, keep-alive connections from separate load processes, bounded by time.
Both endpoints carry the same synthetic v1.0.4 events (ingest.synthetic, 150 per upload): the
protobuf DataChunk as the phone sends it, and the same hits as a JSON upload (one block per
exposure block, each hit with t_ms, t_ns, location, amplitude and its L2 pixels [x, y, value];
the protobuf also carries the 5x5 raw squares around them, which the JSON format does not). Every JSON
request has a fresh upload_id (so every request is validated and durably stored, no idempotency
shortcut) and one of 64 registered devices' keys; every /submit request a fresh Device-id.
Each endpoint runs `--repeats` times, alternating; medians are reported, with p99 latency and
the server's CPU per upload. A second, in-process section measures the JSON validator and the
JSON decoder (the indexer's side) on one core, beside the protobuf decoder.

    .venv/bin/python bench/ingest_json.py [--seconds 8] [--repeats 3] [--connections 32]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

# The repository first on sys.path: this folder's ingest.py and indexer.py would shadow the
# packages of the same name.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _http import free_port, run_closed_loop, wait_ready  # noqa: E402

from crayfis.wire.decode import decode_submit  # noqa: E402
from crayfis.wire.jsonapi import decode_upload, validate_upload  # noqa: E402
from ingest.synthetic import make_chunk  # noqa: E402

PLACEHOLDER = b"00000000-0000-4000-8000-000000000000"


# --- payloads ---------------------------------------------------------------------------------

def json_upload(chunk_body: bytes) -> dict:
    """The hits of one DataChunk as a JSON upload (upload_id = PLACEHOLDER)."""

    chunk = decode_submit(chunk_body, {"Device-id": "bench", "Crayfis-version": "b v1.0.4"})
    blocks = []
    for xb in chunk.exposures:
        hits = []
        for ev in xb.events:
            if not ev.is_hit:
                continue
            values = {(x, y): v for x, y, v in ev.pixels or []}
            hit = {"t_ms": ev.t_ms, "t_ns": ev.t_nano, "amplitude": ev.max_val,
                   "pixels": [[x, y, values[(x, y)]] for x, y in ev.hits]}   # the L2 pixels
            if ev.lat is not None:
                hit["location"] = {"lat": ev.lat, "lon": ev.lon, "accuracy": ev.accuracy, "altitude": ev.altitude}
            hits.append(hit)
        block = {"start_ms": xb.start_ms, "end_ms": xb.end_ms, "run_id": xb.run_uuid, "xbn": xb.xbn,
                 "live_s": xb.live_s, "hits": hits}
        if xb.lat is not None:
            block["location"] = {"lat": xb.lat, "lon": xb.lon, "accuracy": xb.accuracy}
        blocks.append(block)
    return {"upload_id": PLACEHOLDER.decode(), "detector": {"kind": "phone", "model": "bench"}, "blocks": blocks}


def build_payloads(n: int) -> tuple[list[bytes], list[bytes], int, int]:
    """n protobuf bodies, the same events as JSON templates, events per body, hits per JSON body."""

    protos, jsons = [], []
    n_events = n_hits = 0
    for i in range(n):
        chunk = make_chunk(10_000 + i)
        protos.append(chunk.body)
        doc = json_upload(chunk.body)
        jsons.append(json.dumps(doc, separators=(",", ":")).encode())
        n_events = chunk.n_events
        n_hits = sum(len(b["hits"]) for b in doc["blocks"])
    return protos, jsons, n_events, n_hits


# --- load generator (separate processes; no Django here) --------------------------------------

def run_load(port, mode, bodies, keys, connections, seconds, processes, tag, server_pid=None) -> dict:
    """JSON uploads with a fresh upload_id, or the same hits to /submit with a new Device-id."""
    def requests_for(p, first):
        def request_for(c, i):
            template = bodies[(c * 7919 + i) % len(bodies)]
            if mode == "json":
                body = template.replace(PLACEHOLDER, str(uuid.uuid4()).encode(), 1)
                headers = {"Content-Type": "application/json",
                           "Authorization": f"Api-Key {keys[(first + c) % len(keys)]}"}
                path = "/api/v1/uploads"
            else:
                body, path = template, "/submit"
                headers = {"Content-Type": "application/octet-stream", "Device-id": f"{tag}-p{p}-{c}-{i}",
                           "Run-id": "7f3c2a10-51d4-4e8b-9a6f-2b1c0d9e8f70", "Camera-id": "0",
                           "Crayfis-version": "b v1.0.4", "Crayfis-version-code": "256"}
            headers["Content-Length"] = str(len(body))
            return path, body, headers
        return request_for
    return run_closed_loop(port, requests_for, connections, processes, seconds, server_pid)


# --- server -------------------------------------------------------------------------------------



_MAKE_KEYS = """
import json, django
django.setup()
from django.contrib.auth.models import User
from accounts.services import register_device
user = User.objects.create_user("bench")
print(json.dumps([register_device(user, f"bench {i}", "phone")[1] for i in range({n})]))
"""


# --- in-process codec figures --------------------------------------------------------------------

def codec_figures(protos: list[bytes], jsons: list[bytes], n_hits: int, rounds: int = 5) -> dict:
    """Events/s on one core: JSON validation (request path), JSON and protobuf decoding (indexer)."""

    bodies = [b.replace(PLACEHOLDER, str(uuid.uuid4()).encode(), 1) for b in jsons]
    headers = {"Device-id": "bench", "Crayfis-version": "b v1.0.4"}

    def best(fn, items) -> float:
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for item in items:
                fn(item)
            times.append(time.perf_counter() - t0)
        return min(times)

    n = len(bodies) * n_hits
    return {
        "json_validate_hits_per_s": n / best(validate_upload, bodies),
        "json_decode_hits_per_s": n / best(lambda b: decode_upload(b, "api-bench"), bodies),
        "protobuf_decode_events_per_s": len(protos) * 150 / best(
            lambda b: decode_submit(b, headers, with_pixels=False), protos),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8.0, help="load per measurement")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    ap.add_argument("--load-processes", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    ap.add_argument("--threads", type=int, default=16, help="threads per gunicorn worker")
    ap.add_argument("--bodies", type=int, default=64, help="distinct uploads to cycle through")
    ap.add_argument("--devices", type=int, default=64, help="registered JSON devices (keys)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    protos, jsons, n_events, n_hits = build_payloads(args.bodies)
    print(f"payloads: {len(protos)} uploads, {n_events} events each ({n_hits} hits), protobuf "
          f"{statistics.mean(map(len, protos)) / 1000:.1f} kB, JSON {statistics.mean(map(len, jsons)) / 1000:.1f} kB",
          flush=True)
    codecs = codec_figures(protos, jsons, n_hits)
    print("one core: " + ", ".join(f"{k} {v:,.0f}" for k, v in codecs.items()), flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="crayfis-bench-json-"))
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY="bench-only-secret",
               CRAYFIS_VAR_DIR=str(tmp), CRAYFIS_LOG_LEVEL="WARNING", ALLOWED_HOSTS="127.0.0.1,localhost",
               CRAYFIS_API_DEVICE_UPLOAD_RATE="1000000/min",
               # all the load comes from 127.0.0.1: the per-address rates are checked, never refuse
               CRAYFIS_API_UPLOAD_RATE_PER_IP="1000000/min", CRAYFIS_INGEST_RATE_PER_IP="1000000/hour")
    env.pop("DATABASE_URL", None)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    keys = json.loads(subprocess.run([py, "-c", _MAKE_KEYS.replace("{n}", str(args.devices))], cwd=ROOT, env=env,
                                     check=True, capture_output=True, text=True).stdout)
    port = free_port()
    gunicorn = subprocess.Popen(
        [py, "-m", "gunicorn", "ingest.wsgi:application", "-k", "gthread", "-w", str(args.workers), "--threads",
         str(args.threads), "-b", f"127.0.0.1:{port}", "--keep-alive", "30", "--backlog", "2048",
         "--log-level", "warning"], cwd=ROOT, env=env, start_new_session=True)
    results: dict[str, list[dict]] = {"submit": [], "json": []}
    try:
        wait_ready(port)
        for mode, bodies in (("submit", protos), ("json", jsons)):   # warm-up
            run_load(port, mode, bodies, keys, args.connections, 1.5, args.load_processes, f"warm{mode}")
        for r in range(args.repeats):
            for mode, bodies in (("submit", protos), ("json", jsons)):
                res = run_load(port, mode, bodies, keys, args.connections, args.seconds, args.load_processes,
                               f"{mode}{r}", server_pid=gunicorn.pid)
                res["events_per_s"] = res["uploads_per_s"] * (n_events if mode == "submit" else n_hits)
                results[mode].append(res)
                print(f"  {mode:6s} run {r}: {res['uploads_per_s']:7.0f} uploads/s {res['events_per_s']:9.0f} "
                      f"events/s  p50 {res['p50_ms']:6.1f} ms  p99 {res['p99_ms']:6.1f} ms  "
                      f"server CPU {res['server_cpu_ms_per_upload']:.2f} ms/upload  "
                      f"({res['ok']} ok, {res['errors']} not 202)", flush=True)
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        gunicorn.wait(30)

    db = sqlite3.connect(tmp / "db.sqlite3")
    stored = dict(db.execute("select payload_format, count(*) from ingest_upload group by payload_format").fetchall())
    db.close()
    shutil.rmtree(tmp, ignore_errors=True)
    summary = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
               "workers": args.workers, "threads": args.threads, "connections": args.connections,
               "seconds": args.seconds, "repeats": args.repeats, "events_per_upload": n_events,
               "hits_per_json_upload": n_hits, "protobuf_kb": statistics.mean(map(len, protos)) / 1000,
               "json_kb": statistics.mean(map(len, jsons)) / 1000, "rows_stored_incl_warmup": stored,
               "acked_202_measured": {m: sum(r["ok"] for r in rs) for m, rs in results.items()}, **codecs}
    for name, rs in results.items():
        summary[name] = {k: statistics.median(r[k] for r in rs)
                         for k in ("uploads_per_s", "events_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_upload")}
        summary[name]["errors"] = sum(r["errors"] for r in rs)
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

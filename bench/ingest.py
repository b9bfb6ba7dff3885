"""Benchmark: POST /submit under real HTTP load on 127.0.0.1, against the DRF baseline.

Starts gunicorn (ASGI workers, entry point ingest.asgi by default) on a fresh SQLite database in
a temporary directory, posts realistic ~48 kB DataChunks (150 events each, from ingest.synthetic)
from keep-alive connections, and reports uploads/s, events/s and p50/p99 latency. The load comes from `wrk`
(compiled, event loop: it leaves the 2 cores to the server; script bench/ingest_wrk.lua) when it
is installed (`make bench-install`), else from Python load processes (`--generator python`,
which on a 2-core machine takes CPU the server needs and so measures less).
Every request carries a new Device-id, so every one is a new durable row (no dedup shortcut);
the per-address rate is raised where it never refuses (all the load comes from 127.0.0.1), so
the rate checks run on every upload without turning the load away.
In the same run the same events go as JSON to /bench/baseline-submit (bench/drf_baseline), which
validates each event with a DRF serializer and commits one row per request, served the
conventional way: config.wsgi on gthread workers under bench.drf_baseline.settings, a second
gunicorn on the same database. Each endpoint is run `--repeats` times, alternating, and medians
are reported. Load is bounded by time; everything started here
is stopped here.

With --proxy, /submit is measured as production serves it, through the TLS proxy, on PostgreSQL
beside the same on SQLite in one run: for each engine nginx with deploy/nginx-crayfis.conf (TLS)
in front of gunicorn as deploy/systemd/crayfis-web.service starts it (bench/_web_stack.py), the
engines alternating; no DRF baseline. Needs wrk, nginx, openssl and PostgreSQL (Debian packages).

    .venv/bin/python bench/ingest.py [--seconds 8] [--repeats 3] [--connections 32] [--generator wrk|python]
        [--app ingest.asgi:application --worker-class asgi --workers 2] [--proxy [--pg-setting NAME=VALUE]]
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
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.json_format import MessageToDict

# The repository first on sys.path: this folder's ingest.py and indexer.py would shadow the
# packages of the same name.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _http import free_port, run_closed_loop, tree_cpu_s, wait_ready  # noqa: E402
from _web_stack import WebStack, start_stack  # noqa: E402

from crayfis.wire import crayfis_pb2 as pb  # noqa: E402
from ingest.synthetic import make_chunk  # noqa: E402
from ops.prodcheck.errors import SetupError  # noqa: E402

ENGINES = ("sqlite", "postgres")


@dataclass
class Endpoint:
    """One thing under load: where to POST what, and the server processes whose CPU it costs."""

    name: str
    url: str                 # scheme://host:port
    path: str
    bodies: list[bytes]
    bodies_dir: Path         # the same bodies as files, for wrk
    content_type: str
    pids: dict[str, int]     # what -> main pid (its direct children counted with it)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


# --- payloads ---------------------------------------------------------------------------------

def build_payloads(n: int) -> tuple[list[bytes], list[bytes], int]:
    """n distinct protobuf bodies, the same events as JSON, and the events per body."""


    protos, jsons, n_events = [], [], None
    for i in range(n):
        chunk = make_chunk(10_000 + i)
        protos.append(chunk.body)
        msg = pb.DataChunk.FromString(chunk.body)
        events = []
        for xb in msg.exposure_blocks:
            for ev in xb.events:
                d = MessageToDict(ev, preserving_proto_field_name=True)
                d["timestamp"] = int(d["timestamp"])
                for k in ("timestamp_nano", "exposure_time", "gps_fixtime"):
                    if k in d:
                        d[k] = int(d[k])
                d.pop("gps_fixtime", None)
                d.pop("zero_bias", None)
                events.append(d)
        jsons.append(json.dumps({"events": events}).encode())
        n_events = chunk.n_events
    return protos, jsons, n_events


# --- load generator (separate processes; no Django here) --------------------------------------

def run_load(port, path, bodies, content_type, connections, seconds, processes, tag, server_pid=None) -> dict:
    """Python load (``--generator python``): a new Device-id on every request."""
    def requests_for(p, first):
        def request_for(c, i):
            body = bodies[(c * 7919 + i) % len(bodies)]
            return path, body, {"Content-Type": content_type, "Content-Length": str(len(body)),
                                "Device-id": f"{tag}-p{p}-{c}-{i}",
                                "Run-id": "7f3c2a10-51d4-4e8b-9a6f-2b1c0d9e8f70", "Camera-id": "0",
                                "Crayfis-version": "b v1.0.4", "Crayfis-version-code": "256"}
        return request_for
    return run_closed_loop(port, requests_for, connections, processes, seconds, server_pid)


def servers_cpu_s(pids) -> float:
    return sum(tree_cpu_s(pid) for pid in pids)


def run_wrk(url, path, bodies_dir, n_bodies, content_type, connections, seconds, threads, tag,
            server_pids: dict[str, int] | None = None) -> dict:
    """The same measurement with wrk: closed loop, `connections` keep-alive connections (TLS ones
    for an https url). Server CPU per upload in all and, with several server processes, each's."""
    server_pids = server_pids or {}
    cpu0 = {name: tree_cpu_s(pid) for name, pid in server_pids.items()}
    cmd = [shutil.which("wrk"), "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
           "--timeout", "30s", "-s", str(ROOT / "bench" / "ingest_wrk.lua"), url,
           "--", str(bodies_dir), str(n_bodies), path, content_type, tag]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    cpu = {name: tree_cpu_s(pid) - cpu0[name] for name, pid in server_pids.items()}
    server_cpu = sum(cpu.values()) if cpu else float("nan")
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {out.stdout}\n{out.stderr}")
    w = json.loads(line.split(" ", 1)[1])
    ok = w["requests"] - w["non_2xx"]
    elapsed = w["duration_us"] / 1e6
    res = {"ok": ok, "errors": w["non_2xx"] + w["connect"] + w["read"] + w["write"] + w["timeout"],
           "seconds": elapsed, "uploads_per_s": ok / elapsed,
           "server_cpu_ms_per_upload": 1000 * server_cpu / max(ok, 1),
           "p50_ms": w["p50_us"] / 1000, "p99_ms": w["p99_us"] / 1000}
    if len(cpu) > 1:
        res["cpu_ms_per_upload_by_process"] = {name: round(1000 * s / max(ok, 1), 3) for name, s in cpu.items()}
    return res


# --- server -------------------------------------------------------------------------------------

def wait_idle(pids: list[int], quiet_cpu_s: float = 0.05, every_s: float = 0.5, limit_s: float = 60) -> float:
    """Wait until the servers stop burning CPU (requests the load generator gave up on are still
    being served after it exits: the baseline's take seconds each), so one measurement does not
    run into the next. Returns the seconds waited."""
    t0 = time.monotonic()
    last = servers_cpu_s(pids)
    while time.monotonic() - t0 < limit_s:
        time.sleep(every_s)
        now = servers_cpu_s(pids)
        if now - last < quiet_cpu_s:
            break
        last = now
    return time.monotonic() - t0


def start_gunicorn(app: str, worker_class: str, workers: int, threads: int, env: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", app, "-k", worker_class, "-w", str(workers),
           "-b", f"127.0.0.1:{port}", "--keep-alive", "30", "--backlog", "2048", "--log-level", "warning"]
    if worker_class == "gthread":
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    wait_ready(port)
    return proc, port


BASELINE_SERVER = ("config.wsgi:application", "gthread", 2, 16)  # app, worker class, workers, threads
BASELINE_SETTINGS = "bench.drf_baseline.settings"  # production's settings + /bench/baseline-submit


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8.0, help="load per measurement (whole seconds with wrk)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    ap.add_argument("--generator", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python",
                    help="load generator (default: wrk when installed)")
    ap.add_argument("--load-processes", type=int, default=None,
                    help="wrk threads (default 1) or Python load processes (default 2)")
    ap.add_argument("--app", default="ingest.asgi:application",
                    help="entry point serving /submit (ingest.wsgi:application with --worker-class gthread: "
                         "the threaded entry point)")
    ap.add_argument("--worker-class", default="asgi", help="gunicorn worker class for --app")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn worker processes for --app")
    ap.add_argument("--threads", type=int, default=16, help="threads per worker (gthread only)")
    ap.add_argument("--bodies", type=int, default=64, help="distinct DataChunks to cycle through")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--proxy", action="store_true",
                    help="/submit through nginx (TLS) on PostgreSQL and on SQLite, as production serves it "
                         "(gunicorn ingest.asgi from the web unit; --workers applies; no baseline; wrk only)")
    ap.add_argument("--pg-setting", action="append", default=[], metavar="NAME=VALUE",
                    help="--proxy: a PostgreSQL server setting on top of its defaults (repeatable), "
                         "e.g. default_toast_compression=lz4")
    args = ap.parse_args()
    if any("=" not in s for s in args.pg_setting):
        ap.error("--pg-setting takes NAME=VALUE")
    args.pg_settings = dict(s.split("=", 1) for s in args.pg_setting)
    if args.proxy and args.generator != "wrk":
        ap.error("--proxy needs wrk (make bench-install)")
    if args.load_processes is None:
        args.load_processes = 1 if args.generator == "wrk" else 2
    return args


def write_bodies(tmp: Path, named: dict[str, list[bytes]]) -> dict[str, Path]:
    """Each list of bodies as numbered files in its own folder (what bench/ingest_wrk.lua reads)."""
    dirs = {}
    for name, bodies in named.items():
        dirs[name] = tmp / f"bodies-{name}"
        dirs[name].mkdir()
        for i, body in enumerate(bodies):
            (dirs[name] / str(i)).write_bytes(body)
    return dirs


def server_env(tmp: Path, settings_module: str) -> dict:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE=settings_module, SECRET_KEY="bench-only-secret",
               CRAYFIS_PSEUDONYM_KEY="bench-only-pseudonym-key", CRAYFIS_VAR_DIR=str(tmp),
               CRAYFIS_LOG_LEVEL="WARNING", ALLOWED_HOSTS="127.0.0.1,localhost")
    env.pop("DATABASE_URL", None)
    # All the load comes from one address: the per-address rate is checked on every upload, as in
    # production, but set where it never refuses (the per-device rate keeps its default).
    env.setdefault("CRAYFIS_INGEST_RATE_PER_IP", "1000000/hour")
    return env


def start_servers(args, tmp: Path) -> dict[str, tuple[subprocess.Popen, int]]:
    """/submit on the entry point under test (production settings) and, unless skipped, the DRF
    baseline as a conventional Django deployment (bench settings), both on one fresh database."""
    env = server_env(tmp, "config.settings")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    servers = {"submit": start_gunicorn(args.app, args.worker_class, args.workers, args.threads, env)}
    if not args.skip_baseline:
        try:
            servers["baseline"] = start_gunicorn(*BASELINE_SERVER, server_env(tmp, BASELINE_SETTINGS))
        except BaseException:
            stop_servers(servers)
            raise
    return servers


def stop_servers(servers: dict[str, tuple[subprocess.Popen, int]]) -> None:
    for proc, _ in servers.values():
        os.killpg(proc.pid, signal.SIGTERM)
    for proc, _ in servers.values():
        proc.wait(30)


def measure(args, endpoints: list[Endpoint], load, n_events: int) -> dict[str, list[dict]]:
    """A warm-up per endpoint, then `repeats` rounds, endpoints alternating, each after every
    server is idle. Only one endpoint is under load at a time."""
    results: dict[str, list[dict]] = {ep.name: [] for ep in endpoints}
    pids = [pid for ep in endpoints for pid in ep.pids.values()]
    for ep in endpoints:  # warm-up: connections, caches, first WAL pages
        load(ep, 2, f"warm{ep.name}", measure_cpu=False)
    for r in range(args.repeats):
        for ep in endpoints:
            wait_idle(pids)
            res = load(ep, args.seconds, f"{ep.name}{r}", measure_cpu=True)
            res["events_per_s"] = res["uploads_per_s"] * n_events
            res["load_avg_1m"] = os.getloadavg()[0]
            results[ep.name].append(res)
            split = res.get("cpu_ms_per_upload_by_process")
            split = f" ({', '.join(f'{k} {v:.2f}' for k, v in split.items())})" if split else ""
            print(f"  {ep.name:8s} run {r}: {res['uploads_per_s']:7.0f} uploads/s {res['events_per_s']:9.0f} "
                  f"events/s  p50 {res['p50_ms']:6.1f} ms  p99 {res['p99_ms']:6.1f} ms  "
                  f"server CPU {res['server_cpu_ms_per_upload']:.2f} ms/upload{split}  "
                  f"({res['ok']} ok, {res['errors']} not 202; load {res['load_avg_1m']:.1f})", flush=True)
    return results


def summarize(args, results: dict[str, list[dict]], n_events: int, body_kb: float,
              stored: dict[str, int], acked: dict[str, int]) -> dict:
    summary = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
               "app": "deploy/systemd/crayfis-web.service behind deploy/nginx-crayfis.conf" if args.proxy else args.app,
               "worker_class": args.worker_class, "workers": args.workers,
               "postgres_settings": args.pg_settings if args.proxy else None,
               "threads": args.threads if args.worker_class == "gthread" else None,
               "generator": args.generator, "load_threads_or_processes": args.load_processes,
               "connections": args.connections,
               "seconds": args.seconds, "repeats": args.repeats, "events_per_upload": n_events,
               "body_kb": body_kb, "rows_stored_incl_warmup": stored, "acked_202_incl_warmup": acked,
               "acked_202_measured": sum(r["ok"] for rs in results.values() for r in rs)}
    if "baseline" in results:
        summary["baseline_server"] = "{} -k {} -w {} --threads {}".format(*BASELINE_SERVER)
    for name, rs in results.items():
        if rs:
            summary[name] = {k: statistics.median(r[k] for r in rs)
                             for k in ("uploads_per_s", "events_per_s", "p50_ms", "p99_ms",
                                       "server_cpu_ms_per_upload")}
            summary[name]["errors"] = sum(r["errors"] for r in rs)
            summary[name]["runs_uploads_per_s"] = [round(r["uploads_per_s"]) for r in rs]
            summary[name]["runs_p99_ms"] = [round(r["p99_ms"], 1) for r in rs]
            summary[name]["runs_load_avg_1m"] = [round(r["load_avg_1m"], 1) for r in rs]
            if "cpu_ms_per_upload_by_process" in rs[0]:
                summary[name]["cpu_ms_per_upload_by_process"] = {
                    k: statistics.median(r["cpu_ms_per_upload_by_process"][k] for r in rs)
                    for k in rs[0]["cpu_ms_per_upload_by_process"]}
    if results.get("baseline"):
        summary["speedup"] = summary["submit"]["uploads_per_s"] / summary["baseline"]["uploads_per_s"]
    return summary


def direct_endpoints(args, tmp: Path, protos, jsons, body_dirs) -> tuple[list[Endpoint], dict]:
    """/submit (and the baseline) on gunicorn over plain HTTP, one SQLite database."""
    servers = start_servers(args, tmp)
    endpoints = [Endpoint("submit", f"http://127.0.0.1:{servers['submit'][1]}", "/submit", protos,
                          body_dirs["submit"], "application/octet-stream", {"gunicorn": servers["submit"][0].pid})]
    if "baseline" in servers:
        endpoints.append(Endpoint("baseline", f"http://127.0.0.1:{servers['baseline'][1]}", "/bench/baseline-submit",
                                  jsons, body_dirs["baseline"], "application/json",
                                  {"gunicorn": servers["baseline"][0].pid}))
    return endpoints, servers


def proxy_endpoints(args, tmp: Path, protos, body_dirs) -> tuple[list[Endpoint], dict[str, WebStack]]:
    """/submit through nginx (TLS) to gunicorn, one stack per engine, as production runs them."""
    stacks: dict[str, WebStack] = {}
    try:
        for engine in ENGINES:
            stacks[engine] = start_stack(engine, tmp / engine, args.workers, server_env(tmp, "config.settings"),
                                          args.pg_settings)
            print(f"{engine}: {stacks[engine].url}/submit -> gunicorn ingest.asgi ({args.workers} workers)",
                  flush=True)
    except BaseException:
        for stack in stacks.values():
            stack.stop()
        raise
    endpoints = [Endpoint(engine, stack.url, "/submit", protos, body_dirs["submit"], "application/octet-stream",
                          stack.pids()) for engine, stack in stacks.items()]
    return endpoints, stacks


def stored_rows(args, tmp: Path, running) -> dict[str, int]:
    if args.proxy:
        return {engine: stack.stored_uploads() for engine, stack in running.items()}
    db = sqlite3.connect(tmp / "db.sqlite3")
    try:
        return {"submit_and_baseline": db.execute("select count(*) from ingest_upload").fetchone()[0]}
    finally:
        db.close()


def stop_all(args, running) -> None:
    if args.proxy:
        for stack in running.values():
            stack.stop()
    else:
        stop_servers(running)


def main() -> None:
    args = parse_args()
    protos, jsons, n_events = build_payloads(args.bodies)
    print(f"payloads: {len(protos)} DataChunks, {n_events} events each, "
          f"protobuf {statistics.mean(map(len, protos)) / 1000:.1f} kB, "
          f"JSON {statistics.mean(map(len, jsons)) / 1000:.1f} kB")

    tmp = Path(tempfile.mkdtemp(prefix="crayfis-bench-ingest-"))
    tmp.chmod(0o755)   # --proxy: PostgreSQL and nginx's workers run as other accounts under root
    body_dirs = write_bodies(tmp, {"submit": protos, "baseline": jsons})
    acked: dict[str, int] = {}

    def load(ep: Endpoint, seconds, tag, measure_cpu):
        pids = ep.pids if measure_cpu else {}
        if args.generator == "wrk":
            res = run_wrk(ep.url, ep.path, ep.bodies_dir, len(ep.bodies), ep.content_type, args.connections,
                          seconds, args.load_processes, tag, pids)
        else:
            res = run_load(ep.port, ep.path, ep.bodies, ep.content_type, args.connections, seconds,
                           args.load_processes, tag, pids.get("gunicorn"))
        acked[ep.name] = acked.get(ep.name, 0) + res["ok"]
        return res

    try:
        if args.proxy:
            endpoints, running = proxy_endpoints(args, tmp, protos, body_dirs)
        else:
            endpoints, running = direct_endpoints(args, tmp, protos, jsons, body_dirs)
    except SetupError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        sys.exit(f"bench/ingest.py: error: {exc}")
    try:
        results = measure(args, endpoints, load, n_events)
        wait_idle([pid for ep in endpoints for pid in ep.pids.values()])
        stored = stored_rows(args, tmp, running)
    finally:
        stop_all(args, running)
    shutil.rmtree(tmp, ignore_errors=True)
    summary = summarize(args, results, n_events, statistics.mean(map(len, protos)) / 1000, stored, acked)
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

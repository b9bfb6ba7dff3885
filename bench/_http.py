"""HTTP pieces the benchmarks share: ports, waiting for a server, timed POSTs, server CPU, and
a closed-loop POST load generator in forked processes."""
from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, timeout: float = 60) -> None:
    """Until GET /healthz answers on 127.0.0.1:port (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not start")


def timed_post(conn: http.client.HTTPConnection, port: int, path: str, body: bytes,
               headers: dict) -> tuple[int, float, http.client.HTTPConnection]:
    """One keep-alive POST: (status, seconds, connection to use next); status 0 on a broken connection."""
    t0 = time.perf_counter()
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        status = resp.status
    except (OSError, http.client.HTTPException):
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        status = 0
    return status, time.perf_counter() - t0, conn


def tree_cpu_s(pid: int) -> float:
    """User+system CPU seconds of a process and its children (gunicorn master + workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                    text=True).stdout.split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _closed_loop_worker(port, request_for, connections, seconds, out_q):
    """One process: `connections` threads, each with one keep-alive connection, POSTing
    request_for(c, i) -> (path, body, headers) until the deadline; (counts, 202 latencies) -> out_q."""
    deadline = time.perf_counter() + seconds
    lat: list[float] = []
    counts = {"ok": 0, "other": 0}
    lock = threading.Lock()

    def conn_loop(c):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = 0
        my_lat, ok, other = [], 0, 0
        while time.perf_counter() < deadline:
            path, body, headers = request_for(c, i)
            status, seconds_taken, conn = timed_post(conn, port, path, body, headers)
            if status == 202:
                ok += 1
                my_lat.append(seconds_taken)
            else:
                other += 1
            i += 1
        conn.close()
        with lock:
            lat.extend(my_lat)
            counts["ok"] += ok
            counts["other"] += other

    threads = [threading.Thread(target=conn_loop, args=(c,)) for c in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out_q.put((counts, lat))


def run_closed_loop(port, requests_for, connections, processes, seconds, server_pid=None) -> dict:
    """Closed-loop POST load from forked processes (no Django in them), 202s counted.

    ``requests_for(p, first)`` gives process p, whose connections are numbered from ``first``,
    its request_for(c, i) (see _closed_loop_worker); fork passes it without pickling.
    """
    ctx = mp.get_context("fork")
    cpu0 = tree_cpu_s(server_pid) if server_pid else 0.0
    q = ctx.Queue()
    per = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    procs = [ctx.Process(target=_closed_loop_worker,
                         args=(port, requests_for(p, sum(per[:p])), n, seconds, q))
             for p, n in enumerate(per)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [q.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(30)
    elapsed = time.perf_counter() - t0
    server_cpu = tree_cpu_s(server_pid) - cpu0 if server_pid else float("nan")
    lat = sorted(x for _, ls in results for x in ls)
    ok = sum(c["ok"] for c, _ in results)
    other = sum(c["other"] for c, _ in results)
    q99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
    return {"ok": ok, "errors": other, "seconds": elapsed, "uploads_per_s": ok / elapsed,
            "server_cpu_ms_per_upload": 1000 * server_cpu / max(ok, 1),
            "p50_ms": 1000 * statistics.median(lat) if lat else float("nan"), "p99_ms": 1000 * q99}

"""Continuous search latency: a live simulated network -> /submit -> indexer -> search -> ES.

    .venv/bin/python bench/continuous.py --phones 2000 --minutes 10 --every 60s

Starts, on a fresh SQLite database in a temporary directory and a fresh index prefix on the
running Elasticsearch node: gunicorn (the real /submit), `manage.py index_uploads` and
`manage.py search_continuously --every ...`. In this process, ``crayfis.sim.realtime`` runs a
network of phones on the wall clock (noise at the app's trigger rate plus a forced shower every
--shower-every-s) and the app-like ``Poster`` uploads its cache files; a monitor polls the
candidates index every --poll-s and records when each hit is first seen in an active candidate.

Afterwards every upload is decoded again (the indexer's own ``prepare``) to know which upload
brought each hit. For every final candidate the "completing upload" is the earliest upload
after which the candidate's hits received so far already make a triggered window (the kernel,
run on those hits); its latency = first time the monitor saw any hit of that upload in an active
candidate - the time the server stored that upload. Reported for candidates matched to an
injected shower, and for all candidates.

Baseline in the same run: the indexer's part of that latency (upload stored -> hits indexed),
the floor any search period adds to.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from _http import free_port, wait_ready

from crayfis.coincidence.distance import haversine_m
from crayfis.coincidence.kernel import find_coincidences
from crayfis.definition import DAY_MS, SearchParams
from crayfis.es.candidates import selection
from crayfis.es.client import make_client
from crayfis.sim.config import FleetConfig, ShowerConfig, SimConfig
from crayfis.sim.poster import Poster
from crayfis.sim.realtime import RealtimeNetwork, run_realtime
from search.es_hits import EsHitSource
from search.incremental import batch_member_sets

ROOT = Path(__file__).resolve().parent.parent
# The project's packages before this script's folder: bench/ingest.py is not the ingest app.
sys.path.insert(0, str(ROOT))


def pct(values, q) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


class Monitor(threading.Thread):
    """Polls active candidates changed recently; first time each hit is seen in one."""

    def __init__(self, es, index: str, poll_s: float):
        super().__init__(daemon=True)
        self.es, self.index, self.poll_s = es, index, poll_s
        self.first_seen: dict[str, int] = {}
        self.stop = threading.Event()
        self.polls = 0
        self.errors = 0

    def run(self):
        since = 0
        while not self.stop.is_set():
            try:
                resp = self.es.search(index=self.index, size=10_000, _source=["hit_ids", "updated_at"],
                                      query={"bool": {"filter": [
                                          selection(), {"range": {"updated_at": {"gte": since - 10_000}}}]}},
                                      ignore_unavailable=True)
                seen = int(time.time() * 1000)
                for h in resp["hits"]["hits"]:
                    for hid in h["_source"].get("hit_ids") or ():
                        self.first_seen.setdefault(hid, seen)
                    since = max(since, int(h["_source"].get("updated_at") or 0))
                self.polls += 1
            except Exception:  # index not there yet, ES busy: try again next poll
                self.errors += 1
            self.stop.wait(self.poll_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phones", type=int, default=2000)
    ap.add_argument("--area-km", type=float, default=1.0)
    ap.add_argument("--rate-per-min", type=float, default=20.0, help="noise triggers per phone per minute")
    ap.add_argument("--minutes", type=float, default=10.0, help="live simulation length")
    ap.add_argument("--every", default="60s", help="search period (the command's default is 60s)")
    ap.add_argument("--shower-every-s", type=float, default=20.0)
    ap.add_argument("--max-chunk-age-s", type=float, default=60.0, help="phones send files older than this")
    ap.add_argument("--window-ms", type=int, default=None)
    ap.add_argument("--radius-m", type=float, default=None)
    ap.add_argument("--min-devices", type=int, default=None)
    ap.add_argument("--xb-min-s", type=int, default=120, help="exposure block periods are drawn")
    ap.add_argument("--xb-max-s", type=int, default=240, help="uniformly per phone in [min, max] s")
    ap.add_argument("--poll-s", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--posters", type=int, default=8, help="poster threads")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and the indices")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="crayfis-bench-continuous-"))
    prefix = f"benchcs{int(time.time())}"
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY="bench-only-secret",
               CRAYFIS_VAR_DIR=str(tmp), CRAYFIS_ES_PREFIX=prefix, CRAYFIS_LOG_LEVEL="INFO",
               CRAYFIS_PSEUDONYM_KEY="bench-pseudonym-key", ALLOWED_HOSTS="127.0.0.1,localhost",
               CRAYFIS_INGEST_RATE_PER_IP="")   # every simulated phone posts from 127.0.0.1
    for name, value in (("CRAYFIS_SEARCH_WINDOW_MS", args.window_ms), ("CRAYFIS_SEARCH_RADIUS_M", args.radius_m),
                        ("CRAYFIS_SEARCH_MIN_DEVICES", args.min_devices)):
        if value is not None:
            env[name] = str(value)
    env.pop("DATABASE_URL", None)
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "CRAYFIS_VAR_DIR",
                                           "CRAYFIS_ES_PREFIX", "CRAYFIS_PSEUDONYM_KEY")})
    for name in ("CRAYFIS_SEARCH_WINDOW_MS", "CRAYFIS_SEARCH_RADIUS_M", "CRAYFIS_SEARCH_MIN_DEVICES"):
        if name in env:
            os.environ[name] = env[name]
    import django  # configured from the environment just set

    django.setup()
    from django.conf import settings

    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    logs = {name: open(tmp / f"{name}.log", "w") for name in ("web", "indexer", "search")}
    argv = {
        "web": [py, "-m", "gunicorn", "config.wsgi", "-k", "gthread", "-w", str(args.workers), "--threads", "8",
                "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        "indexer": [py, "manage.py", "index_uploads"],
        "search": [py, "manage.py", "search_continuously", "--every", args.every],
    }
    procs = {n: subprocess.Popen(a, cwd=ROOT, env=env, stdout=logs[n], stderr=subprocess.STDOUT,
                                 start_new_session=True) for n, a in argv.items()}
    es = make_client(settings.CRAYFIS_ES_URL, request_timeout=60)
    monitor = Monitor(es, f"{prefix}-candidates", args.poll_s)
    tau, radius, k = (settings.CRAYFIS_SEARCH_WINDOW_MS, settings.CRAYFIS_SEARCH_RADIUS_M,
                      settings.CRAYFIS_SEARCH_MIN_DEVICES)
    try:
        wait_ready(port, timeout=90)
        monitor.start()
        cfg = SimConfig(fleet=FleetConfig(n_phones=args.phones, area_km=args.area_km, duty_cycle="always",
                                          rate_per_min=args.rate_per_min),
                        showers=ShowerConfig())
        net = RealtimeNetwork(cfg, args.seed, shower_every_s=args.shower_every_s,
                              max_chunk_age_ms=int(args.max_chunk_age_s * 1000))
        # Phones that all start at once would close their 180 s exposure blocks, and upload, in
        # lock-step; real phones do not. Spread them the way the server can: set_xb_period.
        rng = np.random.default_rng(args.seed)
        for device_id in net.fleet.device_id.tolist():
            net.apply_reply(SimpleNamespace(device_id=device_id),
                            {"set_xb_period": int(rng.integers(args.xb_min_s, args.xb_max_s + 1))})
        print(f"simulating {args.phones} phones for {args.minutes} min, search every {args.every}, "
              f"tau={tau} ms R={radius} m k={k}; logs in {tmp}", flush=True)
        t_start = time.time()
        with Poster(f"http://127.0.0.1:{port}/submit", workers=args.posters, on_reply=net.apply_reply) as poster:
            run_realtime(net, poster.submit, max_seconds=args.minutes * 60)
        t_posted = time.time()
        stats = poster.stats
        print(f"posted {stats.posted} uploads ({stats.failed} failed) of {net.n_hits} hits in "
              f"{t_posted - t_start:.0f} s", flush=True)
        _wait_settled(es, prefix, t_posted, timeout_s=_seconds(args.every) * 3 + 300)
        time.sleep(2 * args.poll_s)
    finally:
        monitor.stop.set()
        for p in procs.values():
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs.values():
            p.wait(60)
        for f in logs.values():
            f.close()

    result = analyse(es, prefix, net, monitor, tmp, SearchParams(window_ms=tau, radius_m=radius, min_devices=k))
    result.update({"date": time.strftime("%Y-%m-%d"), "phones": args.phones, "area_km": args.area_km,
                   "rate_per_min": args.rate_per_min, "minutes": args.minutes, "every": args.every,
                   "shower_every_s": args.shower_every_s, "params": {"tau_ms": tau, "radius_m": radius, "k": k},
                   "uploads_posted": stats.posted, "uploads_failed": stats.failed, "hits_simulated": net.n_hits,
                   "load_avg_1m_end": os.getloadavg()[0], "cpus": os.cpu_count(), "monitor_polls": monitor.polls})
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*", expand_wildcards="all")
        for t in es.indices.get_index_template(name=f"{prefix}-*").get("index_templates", []):
            es.indices.delete_index_template(name=t["name"])


def _seconds(text: str) -> float:
    from search.management.commands.search_continuously import parse_duration  # needs django.setup()

    return parse_duration(text)



def _wait_settled(es, prefix: str, t_posted: float, timeout_s: float) -> None:
    """Until the indexer has drained and a search pass after that left nothing pending."""
    from indexer.worker import backlog  # needs django.setup() (main)

    deadline = time.time() + timeout_s
    drained = None
    while time.time() < deadline:
        if drained is None and backlog()["pending"] == 0:
            drained = time.time()
        if drained is not None:
            doc = es.options(ignore_status=404).get(index=f"{prefix}-status", id="search")
            src = doc.get("_source") or {}
            if (src.get("last_pass_ms") or 0) > drained * 1000 and not src.get("pending_buckets"):
                return
        time.sleep(2)
    print("warning: the search did not settle before the timeout", flush=True)


@dataclass
class UploadTimes:
    """Which upload brought each hit (the indexer's own decoding), when it was stored, and how
    long indexing it took (Unix ms)."""

    hit_upload: dict[str, int]
    received: dict[int, int]
    index_lag: dict[int, int]


def upload_times(es) -> UploadTimes:
    from django.db import connection  # these need django.setup() (main)

    from indexer.worker import Indexer, IndexerConfig
    from ingest.models import Upload

    indexer = Indexer(es, IndexerConfig.from_settings())
    rows = Upload.objects.filter(status="indexed").values(
        "id", "device_id", "body", "received_at", "run_id", "camera_id", "crayfis_version",
        "crayfis_version_code", "attempts", "payload_format", "indexed_at")
    out = UploadTimes({}, {}, {})
    for row in rows.iterator(chunk_size=500):
        rid = row["id"]
        out.received[rid] = int(row["received_at"].timestamp() * 1000)
        out.index_lag[rid] = int(row["indexed_at"].timestamp() * 1000) - out.received[rid]
        for a in indexer.prepare(row).actions:
            if "-hits-" in a["_index"]:
                out.hit_upload[a["_id"]] = rid
    connection.close()
    return out


def final_candidates(es, prefix: str) -> list[dict]:
    """The continuous search's active candidates at the end."""
    cands: list[dict] = []
    body = {"size": 5000, "query": selection(), "sort": [{"candidate_id": "asc"}],
            "_source": ["candidate_id", "hit_ids", "t_start_ms", "location", "n_devices", "revision"]}
    while True:
        hits = es.search(index=f"{prefix}-candidates", **body)["hits"]["hits"]
        cands += [h["_source"] for h in hits]
        if len(hits) < 5000:
            return cands
        body["search_after"] = hits[-1]["sort"]


def hit_info(es, prefix: str, hit_ids: list[str]) -> dict[str, tuple]:
    """hit_id -> (t_ms, lat, lon, device) of these hits."""
    info: dict[str, tuple] = {}
    for i in range(0, len(hit_ids), 5000):
        resp = es.search(index=f"{prefix}-hits-*", size=5000, query={"terms": {"hit_id": hit_ids[i:i + 5000]}},
                         _source=["hit_id", "t_ms", "device", "location"])
        for h in resp["hits"]["hits"]:
            s = h["_source"]
            info[s["hit_id"]] = (s["t_ms"], s["location"]["lat"], s["location"]["lon"], s["device"])
    return info


def completing_upload(ids: list[str], uploads: UploadTimes, info: dict[str, tuple], params: SearchParams):
    """When the earliest upload arrived after which these hits already make a triggered window
    (None: they never do)."""
    rec = np.array([uploads.received[uploads.hit_upload[h]] for h in ids])
    t = np.array([info[h][0] for h in ids], dtype=np.int64)
    lat = np.array([info[h][1] for h in ids])
    lon = np.array([info[h][2] for h in ids])
    _, dev = np.unique([info[h][3] for h in ids], return_inverse=True)
    for T in np.unique(rec):
        m = rec <= T
        if len(find_coincidences(t[m], lat[m], lon[m], dev[m].astype(np.int64), params.window_ms,
                                 params.radius_m, params.min_devices).triggered):
            return int(T), [h for h, r in zip(ids, rec) if r == T]
    return None, []


def latency_rows(cands, uploads: UploadTimes, info, monitor, showers, params: SearchParams) -> list[dict]:
    """Per candidate whose every hit is known: latency of its completing upload (first time the
    monitor saw one of its hits in an active candidate - when the server stored it)."""
    rows = []
    for c in cands:
        ids = [h for h in c["hit_ids"] if h in uploads.hit_upload and h in info]
        if len(ids) != len(c["hit_ids"]):
            continue
        complete, completing = completing_upload(ids, uploads, info, params)
        seen = [monitor.first_seen[h] for h in completing if h in monitor.first_seen]
        if complete is None or not seen:
            continue
        rows.append({"latency_ms": min(seen) - complete,
                     "index_lag_ms": uploads.index_lag[uploads.hit_upload[completing[0]]],
                     "shower": _match_shower(c, showers), "n_devices": c["n_devices"],
                     "revision": c["revision"]})
    return rows


def analyse(es, prefix, net, monitor, tmp, params: SearchParams) -> dict:
    uploads = upload_times(es)
    cands = final_candidates(es, prefix)
    info = hit_info(es, prefix, sorted({h for c in cands for h in c["hit_ids"]}))
    showers = [s for s in net.showers if s["t_ms"] < net.now_ms]
    rows = latency_rows(cands, uploads, info, monitor, showers, params)
    best: dict[int, dict] = {}  # per shower, the candidate with the most phones near it
    for r in rows:
        if r["shower"] is not None and r["n_devices"] > best.get(r["shower"], {"n_devices": 0})["n_devices"]:
            best[r["shower"]] = r
    return {
        "final_equals_batch": _equals_batch(es, prefix, cands, params),
        "candidates_final": len(cands), "candidates_measured": len(rows),
        "showers_injected": len(showers),
        "showers_found": len(best),
        "shower_n_devices": sorted(int(r["n_devices"]) for r in best.values()),
        "revisions_max": max((int(r["revision"]) for r in rows), default=0),
        "shower_candidates_measured": len(best),
        "latency_s_showers": _summary([r["latency_ms"] for r in best.values()]),
        "latency_s_all": _summary([r["latency_ms"] for r in rows]),
        "baseline_index_lag_s_showers": _summary([r["index_lag_ms"] for r in best.values()]),
        "baseline_index_lag_s_all": _summary([r["index_lag_ms"] for r in rows]),
        "index_lag_s_all_uploads": _summary(list(uploads.index_lag.values())),
        "passes": _passes(tmp / "search.log"),
    }


def _equals_batch(es, prefix, cands, params: SearchParams) -> bool:
    """The final active candidates against one batch search over every hit in the index."""
    now = int(time.time() * 1000)
    hits = EsHitSource(es, prefix, page_size=10_000).fetch([(now - DAY_MS, now + DAY_MS)])
    return batch_member_sets(hits, params) == {frozenset(c["hit_ids"]) for c in cands}


def _summary(ms) -> dict:
    if not ms:
        return {"n": 0}
    s = np.asarray(ms) / 1000.0
    return {"n": len(s), "p50": round(pct(s, 50), 2), "p95": round(pct(s, 95), 2),
            "max": round(float(s.max()), 2), "min": round(float(s.min()), 2)}


def _match_shower(c, showers) -> int | None:
    loc = c["location"] or {}
    if not loc:
        return None
    for s in showers:
        if abs(c["t_start_ms"] - s["t_ms"]) <= 1000 and \
                haversine_m(loc["lat"], loc["lon"], s["core_lat"], s["core_lon"]) <= 500:
            return int(s["shower_id"])
    return None


def _passes(log: Path) -> dict:
    """Pass durations and hits read, from the search log."""
    dur, hits, changes = [], [], []
    for line in log.read_text().splitlines():
        m = re.search(r"pass: (\d+) buckets.*?(\d+) hits read.*?changes (\{.*?\}), (\d+) ms", line)
        if m and int(m.group(1)) > 0:
            hits.append(int(m.group(2)))
            dur.append(int(m.group(4)))
            changes.append(sum(int(x) for x in re.findall(r": (\d+)", m.group(3))))
    return {"n": len(dur), "duration_s": _summary(dur), "hits_read_p50": pct(hits, 50),
            "hits_read_max": max(hits) if hits else None, "changes_p50": pct(changes, 50)}


if __name__ == "__main__":
    main()

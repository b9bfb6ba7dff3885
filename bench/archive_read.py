"""Benchmark: hit streams and exports read from the Parquet archive against the same read from
Elasticsearch, in one run (issue 18: the read API and export_hits use the archive).

Setup (untimed): `--uploads` synthetic v1.0.4 uploads (150 events each, ingest.synthetic, all in
the first hours of yesterday, UTC) stored as pending in a fresh SQLite database and indexed by
the indexer as in production: Elasticsearch under this run's own prefix, the archive staged in a
temporary directory; then one compaction pass seals the day and the hit indices are
force-merged to one segment.

Timed, holding /tmp/bench.lock (the script takes it after the setup):
  stream, archive   GET /api/v1/hits?format=ndjson over that day with a scientist's key,
                    CRAYFIS_API_ARCHIVE_READS on: the sealed day is read from the archive;
  stream, es        the same request with it off: read from Elasticsearch (one point in time,
                    batches of CRAYFIS_API_STREAM_BATCH);
                    both through Django's WSGI handler in this process (django.test.Client: no
                    HTTP server, which would cost both the same), the body consumed and hashed;
                    the two must be the same bytes;
  export, archive   spark_jobs.export_hits.export_archive of the day (pyarrow, no Spark);
  export, es://     spark_jobs.export_hits.export of the same range on local[2] (every document,
                    zero-bias samples too, in the hit mapping's columns).
After `--warmup` untimed rounds, `--repeats` rounds with the order of the targets rotating;
medians of hits/s, every run, the load average before each. Everything created is deleted.

    .venv/bin/python bench/archive_read.py [--uploads 6700] [--repeats 3] [--warmup 1] [--json out.json]
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

# The repository first on sys.path: this folder's ingest.py and indexer.py would shadow the
# packages of the same name.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._rounds import timed_rounds  # noqa: E402
from crayfis.definition import DAY_MS  # noqa: E402
from ingest.synthetic import yesterday_ms  # noqa: E402

LOCK = "/tmp/bench.lock"


def build(args, tmp: Path, prefix: str) -> dict:
    """Index and archive the uploads (untimed); the figures of the setup."""
    from bench.indexer import count_hits, setup_django, store_and_index

    setup_django(tmp)
    from django.conf import settings

    from indexer.archive import ArchiveCompactor, archive_from_settings
    from indexer.worker import make_indexer_client

    es = make_indexer_client()
    n_events, _, _ = store_and_index(es, prefix, args.uploads, f"and the archive {settings.CRAYFIS_ARCHIVE_DIR}")
    report = ArchiveCompactor(archive_from_settings(), "bench", seal_after_s=0).run_once()
    print(f"compaction: {report.as_dict()}", flush=True)
    es.options(request_timeout=3600).indices.forcemerge(index=f"{prefix}-hits-*", max_num_segments=1)
    return {"events": n_events, "documents": count_hits(es, prefix), "archived_days": report.sealed,
            "archived_rows": report.rows_written}


def scientist_key() -> str:
    from django.contrib.auth.models import Permission, User

    from accounts.services import new_scientist_key

    user = User.objects.create_user(f"bench-{uuid.uuid4().hex[:8]}", password=uuid.uuid4().hex)
    user.user_permissions.add(Permission.objects.get(codename="read_exact_hits"))
    return new_scientist_key(User.objects.get(pk=user.pk), "bench")


def run_stream(key: str, query: str, archive: bool) -> tuple[int, str, float]:
    """One ndjson stream: (lines, blake2b of the body, seconds)."""
    from django.conf import settings
    from django.core.cache import caches
    from django.test import Client

    settings.CRAYFIS_API_ARCHIVE_READS = archive
    caches["default"].clear()   # throttle counters: the rounds are not a client's rate
    digest, lines = hashlib.blake2b(digest_size=16), 0
    t0 = time.perf_counter()
    r = Client(HTTP_HOST="127.0.0.1").get(f"/api/v1/hits?{query}", HTTP_AUTHORIZATION=f"Api-Key {key}")
    if r.status_code != 200:
        raise RuntimeError(f"stream answered {r.status_code}: {r.content[:300]!r}")
    for chunk in r.streaming_content:
        digest.update(chunk)
        lines += chunk.count(b"\n")
    return lines, digest.hexdigest(), time.perf_counter() - t0


def run_export_archive(archive_dir: str, start: int, end: int, out: Path) -> tuple[int, str, float]:
    from spark_jobs.export_hits import export_archive

    t0 = time.perf_counter()
    result = export_archive(archive_dir, start, end, str(out), mode="overwrite")
    seconds = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    return result["hits"], "", seconds


def run_export_es(spark, url: str, pattern: str, start: int, end: int, out: Path) -> tuple[int, str, float]:
    from spark_jobs.export_hits import export

    t0 = time.perf_counter()
    result = export(spark, url, pattern, start, end, str(out), mode="overwrite")
    seconds = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    return result["hits"], "", seconds


def run_rounds(args, targets: dict) -> tuple[dict, dict, dict]:
    """Rates, load averages and what each target read (rows, body hash) over the timed rounds."""
    read: dict[str, tuple] = {}

    def measure(name):
        n, digest, seconds = targets[name]()
        if read.setdefault(name, (n, digest)) != (n, digest):
            raise AssertionError(f"{name} read {n} rows ({digest}), before {read[name]}")
        return n, seconds

    rates, loads = timed_rounds(list(targets), args.warmup, args.repeats, measure, width=16)
    return rates, loads, read


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uploads", type=int, default=6700, help="uploads of 150 events (6700: 1,005,000 hits)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds of every target first")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="crayfis-bench-archive-read-"))
    prefix = f"benchar{uuid.uuid4().hex[:6]}"
    os.environ["CRAYFIS_ES_PREFIX"] = prefix
    os.environ["CRAYFIS_ARCHIVE_DIR"] = str(tmp / "archive")
    os.environ["CRAYFIS_API_ARCHIVE_READS"] = "1"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1"
    spark = None
    try:
        setup = build(args, tmp, prefix)
        from django.conf import settings

        from spark_jobs.session import build_session

        url, pattern = settings.CRAYFIS_ES_URL, f"{prefix}-hits-*"
        start = yesterday_ms()
        end = start + DAY_MS
        query = f"from_ms={start}&to_ms={end}&format=ndjson"
        key = scientist_key()
        spark = build_session("bench-archive-read", "local[2]", {"spark.driver.memory": "4g",
                                                                 "spark.local.dir": str(tmp)})
        targets = {
            "stream, archive": lambda: run_stream(key, query, True),
            "stream, es": lambda: run_stream(key, query, False),
            "export, archive": lambda: run_export_archive(settings.CRAYFIS_ARCHIVE_DIR, start, end, tmp / "ea"),
            "export, es://": lambda: run_export_es(spark, url, pattern, start, end, tmp / "ee"),
        }
        with open(LOCK, "w") as lock:
            print(f"waiting for {LOCK}", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
            print(f"holding {LOCK}; load {os.getloadavg()[0]:.1f}", flush=True)
            rates, loads, read = run_rounds(args, targets)
        if read["stream, archive"] != read["stream, es"]:
            raise AssertionError(f"the streams differ: {read['stream, archive']} against {read['stream, es']}")
        median = {k: statistics.median(v) for k, v in rates.items()}
        print("\n| target | rows | hits/s, median | runs | load before runs |\n|---|---|---|---|---|")
        for k, v in median.items():
            print(f"| {k} | {read[k][0]:,} | {v:,.0f} | {' / '.join(f'{x:,.0f}' for x in rates[k])} "
                  f"| {' / '.join(f'{x:.1f}' for x in loads[k])} |")
        summary = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(), **setup,
                   "rows": {k: v[0] for k, v in read.items()}, "hits_per_s_median": median,
                   "hits_per_s_runs": rates, "load_before_runs": loads,
                   "stream_archive_over_es": median["stream, archive"] / median["stream, es"],
                   "export_archive_over_es": median["export, archive"] / median["export, es://"]}
        print(json.dumps(summary, indent=1), flush=True)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1))
    finally:
        if spark is not None:
            spark.stop()
        from bench.indexer import drop
        from indexer.worker import make_indexer_client

        drop(make_indexer_client(), prefix)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

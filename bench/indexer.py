"""Benchmark: the indexer (pending uploads -> Elasticsearch) against a raw bulk of the same documents.

In one run, on the embedded node (CRAYFIS_ES_URL): `--uploads` realistic DataChunks (150 events
each, ingest.synthetic) are stored as pending uploads in a fresh SQLite database, then
  indexer   Indexer.run(once=True): claim, decode, build documents, classify every hit's shape
            (indexer/morphology.py), bulk create (indexer.bulk), mark indexed, touched buckets,
            devices (the whole path, timed end to end);
  indexer_plain  the same with the classification off (CRAYFIS_INDEXER_MORPHOLOGY): what it costs;
  raw bulk  the same documents, built beforehand (not timed), sent with the same client and
            chunking through elasticsearch.helpers.streaming_bulk;
  ndjson    the same documents pre-serialized to NDJSON bodies (not timed) and POSTed with
            es.bulk: the node's ingest ceiling from this client.
Each target gets fresh indices (own prefix, same templates). After `--warmup` untimed rounds of
all three (a freshly started node runs its first ~30 s at a third to a half of its speed), runs repeat with the order of
the targets rotating per repeat; medians are reported as hits (events) per second, with the
indexer / raw bulk ratio of each repeat and the indexer with / without classification. Beside
them, the CPU time (this process's, so less sensitive to the neighbours' load) the indexer's
per-upload preparation (decode + documents, with and without the classification) takes per
event, the median of `--repeats` passes over all uploads. Everything created is deleted at the
end.

    .venv/bin/python bench/indexer.py [--uploads 200] [--repeats 3] [--warmup 2]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from elasticsearch.helpers import streaming_bulk

# The repository first on sys.path: this folder's ingest.py and indexer.py would shadow the
# packages of the same name.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._rounds import round_order  # noqa: E402
from crayfis.es.templates import ensure_templates  # noqa: E402
from ingest.synthetic import make_chunk  # noqa: E402

# Django is set up in setup_django(), once main() has made the temporary directory its settings
# read (CRAYFIS_VAR_DIR); modules that need configured settings or loaded apps (Django's, the
# indexer's, the models) are therefore imported inside the functions that run after it.


def setup_django(var_dir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    os.environ.setdefault("CRAYFIS_PSEUDONYM_KEY", "bench-only-pseudonym-key")
    os.environ["CRAYFIS_VAR_DIR"] = str(var_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("CRAYFIS_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def store_uploads(n: int) -> int:
    """n pending uploads of 150 events; returns the number of events."""
    from django.db import transaction
    from django.utils import timezone

    from ingest.store import UploadRow, insert_rows

    events, rows = 0, []
    for i in range(n):
        c = make_chunk(50_000 + i)
        events += c.n_events
        rows.append(UploadRow(device_id=c.headers["Device-id"], sha256=f"{i:064x}", body=c.body,
                              received_at=timezone.now(), run_id=c.headers["Run-id"],
                              camera_id=c.headers["Camera-id"], crayfis_version=c.headers["Crayfis-version"],
                              crayfis_version_code=c.headers["Crayfis-version-code"]))
    with transaction.atomic():
        insert_rows(rows)
    return events


def drop(es, prefix: str) -> None:
    names = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all", ignore_unavailable=True))
    for start in range(0, len(names), 50):
        es.indices.delete(index=",".join(names[start:start + 50]), ignore_unavailable=True)
    templates = es.options(ignore_status=404).indices.get_index_template(name=f"{prefix}-*")
    for t in templates.get("index_templates", []):
        es.indices.delete_index_template(name=t["name"])


def count_hits(es, prefix: str) -> int:
    es.indices.refresh(index=f"{prefix}-hits-*", ignore_unavailable=True)
    return es.count(index=f"{prefix}-hits-*", ignore_unavailable=True)["count"]


def run_indexer(es, prefix: str, batch: int, morphology: bool) -> tuple[float, int]:
    from indexer.worker import Indexer, IndexerConfig
    from ingest.models import Upload

    Upload.objects.update(status="pending", claim_owner=None, claim_until_ms=None, attempts=0)
    config = IndexerConfig.from_settings(prefix=prefix, batch=batch, morphology=morphology)
    indexer = Indexer(es, config, owner=f"bench-{prefix}")
    t0 = time.perf_counter()
    totals = indexer.run(once=True, log_every_s=3600)
    return time.perf_counter() - t0, totals.hits


def store_and_index(es, prefix: str, uploads: int, destination: str) -> tuple[int, float, int]:
    """Store ``uploads`` synthetic uploads as pending and index them under ``prefix`` (fresh
    templates) as production does, printing progress: (events, seconds indexing, hits)."""
    from django.conf import settings

    from crayfis.es.templates import ensure_templates

    t0 = time.perf_counter()
    n_events = store_uploads(uploads)
    print(f"{uploads} pending uploads, {n_events:,} events stored ({time.perf_counter() - t0:.0f} s); "
          f"indexing into {prefix}-* {destination}", flush=True)
    ensure_templates(es, prefix, replicas=0)
    seconds, hits = run_indexer(es, prefix, settings.CRAYFIS_INDEXER_BATCH, settings.CRAYFIS_INDEXER_MORPHOLOGY)
    print(f"indexer: {hits:,} hits in {seconds:.0f} s ({hits / seconds:,.0f} hits/s)", flush=True)
    return n_events, seconds, hits


def prebuilt_actions(prefix: str) -> list[dict]:
    from indexer.worker import Indexer, IndexerConfig
    from ingest.models import Upload

    helper = Indexer(None, IndexerConfig.from_settings(prefix=prefix))
    rows = Upload.objects.order_by("id").values("id", "device_id", "body", "received_at", "run_id", "camera_id",
                                                 "crayfis_version", "crayfis_version_code", "attempts",
                                                 "payload_format")
    return [a for row in rows for a in helper.prepare(row).actions]


def prepare_cpu_us(prefix: str, repeats: int) -> dict[str, float]:
    """CPU microseconds per event of Indexer.prepare over every stored upload, with and without
    the morphology classification (median of `repeats` passes each, alternating)."""
    from indexer.worker import Indexer, IndexerConfig
    from ingest.models import Upload

    rows = list(Upload.objects.order_by("id").values("id", "device_id", "body", "received_at", "run_id", "camera_id",
                                                      "crayfis_version", "crayfis_version_code", "attempts",
                                                      "payload_format"))
    helpers = {"with": Indexer(None, IndexerConfig.from_settings(prefix=prefix, morphology=True)),
               "without": Indexer(None, IndexerConfig.from_settings(prefix=prefix, morphology=False))}
    times: dict[str, list[float]] = {name: [] for name in helpers}
    events = 0
    for _ in range(repeats):
        for name, helper in helpers.items():
            t0, n = time.process_time(), 0
            for row in rows:
                n += len(helper.prepare(row).hit_times)
            times[name].append((time.process_time() - t0) / n * 1e6)
            events = n
    return {name: statistics.median(v) for name, v in times.items()} | {"events": events}


def run_raw_bulk(es, actions: list[dict], bulk_bytes: int) -> float:
    t0 = time.perf_counter()
    for _ok, item in streaming_bulk(es, actions, chunk_size=10_000, max_chunk_bytes=bulk_bytes,
                                   raise_on_error=False, yield_ok=False):
        raise RuntimeError(f"raw bulk item failed: {item}")
    return time.perf_counter() - t0


def ndjson_bodies(actions: list[dict], bulk_bytes: int) -> list[bytes]:
    bodies, parts, size = [], [], 0
    for a in actions:
        line = (json.dumps({"create": {"_index": a["_index"], "_id": a["_id"]}}) + "\n"
                + json.dumps(a["_source"], separators=(",", ":")) + "\n").encode()
        if parts and size + len(line) > bulk_bytes:
            bodies.append(b"".join(parts))
            parts, size = [], 0
        parts.append(line)
        size += len(line)
    if parts:
        bodies.append(b"".join(parts))
    return bodies


def run_ndjson(es, bodies: list[bytes]) -> float:
    t0 = time.perf_counter()
    for body in bodies:
        resp = es.bulk(operations=body)
        if resp["errors"]:
            raise RuntimeError("ndjson bulk had item errors")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uploads", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2, help="untimed rounds of every target first (0: none)")
    ap.add_argument("--batch", type=int, default=None, help="indexer claim size (CRAYFIS_INDEXER_BATCH)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="crayfis-bench-indexer-"))
    try:
        setup_django(tmp)
        from django.conf import settings

        from indexer.worker import make_indexer_client

        es = make_indexer_client()
        batch = args.batch or settings.CRAYFIS_INDEXER_BATCH
        bulk_bytes = settings.CRAYFIS_INDEXER_BULK_BYTES
        n_events = store_uploads(args.uploads)
        print(f"{args.uploads} pending uploads, {n_events} events; ES {settings.CRAYFIS_ES_URL}", flush=True)
        tag = uuid.uuid4().hex[:6]
        actions = prebuilt_actions(f"bench{tag}raw")
        cpu = prepare_cpu_us(f"bench{tag}cpu", args.repeats)
        print(f"prepare CPU per event: {cpu['with']:.2f} us with classification, {cpu['without']:.2f} us "
              f"without", flush=True)
        bodies = ndjson_bodies([dict(a, _index=a["_index"].replace(f"bench{tag}raw", f"bench{tag}nd"))
                                for a in actions], bulk_bytes)
        print(f"{len(actions)} documents per target", flush=True)
        # The baselines' inputs (hundreds of thousands of Python objects) stay alive through every
        # run; frozen, the collector does not re-scan them during each target's run, which would
        # slow whichever target runs beside them.
        gc.collect()
        gc.freeze()
        names = ("indexer", "indexer_plain", "raw_bulk", "ndjson")
        rates: dict[str, list[float]] = {name: [] for name in names}
        warmup: dict[str, list[float]] = {name: [] for name in names}
        # Warm-up rounds (untimed in the medians): a freshly started node indexes at a third to a
        # half of its speed for its first ~30 s (JIT), and whichever target ran first paid for it.
        # Then the order rotates per repeat, so no target always runs first or right after the same one.
        for r in range(-args.warmup, args.repeats):
            for name in round_order(names, r):
                prefix = {"indexer": f"bench{tag}ix{r % 100}", "indexer_plain": f"bench{tag}ip{r % 100}",
                          "raw_bulk": f"bench{tag}raw", "ndjson": f"bench{tag}nd"}[name]
                drop(es, prefix)
                ensure_templates(es, prefix, replicas=0)
                if name in ("indexer", "indexer_plain"):
                    dt, hits = run_indexer(es, prefix, batch, morphology=name == "indexer")
                    assert hits == n_events, (hits, n_events)
                elif name == "raw_bulk":
                    dt = run_raw_bulk(es, actions, bulk_bytes)
                else:
                    dt = run_ndjson(es, bodies)
                assert count_hits(es, prefix) == n_events
                (rates if r >= 0 else warmup)[name].append(n_events / dt)
                label = f"run {r}" if r >= 0 else "warm-up"
                print(f"  {name:9s} {label}: {n_events / dt:9.0f} events/s ({dt:.2f} s)", flush=True)
                drop(es, prefix)
        med = {k: statistics.median(v) for k, v in rates.items()}
        summary = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
                   "uploads": args.uploads, "events": n_events, "documents": len(actions), "batch": batch,
                   "repeats": args.repeats, "events_per_s_median": med,
                   "ratio_vs_raw_bulk": med["indexer"] / med["raw_bulk"],
                   "ratio_vs_ndjson": med["indexer"] / med["ndjson"],
                   "ratio_vs_raw_bulk_per_run": [i / r for i, r in zip(rates["indexer"], rates["raw_bulk"])],
                   "ratio_with_vs_without_morphology": med["indexer"] / med["indexer_plain"],
                   "prepare_cpu_us_per_event": cpu,
                   "ratio_with_vs_without_morphology_per_run": [
                       i / p for i, p in zip(rates["indexer"], rates["indexer_plain"])],
                   "warmup_events_per_s": warmup}
        print(json.dumps(summary, indent=1))
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

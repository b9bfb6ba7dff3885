"""Benchmarks of issue 18's storage work, each with its baseline in the same run.

  write   the indexer writing the Parquet archive against the same indexer without it: `--uploads`
          synthetic v1.0.4 uploads (ingest.synthetic, 150 events each) stored as pending in a fresh
          SQLite database, then Indexer.run(once=True) into fresh indices per round, with
          CRAYFIS_ARCHIVE_DIR set (staging each batch) or empty. Warm-up rounds first, then the
          order of the two targets alternates per round; medians of events/s and the ratio per
          round. The archive target's staged files are then compacted (one pass, timed, with the
          part spent on the sealed files' device statistics) and the sealed bytes per hit
          reported.
  bytes   bytes per hit document on disk, hit schema 1 (crayfis/es/legacy.py) against schema 2, on
          the same uploads: a simulated network (crayfis.sim, `--phones` for `--hours`) cut into
          v1.0.4 uploads and stored as pending; the indexer builds and indexes schema 2 (and
          stages the archive); the same uploads' schema-1 documents are bulk-indexed into indices
          made with the schema-1 mapping; optionally (`--stored-source`) schema 2's documents
          again with a stored _source, the figure a cluster without synthetic source would see.
          Each is flushed and force-merged to one segment; store size / documents, and
          Elasticsearch's per-field disk usage. The sealed archive's bytes per hit beside them.

    flock /tmp/bench.lock .venv/bin/python bench/archive.py write [--uploads 400] [--repeats 5]
    flock /tmp/bench.lock .venv/bin/python bench/archive.py bytes [--phones 800] [--hours 1]
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

from crayfis.es.legacy import HITS_V1, hit_actions_v1  # noqa: E402
from crayfis.es.templates import MAPPINGS, ensure_templates  # noqa: E402

# Django is set up by bench.indexer.setup_django, once main() has made the temporary directory its settings
# read (CRAYFIS_VAR_DIR); modules needing configured settings are imported after it.


def store(rows) -> int:
    from django.db import transaction

    from ingest.store import insert_rows

    rows = list(rows)
    for start in range(0, len(rows), 500):
        with transaction.atomic():
            insert_rows(rows[start:start + 500])
    return len(rows)


def upload_row(i: int, device_id: str, body: bytes, headers: dict):
    from django.utils import timezone

    from ingest.store import UploadRow

    return UploadRow(device_id=device_id, sha256=f"{i:064x}", body=body, received_at=timezone.now(),
                     run_id=headers.get("Run-id", ""), camera_id=headers.get("Camera-id", ""),
                     crayfis_version=headers.get("Crayfis-version", ""),
                     crayfis_version_code=headers.get("Crayfis-version-code", ""))


def drop(es, prefix: str) -> None:
    names = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all", ignore_unavailable=True))
    for start in range(0, len(names), 50):
        es.indices.delete(index=",".join(names[start:start + 50]), ignore_unavailable=True)
    templates = es.options(ignore_status=404).indices.get_index_template(name=f"{prefix}-*")
    for t in templates.get("index_templates", []):
        es.indices.delete_index_template(name=t["name"])


def run_indexer(es, prefix: str, archive_dir: str) -> tuple[float, int]:
    from indexer.worker import Indexer, IndexerConfig
    from ingest.models import Upload

    Upload.objects.update(status="pending", claim_owner=None, claim_until_ms=None, attempts=0)
    cfg = IndexerConfig.from_settings(prefix=prefix, archive_dir=archive_dir)
    indexer = Indexer(es, cfg, owner=f"bench-{prefix}")
    t0 = time.perf_counter()
    totals = indexer.run(once=True, log_every_s=3600)
    return time.perf_counter() - t0, totals.hits


def compact_all(archive_dir: str) -> tuple[float, dict]:
    """One compaction pass: its wall time and report, with ``statistics_s``, the part of that
    time spent computing and storing the sealed files' device statistics (the calls of
    ``table_partials`` and ``write_sidecar`` by compact.py and store.py, timed where they call
    them)."""
    from crayfis.archive import compact, store
    from indexer.archive import ArchiveCompactor, archive_from_settings

    spent = [0.0]

    def timed(fn):
        def call(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[0] += time.perf_counter() - t
        return call

    originals = {(m, name): getattr(m, name) for m in (compact, store)
                 for name in ("table_partials", "write_sidecar")}
    for (m, name), fn in originals.items():
        setattr(m, name, timed(fn))
    try:
        t0 = time.perf_counter()
        report = ArchiveCompactor(archive_from_settings(archive_dir), "bench", seal_after_s=0).run_once()
        wall = time.perf_counter() - t0
    finally:
        for (m, name), fn in originals.items():
            setattr(m, name, fn)
    return wall, {**report.as_dict(), "statistics_s": spent[0]}


def sealed_bytes(archive_dir: str) -> int:
    return sum(p.stat().st_size for p in Path(archive_dir).glob("day=*/*.parquet"))


# --- write ---------------------------------------------------------------------------------

def bench_write(args, es, tmp: Path) -> dict:
    from ingest.synthetic import make_chunk

    rows, events = [], 0
    for i in range(args.uploads):
        c = make_chunk(50_000 + i)
        events += c.n_events
        rows.append(upload_row(i, c.headers["Device-id"], c.body, c.headers))
    store(rows)
    del rows
    print(f"{args.uploads} pending uploads, {events} events", flush=True)
    gc.collect()
    tag = uuid.uuid4().hex[:6]
    names = ("with_archive", "without")
    rates = {n: [] for n in names}
    compaction = []
    for r in range(-args.warmup, args.repeats):
        order = names if r < 0 or r % 2 == 0 else names[::-1]
        for name in order:
            prefix = f"bench{tag}{'a' if name == 'with_archive' else 'n'}"
            archive_dir = str(tmp / f"archive-{r}") if name == "with_archive" else ""
            drop(es, prefix)
            ensure_templates(es, prefix, replicas=0)
            dt, hits = run_indexer(es, prefix, archive_dir)
            assert hits == events, (hits, events)
            label = f"run {r}" if r >= 0 else "warm-up"
            print(f"  {name:12s} {label}: {events / dt:9.0f} events/s ({dt:.2f} s)", flush=True)
            if r >= 0:
                rates[name].append(events / dt)
            if archive_dir:
                ct, report = compact_all(archive_dir)
                assert report["rows_written"] == events, report
                if r >= 0:
                    compaction.append({"s": round(ct, 3), "rows_per_s": round(events / ct),
                                       "device_statistics_s": round(report["statistics_s"], 3),
                                       "sealed_bytes_per_hit": round(sealed_bytes(archive_dir) / events, 1)})
                shutil.rmtree(archive_dir)
            drop(es, prefix)
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {"uploads": args.uploads, "events": events, "repeats": args.repeats,
            "events_per_s_median": med, "ratio_with_archive": med["with_archive"] / med["without"],
            "ratio_per_round": [a / b for a, b in zip(rates["with_archive"], rates["without"])],
            "events_per_s": rates, "compaction": compaction}


# --- bytes ---------------------------------------------------------------------------------

def _hit_indices(es, prefix: str) -> list[str]:
    return sorted(es.indices.get(index=f"{prefix}-hits-*", ignore_unavailable=True))


def measure(es, prefix: str) -> dict:
    """Flush, force-merge to one segment, then bytes per document and per field."""
    names = _hit_indices(es, prefix)
    es.indices.refresh(index=",".join(names))
    es.indices.flush(index=",".join(names))
    es.options(request_timeout=3600).indices.forcemerge(index=",".join(names), max_num_segments=1)
    es.indices.refresh(index=",".join(names))
    stats = es.indices.stats(index=",".join(names))["indices"]
    size = sum(s["primaries"]["store"]["size_in_bytes"] for s in stats.values())
    docs = sum(s["primaries"]["docs"]["count"] for s in stats.values())
    segments = sum(s["primaries"]["segments"]["count"] for s in stats.values())
    fields: dict[str, int] = {}
    usage = es.options(request_timeout=3600).indices.disk_usage(index=",".join(names), run_expensive_tasks=True)
    for name in names:
        for field, v in usage[name]["fields"].items():
            fields[field] = fields.get(field, 0) + v["total_in_bytes"]
    return {"documents": docs, "store_bytes": size, "bytes_per_doc": round(size / docs, 1),
            "segments": segments,
            "field_bytes_per_doc": {k: round(v / docs, 2) for k, v in sorted(fields.items(), key=lambda x: -x[1])
                                    if v / docs >= 0.05}}


def _override(es, prefix: str, mapping: dict, settings: dict | None = None) -> None:
    """Hit indices of `prefix` are made with `mapping` (priority above the project's template)."""
    es.indices.put_index_template(name=f"{prefix}-hitsalt", index_patterns=[f"{prefix}-hits-*"], priority=900,
                                  template={"settings": {"number_of_shards": 1, "number_of_replicas": 0,
                                                         **(settings or {})}, "mappings": mapping})


def _bulk(es, actions) -> int:
    n = 0
    for ok, item in streaming_bulk(es, actions, chunk_size=5000, max_chunk_bytes=8 * 1024 * 1024,
                                   raise_on_error=False):
        if not ok:
            raise RuntimeError(f"bulk item failed: {item}")
        n += 1
    return n


def bench_bytes(args, es, tmp: Path) -> dict:
    from django.conf import settings

    from crayfis.sim.config import FleetConfig, SimConfig
    from crayfis.sim.datachunks import iter_uploads
    from crayfis.sim.network import simulate_network
    from crayfis.wire.decode import decode_submit

    cfg = SimConfig(hours=args.hours, fleet=FleetConfig(n_phones=args.phones, area_km=args.area_km,
                                                        duty_cycle="always"))
    result = simulate_network(cfg, args.seed)
    uploads = list(iter_uploads(result, args.seed))
    n = store(upload_row(i, u.device_id, u.body, u.headers) for i, u in enumerate(uploads))
    print(f"{n} uploads of {result.hits.num_rows} simulated hits stored", flush=True)
    tag = uuid.uuid4().hex[:6]
    v1, v2, v2s = f"bench{tag}v1", f"bench{tag}v2", f"bench{tag}v2s"
    archive_dir = str(tmp / "archive")
    out: dict = {"phones": args.phones, "hours": args.hours, "uploads": n}
    try:
        ensure_templates(es, v2, replicas=0)
        t0 = time.perf_counter()
        dt, hits = run_indexer(es, v2, archive_dir)
        print(f"schema 2 + archive indexed by the indexer: {hits} events in {dt:.1f} s", flush=True)
        ensure_templates(es, v1, replicas=0)
        _override(es, v1, HITS_V1)
        key = settings.CRAYFIS_PSEUDONYM_KEY

        def v1_actions():
            for u in uploads:
                chunk = decode_submit(u.body, u.headers, with_pixels=False)
                yield from hit_actions_v1(chunk, prefix=v1, key=key, device_id=u.device_id, received_ms=0)

        t0 = time.perf_counter()
        print(f"schema 1: {_bulk(es, v1_actions())} documents in {time.perf_counter() - t0:.1f} s", flush=True)
        if args.stored_source:
            ensure_templates(es, v2s, replicas=0)
            _override(es, v2s, MAPPINGS["hits"], {"index.codec": "best_compression",
                                                   "index.sort.field": ["t_ms", "hit_id"],
                                                   "index.sort.order": ["asc", "asc"]})
            es.indices.refresh(index=f"{v2}-hits-*")

            def v2_again():
                from elasticsearch.helpers import scan
                for h in scan(es, index=f"{v2}-hits-*", size=5000):
                    yield {"_op_type": "create", "_index": h["_index"].replace(v2, v2s, 1), "_id": h["_id"],
                           "_source": h["_source"]}

            print(f"schema 2, stored _source: {_bulk(es, v2_again())} documents", flush=True)
        for name, prefix in (("schema_1", v1), ("schema_2", v2)) + ((("schema_2_stored_source", v2s),)
                                                                   if args.stored_source else ()):
            out[name] = measure(es, prefix)
            print(f"{name}: {out[name]['bytes_per_doc']} bytes per document", flush=True)
        ct, report = compact_all(archive_dir)
        out["archive"] = {"hits": report["rows_written"], "sealed_bytes": sealed_bytes(archive_dir),
                          "bytes_per_hit": round(sealed_bytes(archive_dir) / max(1, report["rows_written"]), 1),
                          "compaction_s": round(ct, 1)}
        out["ratio_schema_2_to_1"] = out["schema_2"]["bytes_per_doc"] / out["schema_1"]["bytes_per_doc"]
    finally:
        if not args.keep:
            for prefix in (v1, v2, v2s):
                drop(es, prefix)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("write", "bytes"))
    ap.add_argument("--uploads", type=int, default=400, help="write: synthetic uploads (150 events each)")
    ap.add_argument("--repeats", type=int, default=5, help="write: timed rounds")
    ap.add_argument("--warmup", type=int, default=2, help="write: untimed rounds first")
    ap.add_argument("--phones", type=int, default=800, help="bytes: simulated phones")
    ap.add_argument("--hours", type=float, default=1.0, help="bytes: simulated span")
    ap.add_argument("--area-km", type=float, default=30.0, help="bytes: side of the region")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--stored-source", action="store_true", help="bytes: also schema 2 with a stored _source")
    ap.add_argument("--keep", action="store_true", help="bytes: keep the indices")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="crayfis-bench-archive-"))
    try:
        from bench.indexer import setup_django

        setup_django(tmp)
        from django.conf import settings

        from indexer.worker import make_indexer_client

        es = make_indexer_client()
        es = es.options(request_timeout=600)
        load_before = os.getloadavg()
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        result = (bench_write if args.what == "write" else bench_bytes)(args, es, tmp)
        summary = {"what": args.what, "started": started, "cpus": os.cpu_count(),
                   "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
                   "es": settings.CRAYFIS_ES_URL, **result}
        print(json.dumps(summary, indent=1))
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The indexer writes the Parquet archive exactly once: replays, re-queues, two indexers, a stale
batch finished late, the archive failing between Elasticsearch and the mark; rebuild_archive
and compact_archive."""
from __future__ import annotations

import io
import json
import threading

import pytest
from django.core.management import CommandError, call_command

from crayfis.archive.device_sidecar import read_sidecar, sidecar_path
from crayfis.archive.reader import read_hits
from crayfis.archive.store import HitArchive
from indexer.archive import ArchiveCompactor, archive_from_settings
from indexer.models import ArchiveLease
from indexer.worker import Indexer, IndexerConfig, make_indexer_client
from ingest.models import Upload
from ingest.synthetic import make_chunk
from tests.indexer.conftest import indexers_at_once, staged_rows
from tests.ingest.conftest import post_submit

pytestmark = pytest.mark.django_db(transaction=True)


def _hit_docs(es, prefix: str) -> list[dict]:
    es.indices.refresh(index=f"{prefix}-hits-*", ignore_unavailable=True)
    resp = es.search(index=f"{prefix}-hits-*", size=10_000, query={"term": {"is_hit": True}},
                     ignore_unavailable=True)
    return [h["_source"] for h in resp["hits"]["hits"]]


def _post(client, seeds, n_events=20):
    chunks = [make_chunk(s, n_events=n_events) for s in seeds]
    for c in chunks:
        assert post_submit(client, c.body, c.headers).status_code == 202
    return chunks


def _compact() -> HitArchive:
    archive = archive_from_settings()
    report = ArchiveCompactor(archive, "test").run_once()
    assert report is not None
    return archive


def _assert_archive_is_the_index(es, prefix):
    """Sealed archive rows = the hit documents (is_hit) of the index, one each, same values."""
    table = read_hits(_compact())
    ids = table.column("hit_id").to_pylist()
    assert len(ids) == len(set(ids))
    docs = {d["hit_id"]: d for d in _hit_docs(es, prefix)}
    assert sorted(ids) == sorted(docs)
    for row in table.to_pylist():
        d = docs[row["hit_id"]]
        assert (row["device_id"], row["t_ms"], row["lat"], row["lon"]) == (
            d["device"], d["t_ms"], d["location"]["lat"], d["location"]["lon"])
    return table


def test_replays_and_requeues_stage_twice_and_archive_once(client, es, es_url, es_prefix, archive_dir):
    chunks = _post(client, range(6))
    for c in chunks[:2]:  # the phone resends: the raw store keeps one row
        assert post_submit(client, c.body, c.headers).status_code == 202
    assert Indexer(make_indexer_client(es_url), IndexerConfig.from_settings(batch=64)).run(once=True).indexed == 6
    # an operator re-queues everything (the admin's action): indexed again, in other batches, so
    # staged again under other keys
    Upload.objects.update(status="pending")
    assert Indexer(make_indexer_client(es_url), IndexerConfig.from_settings(batch=4)).run(once=True).indexed == 6
    assert staged_rows(archive_dir).num_rows == 2 * sum(c.n_events for c in chunks)
    table = _assert_archive_is_the_index(es, es_prefix)
    assert table.num_rows == sum(c.n_events for c in chunks)


def test_two_indexers_at_once_archive_each_hit_once(client, es, es_url, es_prefix, archive_dir):
    chunks = _post(client, range(10, 34))
    results = indexers_at_once(es_url)
    assert sum(r.indexed for r in results) == len(chunks) and all(r.indexed for r in results)
    assert _assert_archive_is_the_index(es, es_prefix).num_rows == sum(c.n_events for c in chunks)


def test_a_stale_batch_finished_late_adds_no_copy(client, es, es_url, es_prefix, archive_dir):
    (c,) = _post(client, [7], n_events=10)
    crashed = Indexer(make_indexer_client(es_url), IndexerConfig.from_settings(lease_s=0.05), owner="crashed")
    rows = crashed.claim()
    crashed.prepare(rows[0])
    threading.Event().wait(0.1)
    other = Indexer(make_indexer_client(es_url), IndexerConfig.from_settings(), owner="other")
    assert other.run(once=True).indexed == 1
    assert crashed.process(rows).indexed == 0  # 409s, staged again, not marked again
    # the same batch (same uploads) is staged under the same key: its file is replaced
    assert staged_rows(archive_dir).num_rows == c.n_events
    assert len(list(archive_dir.glob("_incoming/day=*/*.parquet"))) == 1
    assert _assert_archive_is_the_index(es, es_prefix).num_rows == c.n_events


def test_an_archive_outage_between_elasticsearch_and_the_mark_loses_nothing(client, es, es_url, es_prefix,
                                                                             archive_dir, monkeypatch):
    """The crash window: Elasticsearch has acknowledged, the archive write fails. The uploads stay
    unmarked, the batch is retried (409s), staged, and only then marked."""
    chunks = _post(client, range(40, 44))
    failures = []
    real_stage = HitArchive.stage

    def failing_once(self, hits, key):
        if not failures:
            failures.append(key)
            marked = Upload.objects.filter(status="indexed").count()
            failures.append(marked)
            raise OSError("disk full")
        return real_stage(self, hits, key)

    monkeypatch.setattr(HitArchive, "stage", failing_once)
    cfg = IndexerConfig.from_settings(batch=8, backoff_min_s=0.05)
    totals = Indexer(make_indexer_client(es_url), cfg).run(once=True)
    assert failures[1] == 0  # nothing was marked indexed while the archive was failing
    assert totals.es_outages >= 1 and totals.indexed == len(chunks)
    assert len(_hit_docs(es, es_prefix)) == sum(c.n_events for c in chunks)
    assert _assert_archive_is_the_index(es, es_prefix).num_rows == sum(c.n_events for c in chunks)


def test_rebuild_archive_from_the_raw_store_equals_what_the_indexer_wrote(client, es, es_url, es_prefix,
                                                                          archive_dir, settings, tmp_path):
    _post(client, range(60, 66))
    Indexer(make_indexer_client(es_url), IndexerConfig.from_settings(batch=4)).run(once=True)
    written = _assert_archive_is_the_index(es, es_prefix)

    out, err = io.StringIO(), io.StringIO()
    rebuilt_dir = tmp_path / "rebuilt"
    call_command("rebuild_archive", archive=str(rebuilt_dir), batch=4, stdout=out, stderr=err)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["uploads"] == 6 and summary["hits"] == written.num_rows
    assert summary["compaction"]["sealed"]
    assert "rebuild" in err.getvalue()  # the progress bar
    rebuilt = read_hits(archive_from_settings(str(rebuilt_dir)))
    assert rebuilt.equals(written)

    # into the live archive it repairs: nothing it holds is written twice
    call_command("rebuild_archive", stdout=io.StringIO(), stderr=io.StringIO())
    again = read_hits(archive_from_settings())
    assert again.equals(written)


def test_rebuild_and_compact_refuse_bad_arguments_in_one_line(settings):
    with pytest.raises(CommandError, match="--batch must be >= 1"):
        call_command("rebuild_archive", batch=0)
    settings.CRAYFIS_ARCHIVE_DIR = ""
    with pytest.raises(CommandError, match="no archive"):
        call_command("compact_archive")


def test_one_compactor_at_a_time(client, es, es_url, es_prefix, archive_dir):
    _post(client, [70])
    Indexer(make_indexer_client(es_url), IndexerConfig.from_settings()).run(once=True)
    archive = archive_from_settings()
    holder = ArchiveCompactor(archive, "holder")
    assert holder.acquire()
    out = io.StringIO()
    call_command("compact_archive", stdout=out)
    assert json.loads(out.getvalue())["busy"] is True
    assert archive.sealed_days() == []
    holder.release()
    out = io.StringIO()
    call_command("compact_archive", stdout=out)
    report = json.loads(out.getvalue())
    assert report["busy"] is False and report["sealed"] == archive.sealed_days() != []
    assert ArchiveLease.objects.get().owner == ""


def test_compact_archive_stores_missing_device_statistics(client, es, es_url, es_prefix, archive_dir):
    _post(client, [71, 72])
    Indexer(make_indexer_client(es_url), IndexerConfig.from_settings()).run(once=True)
    archive = _compact()
    files = [f for day in archive.sealed_days() for f in archive.day_files(day)]
    assert files and all(read_sidecar(archive.fs, f) is not None for f in files)
    for f in files:  # as an archive sealed before statistics were kept
        archive.fs.delete_file(sidecar_path(f))
    out = io.StringIO()
    call_command("compact_archive", device_statistics=True, stdout=out)
    assert json.loads(out.getvalue())["statistics_added"] == len(files)
    assert all(read_sidecar(archive.fs, f) is not None for f in files)
    out = io.StringIO()
    call_command("compact_archive", device_statistics=True, stdout=out)
    assert json.loads(out.getvalue())["statistics_added"] == 0

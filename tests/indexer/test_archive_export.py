"""export_hits from the archive writes the hits export_hits from es:// writes, each once.

The production path: /submit uploads, the indexer (Elasticsearch and the staged archive),
compaction (a sealed day), a late upload staged and not compacted yet. Then `export_hits
--input ARCHIVE` (pyarrow alone) and `export_hits --input es://...` (Spark) over the same range.
"""
from __future__ import annotations

import subprocess
import sys

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from crayfis.archive.reader import read_hits
from crayfis.archive.schema import SCHEMA
from crayfis.archive.store import day_name, day_start_ms
from crayfis.definition import DAY_MS
from indexer.archive import ArchiveCompactor, archive_from_settings
from indexer.worker import Indexer, IndexerConfig, make_indexer_client
from ingest.synthetic import make_chunk, yesterday_ms
from spark_jobs.export_hits import export, export_archive
from tests.ingest.conftest import post_submit

pytestmark = [pytest.mark.spark, pytest.mark.django_db(transaction=True)]


def _post(client, seeds, start_ms):
    for s in seeds:
        c = make_chunk(s, n_events=60, start_ms=start_ms)
        assert post_submit(client, c.body, c.headers).status_code == 202


def _index(es_url) -> None:
    assert Indexer(make_indexer_client(es_url), IndexerConfig.from_settings()).run(once=True).indexed


def _rows(path, columns) -> list[tuple]:
    table = ds.dataset(str(path), format="parquet", partitioning="hive").to_table()
    if "is_hit" in table.column_names:
        table = table.filter(ds.field("is_hit"))
    return sorted(zip(*(table.column(c).to_pylist() for c in columns), strict=True))


def _export_cli(*args) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter, which must not start Spark on the archive path."""
    code = ("import sys\nfrom pyspark import SparkContext\nfrom spark_jobs.export_hits import main\n"
            "rc = main(sys.argv[1:])\n"
            "assert SparkContext._active_spark_context is None, 'a SparkContext was started'\nsys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


def test_export_from_the_archive_equals_export_from_elasticsearch(spark, client, es, es_url, es_prefix,
                                                                   archive_dir, tmp_path):
    y = yesterday_ms()
    days = [day_name(y // DAY_MS - 1), day_name(y // DAY_MS)]
    _post(client, range(8), day_start_ms(days[0]) + 20 * 3_600_000)
    _post(client, range(8, 16), y)
    _index(es_url)
    assert ArchiveCompactor(archive_from_settings(), "test").run_once().sealed == days
    es.indices.refresh(index=f"{es_prefix}-hits-*")
    start, end = day_start_ms(days[0]) + 20 * 3_600_000 + 1_800_000, y + DAY_MS   # cut inside the first day

    archived = export_archive(str(archive_dir), start, end, str(tmp_path / "from-archive"))
    on_es = export(spark, es_url, f"{es_prefix}-hits-*", start, end, str(tmp_path / "from-es"))
    assert archived["hits"] == read_hits(archive_from_settings(), start, end).num_rows > 500
    assert archived["columns"] == [*SCHEMA.names, "day"]
    shared = [c for c in SCHEMA.names if c in on_es["columns"]]
    assert {"hit_id", "device_id", "t_ms", "lat", "lon", "t_nano", "n_pix", "max_val", "model"} <= set(shared)
    assert _rows(tmp_path / "from-archive", shared) == _rows(tmp_path / "from-es", shared)

    # the layout: day= directories, each day's rows in (t_ms, hit_id) order with the archive's metadata
    assert sorted(p.name for p in (tmp_path / "from-archive").glob("day=*")) == [f"day={d}" for d in days]
    assert (tmp_path / "from-archive" / "_SUCCESS").exists() and not (tmp_path / "from-archive" / "_temporary").exists()
    for d in days:
        [f] = (tmp_path / "from-archive" / f"day={d}").glob("*.parquet")
        table = pq.read_table(f)
        keys = list(zip(table.column("t_ms").to_pylist(), table.column("hit_id").to_pylist(), strict=True))
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        assert pq.read_schema(f).metadata[b"crayfis.licence"] == b"CC-BY-4.0"

    # a late upload of a sealed day, staged and not compacted: not in the archive's export until compacted
    _post(client, [99], y + 3_000_000)
    _index(es_url)
    r = _export_cli("--input", str(archive_dir), "--start", str(start), "--end", str(end),
                    "--output", str(tmp_path / "from-archive"))
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == (
        f"spark_jobs.export_hits: error: output exists: {tmp_path / 'from-archive'} (--mode overwrite replaces it)")
    assert "Traceback" not in r.stderr
    r = _export_cli("--input", str(archive_dir), "--start", str(start), "--end", str(end),
                    "--output", str(tmp_path / "from-archive"), "--mode", "overwrite")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{archived['hits']} hits in ") and "export" in r.stderr   # progress on stderr
    ArchiveCompactor(archive_from_settings(), "test").run_once()
    r = _export_cli("--input", str(archive_dir), "--start", str(start), "--end", str(end),
                    "--output", str(tmp_path / "from-archive"), "--mode", "overwrite")
    assert r.returncode == 0 and r.stdout.startswith(f"{archived['hits'] + 60} hits in ")


def test_export_from_a_missing_archive_is_one_line(tmp_path):
    r = _export_cli("--input", str(tmp_path / "nope"), "--start", "2026-01-01", "--end", "2026-01-02",
                    "--output", str(tmp_path / "out"))
    assert r.returncode == 1
    assert r.stderr.strip() == f"spark_jobs.export_hits: error: input not found: {tmp_path / 'nope'}"

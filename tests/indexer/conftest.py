"""The indexer's tests post through /submit as the app does (helpers shared with tests/ingest)."""
import threading

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from django.db import connection

from indexer.worker import Indexer, IndexerConfig, make_indexer_client
from tests.ingest.conftest import _fresh_policy_cache, samples  # noqa: F401  (fixtures)


@pytest.fixture
def archive_dir(tmp_path, settings):
    """The archive the indexer writes in this test (CRAYFIS_ARCHIVE_DIR). Days are sealed as soon
    as they end: the synthetic uploads fall on yesterday (ingest.synthetic), which the default
    delay would leave open until 06:00 UTC."""
    settings.CRAYFIS_ARCHIVE_DIR = str(tmp_path / "archive")
    settings.CRAYFIS_ARCHIVE_SEAL_AFTER_S = 0.0
    return tmp_path / "archive"


def staged_rows(archive_dir) -> pa.Table:
    """Every row staged under the archive (copies included), in (t_ms, hit_id) order."""
    files = sorted(str(p) for p in (archive_dir / "_incoming").glob("day=*/*.parquet"))
    if not files:
        return pa.table({"hit_id": pa.array([], pa.string())})
    table = ds.dataset(files, format="parquet").to_table()
    return table.sort_by([("t_ms", "ascending"), ("hit_id", "ascending")])


def indexers_at_once(es_url: str, n: int = 2, batch: int = 2) -> list:
    """Run `n` indexers concurrently (threads, each its own owner and database connection) until
    each finds nothing more to claim; their Totals."""
    results: list = []

    def work(name):
        try:
            results.append(Indexer(make_indexer_client(es_url), IndexerConfig.from_settings(batch=batch),
                                   owner=name).run(once=True))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"indexer-{i}",)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results

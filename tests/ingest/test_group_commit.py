"""The group-commit writer: concurrent requests share commits, every reply follows its commit."""
from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from ingest import store
from ingest.models import Upload
from tests.ingest.conftest import B_HEADERS, post_submit

pytestmark = pytest.mark.django_db(transaction=True)


def _post_many(n_threads: int, per_thread: int, statuses: list) -> None:
    def worker(t):
        client = Client()
        for i in range(per_thread):
            headers = dict(B_HEADERS, **{"Device-id": f"dev{t}"})
            statuses.append(post_submit(client, f"body {t} {i}".encode() * 50, headers).status_code)
        connection.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def test_concurrent_uploads_are_all_committed_in_shared_groups(settings):
    settings.CRAYFIS_INGEST_GROUP_COMMIT = True
    before = store.writer_stats()
    statuses: list = []
    _post_many(8, 25, statuses)
    assert statuses == [202] * 200
    assert Upload.objects.count() == 200
    after = store.writer_stats()
    assert after["rows"] - before["rows"] == 200
    assert after["groups"] - before["groups"] < 200  # some commits carried several rows


def test_duplicates_racing_in_one_group_store_one_row(settings):
    settings.CRAYFIS_INGEST_GROUP_COMMIT = True
    row = dict(device_id="d1", sha256="ab" * 32, body=b"x", received_at=timezone.now())
    futures = [store._get_writer().submit(store.UploadRow(**row)) for _ in range(10)]
    assert all(f.result(timeout=5) for f in futures)
    assert Upload.objects.filter(device_id="d1").count() == 1


def test_a_bad_row_fails_alone(settings):
    settings.CRAYFIS_INGEST_GROUP_COMMIT = True
    writer = store._get_writer()
    good = store.UploadRow(device_id="ok", sha256="cd" * 32, body=b"y", received_at=timezone.now())
    bad = store.UploadRow(device_id="bad", sha256="ef" * 32, body=b"z", received_at=None)  # NOT NULL
    group = [(good, store.Future()), (bad, store.Future())]
    writer._commit(group)
    assert group[0][1].result(timeout=1) is True
    with pytest.raises(store.StoreUnavailable):
        group[1][1].result(timeout=1)
    assert list(Upload.objects.values_list("device_id", flat=True)) == ["ok"]

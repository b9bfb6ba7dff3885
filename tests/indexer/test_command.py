"""manage.py index_uploads --once: drains the queue and prints a JSON summary."""
from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from ingest.models import Upload
from tests.indexer.test_indexer import submit_sample
from tests.ingest.conftest import post_submit

pytestmark = pytest.mark.django_db


def test_index_uploads_once(client, samples, es, es_url, es_prefix, capsys, settings):
    settings.CRAYFIS_ES_URL = es_url
    submit_sample(client, samples, "v1.0.4-data.bin")
    submit_sample(client, samples, "v0.7-2016-data.bin")
    post_submit(client, b"\x08")  # truncated varint: does not decode
    call_command("index_uploads", "--once", "--batch", "2", verbosity=0)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["indexed"], summary["quarantined"], summary["pending"]) == (2, 1, 0)
    assert summary["hits"] == 4 + 2
    assert set(Upload.objects.values_list("status", flat=True)) == {"indexed", "quarantined"}

"""On PostgreSQL the raw upload bodies are stored lz4-compressed (migration 0006): pglz made
compression most of the database's CPU per /submit. Bodies read back byte for byte."""
from __future__ import annotations

import pytest
from django.db import connection

from ingest.models import Upload
from ingest.synthetic import make_chunk
from tests.ingest.conftest import post_submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_upload_bodies_are_compressed_with_lz4(client):
    with connection.cursor() as cursor:
        cursor.execute("SELECT attcompression FROM pg_attribute WHERE attrelid = 'ingest_upload'::regclass"
                       " AND attname = 'body'")
        assert cursor.fetchone()[0] == "l"
    chunk = make_chunk(7)
    assert post_submit(client, chunk.body, chunk.headers).status_code == 202
    upload = Upload.objects.get()
    assert bytes(upload.body) == chunk.body
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_column_compression(body) FROM ingest_upload WHERE id = %s", [upload.id])
        assert cursor.fetchone()[0] == "lz4"

"""JSON uploads into ingest's raw store: the same table, writer and indexer as /submit.

A JSON body is stored like a protobuf one (decompressed bytes, sha256, one group-committed
row), marked with payload_format so the indexer picks the JSON decoder. The client's upload_id
is stored too; (device_id, client_upload_id) is unique, which makes a concurrent retry with a
different body fail its insert instead of storing a second upload under the same id.
"""
from __future__ import annotations

from django.utils import timezone

from crayfis.wire.jsonapi import FORMAT
from ingest.models import Upload
from ingest.store import UploadRow, commit_upload


def stored_sha256(device_id: str, upload_id: str) -> str | None:
    """sha256 of the body already stored under this device's upload_id, or None."""
    return (Upload.objects.filter(device_id=device_id, client_upload_id=upload_id)
            .values_list("sha256", flat=True).first())


def store(device_id: str, upload_id: str, sha256: str, body: bytes, remote_addr: str) -> None:
    """Commit durably (raises ingest.store.StoreUnavailable, e.g. on an upload_id clash)."""
    commit_upload(UploadRow(device_id=device_id, sha256=sha256, body=body, received_at=timezone.now(),
                            remote_addr=remote_addr[:64], payload_format=FORMAT,
                            client_upload_id=upload_id))

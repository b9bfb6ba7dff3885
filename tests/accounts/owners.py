"""Owners, their phones and what those phones post, through the product's own doors: accounts
with App-codes, /submit with the app's headers, the indexer, and the worker
(`manage.py notify_owners --once`)."""
from __future__ import annotations

import io
import json
import time

from django.core.management import call_command

from accounts import services
from accounts.models import PhoneClaim
from crayfis.definition import HOUR_MS
from crayfis.sim.datachunks import Upload
from crayfis.wire import crayfis_pb2 as pb
from tests.core.quality import phones as sim
from tests.security.actors import index_uploads, post_submit

PASSWORD = "Cosmic-Owner-2026!"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def owner(django_user_model, name: str, email: str = ""):
    """An account with a fresh App-code; (user, code)."""
    user = django_user_model.objects.create_user(name, email=email or f"{name}@example.org", password=PASSWORD)
    return user, services.issue_app_code(user).code


def recent_network(lead_ms: int = 0):
    """The simulated network of tests/core/quality/phones.py, its hour ending now (phone clock
    ahead by lead_ms); cached per minute so tests of one run share it."""
    minute = now_ms() // 60_000 * 60_000
    return sim.network(minute - HOUR_MS + lead_ms)


def post(client, upload: Upload, app_code: str | None) -> int:
    headers = {k: v for k, v in upload.headers.items() if k != "Content-type"}
    if app_code:
        headers["App-code"] = app_code
    return post_submit(client, upload.body, headers).status_code


def post_phone(client, phone: sim.Phone, app_code: str | None) -> None:
    for up in phone.uploads:
        assert post(client, up, app_code) == 202


def resend_reordered(client, upload: Upload, app_code: str) -> None:
    """The same records in other bytes (the exposure blocks in reverse order): a new row, no
    new record."""
    chunk = pb.DataChunk.FromString(upload.body)
    blocks = list(chunk.exposure_blocks)[::-1]
    del chunk.exposure_blocks[:]
    chunk.exposure_blocks.extend(blocks)
    headers = {k: v for k, v in upload.headers.items() if k != "Content-type"}
    headers["App-code"] = app_code
    assert post_submit(client, chunk.SerializeToString(), headers).status_code == 202


def post_garbage(client, device_id: str, app_code: str) -> None:
    """A body the decoder refuses (the indexer quarantines it)."""
    headers = {"Device-id": device_id, "Run-id": "7f3c2a10-51d4-4e8b-9a6f-2b1c0d9e8f70", "Camera-id": "0",
               "Crayfis-version": "b v1.0.4", "Crayfis-version-code": "256", "App-code": app_code}
    assert post_submit(client, b"\x0a\xff\xff\xff\x0fnot a datachunk", headers).status_code == 202


def claim_of(user, device_id: str) -> PhoneClaim:
    return PhoneClaim.objects.get(user=user, device_id=device_id)


def worker_round() -> dict:
    """manage.py notify_owners --once; its JSON counts."""
    out = io.StringIO()
    call_command("notify_owners", "--once", stdout=out, verbosity=0)
    return json.loads(out.getvalue().strip().splitlines()[-1])


__all__ = ["claim_of", "index_uploads", "owner", "post", "post_garbage", "post_phone", "recent_network",
           "resend_reordered", "worker_round"]

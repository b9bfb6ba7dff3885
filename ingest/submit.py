"""POST /submit, written once on plain inputs; each entry point only adapts its request to it.

The app times out after 5 s, so nothing here decodes the body: the checks look at headers and
size, the body is hashed and committed as one row (ingest.store), and the 202 carries a JSON
object. A body that does not parse is still stored and answered 202 {}; the indexer decodes it
later and keeps it as `quarantined` with its error (a 4xx would make the phone resend the same
bytes forever). docs/ingest.md lists every answer.

The inputs are a header lookup, `header(name) -> str` by CGI name (`HTTP_DEVICE_ID`; "" when the
header is absent), the body bytes and the socket's client address. The path has two stages,
because an entry point reads the body between them:

1. `head(method, header, declared_length, remote_addr)`: 405 unless POST, 400 without a usable
   Device-id (printable ASCII, no spaces or control characters), 413 when the declared length is
   above `CRAYFIS_INGEST_MAX_BODY_BYTES`, 429 with Retry-After when the client address or the
   Device-id is over its rate (ingest.rates); else the Device-id.
2. `check(device_id, header, body, remote_addr)`: 400 for an empty body, 413 when the body read is
   above the cap, the device policy (403 when blocked), the App-code (401 when enforced and the
   code is missing or unknown), then the row. It queries the database only when the policy
   caches need it (`needs_database` says when).

Then the row is committed (`commit`, or `commit_async` on an event loop) and the Accepted's reply
sent. `answer` runs the whole path for a caller that reads its body synchronously.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from ingest import policy
from ingest.addresses import client_address
from ingest.rates import Limiter
from ingest.replies import DevicePolicy, server_commands
from ingest.store import StoreUnavailable, UploadRow, commit_upload, commit_upload_async

logger = logging.getLogger(__name__)

Header = Callable[[str], str]

HEADERS = {  # UploadRow field -> request header by CGI name, with the column's length cap
    "run_id": ("HTTP_RUN_ID", 64),
    "camera_id": ("HTTP_CAMERA_ID", 16),
    "crayfis_version": ("HTTP_CRAYFIS_VERSION", 64),
    "crayfis_version_code": ("HTTP_CRAYFIS_VERSION_CODE", 16),
    "app_code": ("HTTP_APP_CODE", 128),
    "hash_code": ("HTTP_HASH_CODE", 128),
}
MAX_DEVICE_ID = 128
# What the app sends is ANDROID_ID, lowercase hex; any printable ASCII word is accepted (tests,
# simulators and other clients use names like "phone-7"), nothing that can break a log line, a
# terminal, a CSV export or a PostgreSQL text column (control characters, NUL, DEL, spaces).
DEVICE_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_DEVICE_ID}}}")
RATES = Limiter({"submit-address": "CRAYFIS_INGEST_RATE_PER_IP", "submit-device": "CRAYFIS_INGEST_RATE_PER_DEVICE"})
_APP_CODE_HEADER, _APP_CODE_CAP = HEADERS["app_code"]
_EMPTY = b"{}"
_UNAVAILABLE = "storage unavailable, retry later"


class Reply(NamedTuple):
    """What to send: the status, the JSON body (Content-Type application/json) and, for a 429,
    the seconds to wait (the Retry-After header)."""

    status: int
    body: bytes
    retry_after: int = 0


def reject(status: int, message: str) -> Reply:
    return Reply(status, json.dumps({"error": message}).encode())


def json_bytes(obj: dict) -> bytes:
    """Compact JSON of obj ({} as its two bytes)."""
    return json.dumps(obj, separators=(",", ":")).encode() if obj else _EMPTY


def declared_length(value: str | bytes | None) -> int:
    """The Content-Length header as an int (0 when absent or not a number)."""
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


def max_body_bytes() -> int:
    return settings.CRAYFIS_INGEST_MAX_BODY_BYTES


def _too_large(cap: int) -> Reply:
    return reject(413, f"body larger than {cap} bytes")


def device_id_error(device_id: str) -> str | None:
    """What is wrong with a Device-id (already stripped), or None when it is usable."""
    if not device_id:
        return "missing Device-id header"
    if len(device_id) > MAX_DEVICE_ID:
        return f"Device-id longer than {MAX_DEVICE_ID} characters"
    if not DEVICE_ID.fullmatch(device_id):
        return "Device-id must be printable ASCII without spaces or control characters"
    return None


def head(method: str, header: Header, declared: int, remote_addr: str) -> str | Reply:
    """Stage 1, before the body is read: the Device-id, or the reply that refuses the request."""
    if method != "POST":
        return reject(405, "POST only")
    device_id = header("HTTP_DEVICE_ID").strip()
    error = device_id_error(device_id)
    if error:
        return reject(400, error)
    cap = max_body_bytes()
    if declared > cap:
        return _too_large(cap)
    address = client_address(remote_addr, header("HTTP_X_FORWARDED_FOR"))
    wait = RATES.admit([("submit-address", address), ("submit-device", device_id)])
    if wait:
        return Reply(429, json.dumps({"error": "too many uploads, retry later"}).encode(), math.ceil(wait))
    return device_id


def needs_database(header: Header) -> bool:
    """True when `check` would query the database now (the policy caches need a reload).

    An event loop runs `check` in a thread then, since Django's ORM may not run on the loop.
    """
    return not policy.answers_from_cache(header(_APP_CODE_HEADER).strip()[:_APP_CODE_CAP])


@dataclass(slots=True)
class Accepted:
    """An upload that passed every check: the row to commit and what the 202 will say."""

    row: UploadRow
    device: DevicePolicy
    crayfis_version: str

    def reply(self) -> Reply:
        return Reply(202, json_bytes(server_commands(self.device, self.crayfis_version)))


def check(device_id: str, header: Header, body: bytes, remote_addr: str) -> Accepted | Reply:
    """Stage 2, on the body read (at most the cap + 1 bytes): the row to commit, or the refusal."""
    if not body:
        return reject(400, "empty body")
    cap = max_body_bytes()
    if len(body) > cap:
        return _too_large(cap)
    fields = {name: header(key).strip()[:limit] for name, (key, limit) in HEADERS.items()}
    try:
        device = policy.device_policy(device_id)
        code_known = not fields["app_code"] or policy.app_code_known(fields["app_code"])
    except DatabaseError as exc:
        logger.error("device policy unavailable: %s", exc)
        return reject(503, _UNAVAILABLE)
    if device.blocked:
        return reject(403, "device blocked")
    if not fields["app_code"] and settings.CRAYFIS_INGEST_ENFORCE_APP_CODES:
        return reject(401, "missing App-code")
    unlinked = False
    if not code_known:
        if settings.CRAYFIS_INGEST_ENFORCE_APP_CODES:
            return reject(401, "unknown App-code")
        unlinked = True
    address = client_address(remote_addr, header("HTTP_X_FORWARDED_FOR"))
    row = UploadRow(device_id=device_id, sha256=hashlib.sha256(body).hexdigest(), body=body,
                    received_at=timezone.now(), remote_addr=address[:64], unlinked=unlinked, **fields)
    return Accepted(row, device, fields["crayfis_version"])


def commit(accepted: Accepted) -> Reply:
    """Commit the row (returns once it is durable) and give the 202; 503 when it could not be."""
    try:
        commit_upload(accepted.row)
    except StoreUnavailable as exc:
        logger.error("upload from %s not stored: %s", accepted.row.device_id, exc)
        return reject(503, _UNAVAILABLE)
    return accepted.reply()


async def commit_async(accepted: Accepted) -> Reply:
    """`commit` for an event loop: the loop is never blocked while the row is committed."""
    try:
        await commit_upload_async(accepted.row)
    except StoreUnavailable as exc:
        logger.error("upload from %s not stored: %s", accepted.row.device_id, exc)
        return reject(503, _UNAVAILABLE)
    return accepted.reply()


def answer(method: str, header: Header, declared: int, read: Callable[[int], bytes], remote_addr: str) -> Reply:
    """The whole path for a synchronous caller; `read(n)` returns at most n bytes of the body."""
    device_id = head(method, header, declared, remote_addr)
    if isinstance(device_id, Reply):
        return device_id
    accepted = check(device_id, header, read(max_body_bytes() + 1), remote_addr)
    if isinstance(accepted, Reply):
        return accepted
    return commit(accepted)

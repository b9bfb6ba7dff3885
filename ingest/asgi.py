"""ASGI entry point: POST /submit answered on the event loop, everything else by Django.

    gunicorn ingest.asgi:application -k asgi -w 2

Under threads (`ingest.wsgi` on gthread workers) every upload costs several thread wake-ups: the
poller hands the connection to a pool thread, that thread wakes the group-commit writer, the
writer wakes it back, and 16+ threads contend for the GIL. On this 2-core VM those switches were
the largest single cost (a third of the server's CPU in `perf`). Here one event loop per worker
reads, checks and hashes each upload, queues its row to the same writer thread (ingest.store),
and the writer wakes the loop once per committed group. The checks and the 202 body come from
the same functions as the WSGI view (ingest.views), so both entry points answer alike; when the
policy caches need the database, the checks run in a thread (Django's ORM may not run on the
loop). Other paths, /precal.json included, go to Django's ASGI handler (config.asgi).
"""
from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from config.asgi import application as django_application
from ingest import policy, views
from ingest.store import StoreUnavailable, commit_upload_async

logger = logging.getLogger(__name__)

_JSON = [(b"content-type", b"application/json")]
_ERROR = b'{"error":"internal error"}'


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "/submit":
        try:
            status, body = await _submit(scope, receive)
        except Exception:  # the phone resends on any 5xx; say what happened in the log
            logger.exception("unhandled error on /submit")
            status, body = 500, _ERROR
        if status:
            await send({"type": "http.response.start", "status": status,
                        "headers": _JSON + [(b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        return
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await django_application(scope, receive, send)


async def _submit(scope, receive) -> tuple[int, bytes]:
    """(status, body) for one POST /submit; status 0 when the client went away."""
    if scope["method"] != "POST":
        return _error(405, "POST only")
    meta = {}
    declared = 0
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = int(value) if value.isdigit() else 0
        else:
            meta["HTTP_" + name.decode("latin-1").upper().replace("-", "_")] = value.decode("latin-1")

    def header(key: str) -> str:
        return meta.get(key, "")

    device_id = views.check_device_id(header)
    if isinstance(device_id, tuple):
        return _error(*device_id)
    cap = settings.CRAYFIS_INGEST_MAX_BODY_BYTES
    if declared > cap:
        return _error(413, f"body larger than {cap} bytes")
    body = await _read_body(receive, cap)
    if body is None:
        return 0, b""
    if len(body) > cap:
        return _error(413, f"body larger than {cap} bytes")

    remote_addr = scope["client"][0] if scope.get("client") else ""
    if policy.answers_from_cache(header("HTTP_APP_CODE").strip()[:128]):
        accepted = views.check_upload(device_id, header, body, remote_addr)
    else:
        accepted = await asyncio.get_running_loop().run_in_executor(
            None, _check_in_thread, device_id, header, body, remote_addr)
    if isinstance(accepted, tuple):
        return _error(*accepted)
    try:
        await commit_upload_async(accepted.row)
    except StoreUnavailable as exc:
        logger.error("upload from %s not stored: %s", device_id, exc)
        return _error(503, "storage unavailable, retry later")
    return 202, accepted.reply()


async def _read_body(receive, cap: int) -> bytes | None:
    """The body (cut at cap + 1 bytes), or None when the client disconnected."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > cap or not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _check_in_thread(device_id, header, body, remote_addr):
    from django.db import close_old_connections

    try:
        return views.check_upload(device_id, header, body, remote_addr)
    finally:
        close_old_connections()


def _error(status: int, message: str) -> tuple[int, bytes]:
    return status, views.error_body(message)


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

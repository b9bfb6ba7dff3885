"""ASGI entry point, the production one: POST /submit answered on the event loop.

    gunicorn ingest.asgi:application -k asgi -w 2

One event loop per worker reads, checks and hashes each upload, queues its row to the process's
group-commit writer (ingest.store) and is woken once per committed group, so an upload costs no
hand-off between threads: under threads the poller, a pool thread and the writer wake each other
per upload and a dozen threads contend for the GIL. The answers come from ingest.submit, as
under every entry point; when the policy caches need the database the checks run in a thread
(Django's ORM may not run on the loop). Every other path, /precal.json included, goes to
Django's ASGI handler (config.asgi).
"""
from __future__ import annotations

import asyncio
import logging

from django.db import close_old_connections

from config.asgi import application as django_application  # sets Django up before models load
from ingest import submit

logger = logging.getLogger(__name__)

SUBMIT_PATH = "/submit"
_JSON = [(b"content-type", b"application/json")]
_INTERNAL_ERROR = submit.reject(500, "internal error")


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == SUBMIT_PATH:
        try:
            reply = await _submit(scope, receive)
        except Exception:  # the phone resends on any 5xx; say what happened in the log
            logger.exception("unhandled error on %s", SUBMIT_PATH)
            reply = _INTERNAL_ERROR
        if reply is not None:
            headers = _JSON + [(b"content-length", str(len(reply.body)).encode())]
            if reply.retry_after:
                headers.append((b"retry-after", str(reply.retry_after).encode()))
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            await send({"type": "http.response.body", "body": reply.body})
        return
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await django_application(scope, receive, send)


async def _submit(scope, receive) -> submit.Reply | None:
    """The reply to one /submit; None when the client went away before sending its body."""
    meta = {}
    declared = 0
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = submit.declared_length(value)
            continue
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        # A repeated header is one comma-separated list, as WSGI servers join it (the client
        # address is counted from the right end of X-Forwarded-For).
        meta[key] = f"{meta[key]},{text}" if key in meta else text
    header = _lookup(meta)
    remote_addr = scope["client"][0] if scope.get("client") else ""
    device_id = submit.head(scope["method"], header, declared, remote_addr)
    if isinstance(device_id, submit.Reply):
        return device_id
    body = await _read_body(receive, submit.max_body_bytes())
    if body is None:
        return None
    if submit.needs_database(header):
        accepted = await asyncio.get_running_loop().run_in_executor(
            None, _check_in_thread, device_id, header, body, remote_addr)
    else:
        accepted = submit.check(device_id, header, body, remote_addr)
    if isinstance(accepted, submit.Reply):
        return accepted
    return await submit.commit_async(accepted)


def _lookup(meta: dict[str, str]) -> submit.Header:
    def header(key: str) -> str:
        return meta.get(key, "")

    return header


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
    try:
        return submit.check(device_id, header, body, remote_addr)
    finally:
        close_old_connections()


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

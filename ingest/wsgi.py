"""WSGI entry point for threaded servers: POST /submit answered before Django's request handler.

    gunicorn ingest.wsgi:application -k gthread -w 2 --threads 16

`/submit` skips Django's handler (request signals, middleware chain, response conversion), a
cost comparable to the checks themselves on a path that needs none of it; the answers come from
ingest.submit, as under every entry point. Every other path, /precal.json included, goes to
`config.wsgi` unchanged. The production entry point is ingest.asgi; this one is the alternative
for a server without an event loop (docs/ingest.md says when each fits).
"""
from __future__ import annotations

import logging
from http import HTTPStatus

from django.core.handlers.wsgi import WSGIRequest
from django.db import close_old_connections, connection

from config.wsgi import application as django_application  # sets Django up before models load
from ingest import submit
from ingest.views import submit_reply

logger = logging.getLogger(__name__)

SUBMIT_PATH = "/submit"
_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
_INTERNAL_ERROR = submit.reject(500, "internal error")


def application(environ, start_response):
    if environ.get("PATH_INFO") != SUBMIT_PATH:
        return django_application(environ, start_response)
    try:
        reply = submit_reply(WSGIRequest(environ))
    except Exception:  # the phone resends on any 5xx; say what happened in the log
        logger.exception("unhandled error on %s", SUBMIT_PATH)
        reply = _INTERNAL_ERROR
    finally:
        # What Django's handler does after each request: drop a connection that broke or aged out
        # (the policy caches' queries run on this thread), so a database restart heals. Not
        # inside a caller's transaction (a test case's), which closing would break.
        if not connection.in_atomic_block:
            close_old_connections()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(reply.body)))]
    if reply.retry_after:
        headers.append(("Retry-After", str(reply.retry_after)))
    start_response(_STATUS_LINES[reply.status], headers)
    return [reply.body]

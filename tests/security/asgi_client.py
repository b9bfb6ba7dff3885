"""Call the production ASGI entry point (`ingest.asgi:application`) in process, one request at a time."""
from __future__ import annotations

import asyncio


async def _call(path: str, body: bytes, headers: dict, method: str, client_addr: str, chunks):
    raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
    if chunks is None:
        raw.append((b"content-length", str(len(body)).encode()))
        chunks = [body]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"127.0.0.1")] + raw,
             "client": (client_addr, 40000), "server": ("127.0.0.1", 8000)}
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()

    sent = []

    async def send(message):
        sent.append(message)

    from ingest.asgi import application

    await application(scope, receive, send)
    return sent


def asgi_post(path: str, body: bytes, headers: dict, *, method: str = "POST", client_addr: str = "127.0.0.1",
              chunks=None) -> tuple[int | None, bytes]:
    """(status, body) of one request; `chunks` sends the body in pieces without a Content-Length."""
    sent = asyncio.run(_call(path, body, headers, method, client_addr, chunks))
    if not sent:
        return None, b""
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

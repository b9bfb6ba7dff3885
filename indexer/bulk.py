"""Bulk `create` requests built straight from the documents, for the indexer's hot path.

elasticsearch.helpers.streaming_bulk spends Python time on every document (expanding, chunking,
re-serializing, per-item results), a sizeable fraction of what the node spends indexing it, on
the indexer's one main thread. Here each document becomes
one pre-encoded NDJSON pair (msgspec), chunks are joined bytes, the response is filtered down
to statuses and errors, and items are matched to documents by position (the bulk API answers
in request order). Only failures are returned; 409 (already there) is success.
"""
from __future__ import annotations

import time

import msgspec
from elasticsearch import Elasticsearch

_FILTER = "errors,items.*.status,items.*.error.type,items.*.error.reason"
_encode = msgspec.json.Encoder().encode


def create_lines(actions: list[dict]) -> list[bytes]:
    """`{"create": {...}}` + source, one bytes object per action (index names and ids are plain
    ASCII chosen by this project: no escaping needed)."""
    return [b'{"create":{"_index":"%s","_id":"%s"}}\n%s\n' % (a["_index"].encode(), a["_id"].encode(),
                                                             _encode(a["_source"])) for a in actions]


def _chunks(positions: list[int], lines: list[bytes], max_bytes: int):
    chunk, size = [], 0
    for pos in positions:
        n = len(lines[pos])
        if chunk and size + n > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(pos)
        size += n
    if chunk:
        yield chunk


def bulk_create(es: Elasticsearch, actions: list[dict], *, max_bytes: int, retries_429: int = 3,
                backoff_s: float = 0.5) -> list[tuple[int, int, str]]:
    """Send every action; return (position, status, error) for each one that did not land."""
    return bulk_send(es, create_lines(actions), max_bytes=max_bytes, retries_429=retries_429, backoff_s=backoff_s)


def bulk_send(es: Elasticsearch, lines: list[bytes], *, max_bytes: int, retries_429: int = 3,
              backoff_s: float = 0.5) -> list[tuple[int, int, str]]:
    """Send `create_lines` output; return (position, status, error) for each line that did not land.

    Documents refused with 429 (the node is saturated) are resent, with doubling pauses, up to
    `retries_429` times. Transport errors (node down, timeout) propagate: nothing is known then.
    """
    failures: list[tuple[int, int, str]] = []
    pending = list(range(len(lines)))
    attempt = 0
    while pending:
        again: list[int] = []
        for chunk in _chunks(pending, lines, max_bytes):
            resp = es.bulk(operations=b"".join([lines[i] for i in chunk]), filter_path=_FILTER)
            if not resp.get("errors"):
                continue
            for pos, item in zip(chunk, resp["items"]):
                info = next(iter(item.values()))
                status = info.get("status", 0)
                if status < 300 or status == 409:
                    continue
                if status == 429 and attempt < retries_429:
                    again.append(pos)
                    continue
                err = info.get("error") or {}
                failures.append((pos, status, f"{err.get('type')}: {err.get('reason')}"))
        pending = again
        if pending:
            time.sleep(backoff_s * 2 ** attempt)
            attempt += 1
    return failures

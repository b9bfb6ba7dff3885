"""Server-side time limits on searches, and telling a complete answer from a partial one.

A client's request timeout only stops the client waiting: the node keeps working on the search.
A `timeout` in the search body (``search_timeout``) makes every shard stop collecting when it
expires and answer with what it has, flagged `timed_out`; a shard that fails leaves its part out
likewise (`_shards.failed`). Both answers are partial (``is_partial``).

Who does what with a partial answer (docs/security.md, "Abuse limits at the door"): readers that
show counts (the dashboards) mark it; readers that would skip documents behind a cursor or a
catalogue built from it (the read API's pages and streams, the continuous search, the Spark job)
treat it as a failure (``require_complete``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PartialResults", "is_partial", "require_complete", "search_timeout"]


class PartialResults(RuntimeError):
    """A search answered without all of its results (timed out, or some shards failed)."""


def search_timeout(seconds: float) -> str:
    """The `timeout` value of a search body: whole milliseconds, at least one."""
    return f"{max(1, round(float(seconds) * 1000))}ms"


def is_partial(resp: Mapping[str, Any]) -> bool:
    """Whether a search response (or one response of an msearch) lacks some of its results."""
    shards = resp.get("_shards") or {}
    return bool(resp.get("timed_out")) or int(shards.get("failed") or 0) > 0


def require_complete(resp: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """``resp`` itself when complete; PartialResults naming ``what`` otherwise."""
    if is_partial(resp):
        shards = resp.get("_shards") or {}
        raise PartialResults(f"{what}: partial search results (timed_out={bool(resp.get('timed_out'))}, "
                             f"failed shards={int(shards.get('failed') or 0)})")
    return resp

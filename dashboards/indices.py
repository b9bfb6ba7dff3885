"""Index patterns the dashboards read (naming from crayfis.es.naming).

Hits, exposures and calibrations live in monthly indices (`{prefix}-hits-YYYY.MM`), so the
dashboards always search the wildcard pattern; candidates is one index. `{prefix}-status` holds
small status documents written by long-running processes (the continuous coincidence search
writes id 'search', see dashboards/status.py).
"""
from __future__ import annotations

from crayfis.es.naming import index_pattern


def hits(prefix: str) -> str:
    return index_pattern(prefix, "hits")


def exposures(prefix: str) -> str:
    return index_pattern(prefix, "exposures")


def calibrations(prefix: str) -> str:
    return index_pattern(prefix, "calibrations")


def candidates(prefix: str) -> str:
    return index_pattern(prefix, "candidates")


def status(prefix: str) -> str:
    return f"{prefix}-status"

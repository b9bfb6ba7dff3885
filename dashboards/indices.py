"""Index patterns the dashboards read, from the event-time naming of crayfis/es.

Hits, exposures and calibrations live in monthly indices (`{prefix}-hits-YYYY.MM`), so the
dashboards always search the wildcard pattern; runs and candidates are single indices.
`{prefix}-status` holds small status documents written by long-running processes (the
continuous coincidence search writes id 'search').
"""
from __future__ import annotations


def hits(prefix: str) -> str:
    return f"{prefix}-hits-*"


def exposures(prefix: str) -> str:
    return f"{prefix}-exposures-*"


def calibrations(prefix: str) -> str:
    return f"{prefix}-calibrations-*"


def candidates(prefix: str) -> str:
    return f"{prefix}-candidates"


def status(prefix: str) -> str:
    return f"{prefix}-status"

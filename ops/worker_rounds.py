"""One round of a polling worker (alerts, owners' notices) that outlives a database outage.

A worker holds one database connection for its whole life. When PostgreSQL restarts (an
upgrade, a failover) that connection dies, and the next query raises OperationalError or
InterfaceError. The round is then skipped: nothing it did is committed half (each step commits
on its own), the dead connections are closed so the next round opens fresh ones, and the worker
waits its poll interval and tries again, as systemd would restart it, but without losing its
place. Any other error is a bug and ends the worker.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)


def database_round(run: Callable[[], dict[str, int]], worker: str) -> dict[str, int]:
    """``run()``'s counts; {} when the database was unavailable for this round."""
    try:
        return run()
    except (OperationalError, InterfaceError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        logger.warning("%s: the database is unavailable (%s); retrying next round", worker, first)
        connections.close_all()
        return {}

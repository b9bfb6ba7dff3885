"""A polling worker's round outlives a database outage (prod-check's fault d restarts PostgreSQL
under the alert and notice workers); any other error still ends the worker."""
from __future__ import annotations

import pytest
from django.db import OperationalError

from ops.worker_rounds import database_round


def _outage():
    raise OperationalError("terminating connection due to administrator command")


def test_a_round_that_loses_the_database_is_skipped(caplog):
    assert database_round(_outage, "deliver_alerts") == {}
    assert "deliver_alerts: the database is unavailable" in caplog.text


def test_the_next_round_runs_as_usual():
    assert database_round(lambda: {"sent": 2}, "deliver_alerts") == {"sent": 2}


def test_other_errors_end_the_worker():
    def bug():
        raise KeyError("sent")

    with pytest.raises(KeyError):
        database_round(bug, "deliver_alerts")

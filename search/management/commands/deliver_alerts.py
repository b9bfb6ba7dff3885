"""manage.py deliver_alerts [--once]: deliver the alerts the continuous search queued.

Every CRAYFIS_ALERT_POLL_S it tries each due alert once on each unfinished channel (webhook:
https only, no redirects, signed, CRAYFIS_ALERT_TIMEOUT_S; e-mail: EMAIL_TIMEOUT), records every
attempt, and schedules retries with capped backoff up to CRAYFIS_ALERT_MAX_ATTEMPTS. Runs until
SIGINT/SIGTERM (finishing the alert in hand); with --once, one round. Several workers may run:
each alert is claimed before it is tried.
"""
from __future__ import annotations

import json
import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from ops.worker_rounds import database_round
from search.alerts import AlertConfig, deliver_due
from search.continuous import now_ms


class Command(BaseCommand):
    help = "Deliver queued alerts (webhook and e-mail) with timeouts, retries and a record of every attempt."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one round, then exit")

    def handle(self, *args, once=False, verbosity=1, **options):
        if verbosity > 0:
            logging.getLogger("search").setLevel(logging.INFO)
        cfg = AlertConfig.from_settings()
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        totals = {"sent": 0, "retry": 0, "gave_up": 0}
        while True:
            for name, n in database_round(lambda: deliver_due(cfg, now_ms()), "deliver_alerts").items():
                totals[name] += n
            if once or stop.wait(settings.CRAYFIS_ALERT_POLL_S):
                break
            close_old_connections()   # a long-running worker drops a stale database connection
        self.stdout.write(json.dumps(totals))

"""manage.py notify_owners [--once]: keep the data-quality flags current and e-mail owners.

Each round: summarize new uploads (quality/summaries.py, CRAYFIS_QUALITY_BATCH at a time, as
many batches as are waiting), re-judge every device's flags when they are older than
CRAYFIS_QUALITY_REFRESH_S (the admin's), queue the e-mails owners asked for and deliver those
due (accounts/notify.py). Then it waits CRAYFIS_NOTIFY_POLL_S. Runs until SIGINT/SIGTERM
(finishing the round in hand); with --once, one round (and all the summarizing waiting), and
prints its counts as one JSON line. Never on the ingest path: /submit and the indexer do not wait
for it, and it only reads what they stored.
"""
from __future__ import annotations

import json
import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from accounts import notify
from ops.worker_rounds import database_round
from quality import health, summaries


def one_round(stop: threading.Event) -> dict[str, int]:
    """Summaries, device flags when due, e-mails queued and delivered; the counts."""
    counts = {"summarized": 0, "devices_judged": 0, "queued": 0, "sent": 0, "retry": 0, "gave_up": 0}
    batch = settings.CRAYFIS_QUALITY_BATCH
    while not stop.is_set():
        done = summaries.summarize_new(batch)
        counts["summarized"] += done
        if done < batch:
            break
    now = timezone.now()
    if health.refresh_due(now):
        counts["devices_judged"] = health.refresh_devices(now)
    counts["queued"] = len(notify.queue_due(now))
    counts.update(notify.deliver_due(timezone.now()))
    return counts


class Command(BaseCommand):
    help = "Summarize uploads, keep the data-quality flags current, and send owners the e-mails they asked for."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one round, then exit")

    def handle(self, *args, once=False, verbosity=1, **options):
        if verbosity > 0:
            for name in ("crayfis.quality", "crayfis.accounts"):
                logging.getLogger(name).setLevel(logging.INFO)
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        totals: dict[str, int] = {}
        while True:
            for name, n in database_round(lambda: one_round(stop), "notify_owners").items():
                totals[name] = totals.get(name, 0) + n
            if once or stop.wait(settings.CRAYFIS_NOTIFY_POLL_S):
                break
            close_old_connections()   # a long-running worker drops a stale database connection
        self.stdout.write(json.dumps(totals))

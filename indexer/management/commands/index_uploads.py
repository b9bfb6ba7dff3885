"""manage.py index_uploads [--once] [--batch N]: index pending uploads into Elasticsearch.

Runs until SIGINT/SIGTERM (finishing the batch in hand), or with --once until nothing is
claimable. Several may run at once, on one machine or many: claims keep them apart.
"""
from __future__ import annotations

import json
import logging
import signal
import threading

from django.core.management.base import BaseCommand

from indexer.worker import Indexer, IndexerConfig, backlog, make_indexer_client


class Command(BaseCommand):
    help = "Decode pending /submit uploads and bulk-index them into Elasticsearch (exactly once)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="drain what is claimable, then exit")
        parser.add_argument("--batch", type=int, default=None, help="uploads per claim (CRAYFIS_INDEXER_BATCH)")
        parser.add_argument("--es-url", default=None, help="Elasticsearch URL (default CRAYFIS_ES_URL)")

    def handle(self, *args, once=False, batch=None, es_url=None, verbosity=1, **options):
        if verbosity > 0:
            logging.getLogger("indexer").setLevel(logging.INFO)
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        indexer = Indexer(make_indexer_client(es_url), IndexerConfig.from_settings(batch=batch))
        totals = indexer.run(once=once, stop=stop)
        summary = {"indexed": totals.indexed, "quarantined": totals.quarantined, "retried": totals.retried,
                   "docs": totals.docs, "hits": totals.hits, **backlog()}
        self.stdout.write(json.dumps(summary))

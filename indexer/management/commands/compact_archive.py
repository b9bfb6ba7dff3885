"""manage.py compact_archive [--loop] [--archive URI] [--device-statistics]: staged batches ->
sealed days.

One pass by default; with --loop a pass every CRAYFIS_ARCHIVE_COMPACT_EVERY_S seconds until
SIGINT/SIGTERM. --device-statistics also stores the device statistics of sealed files that have
none to trust (files sealed before compaction kept them; crayfis/archive/device_sidecar.py).
Several may be started: a lease in the database lets one compact at a time
(docs/archive.md). Each pass prints a JSON line: days sealed, late files, rows written, copies
of hits dropped.
"""
from __future__ import annotations

import json
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from crayfis.archive.compact import LeaseLost
from crayfis.archive.device_sidecar import backfill
from indexer.archive import ArchiveCompactor, archive_from_settings
from indexer.worker import default_owner


class Command(BaseCommand):
    help = "Compact the Parquet hit archive: seal finished UTC days, add late hits, each hit once."

    def add_arguments(self, parser):
        parser.add_argument("--archive", default=None, help="archive root (default CRAYFIS_ARCHIVE_DIR)")
        parser.add_argument("--loop", action="store_true", help="run a pass every CRAYFIS_ARCHIVE_COMPACT_EVERY_S")
        parser.add_argument("--device-statistics", action="store_true",
                            help="also store device statistics for sealed files without them")

    def handle(self, *args, archive=None, loop=False, device_statistics=False, verbosity=1, **options):
        target = archive_from_settings(archive)
        if target is None:
            raise CommandError("no archive: CRAYFIS_ARCHIVE_DIR is empty and --archive not given")
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        compactor = ArchiveCompactor(target, default_owner())

        def progress(day, info):
            if verbosity > 1:
                self.stderr.write(f"{day}: {info}")

        while True:
            added = {}
            try:
                report = compactor.run_once(progress=progress)
                if device_statistics:
                    added["statistics_added"] = sum(backfill(target.fs, target.day_files(day))
                                                    for day in target.sealed_days())
            except (OSError, LeaseLost) as exc:
                raise CommandError(f"archive {target.uri}: {exc}") from None
            self.stdout.write(json.dumps({"archive": target.uri, "busy": report is None,
                                          **(report.as_dict() if report else {}), **added}))
            if not loop or stop.wait(settings.CRAYFIS_ARCHIVE_COMPACT_EVERY_S):
                return

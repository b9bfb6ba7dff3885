"""manage.py rebuild_archive [--archive URI] [--batch N] [--no-compact]: the archive from the raw store.

Every indexed upload of the raw store (the Upload table) is decoded again and its hits staged,
in upload order, with a progress bar; then one compaction pass seals the finished days. Into an
empty root this rebuilds the archive; into an existing one it repairs it: what the archive holds
already is recognised by hit_id and not written again (docs/archive.md). Uploads still pending
are left to the indexer, which stages them itself. Ends with a JSON summary.
"""
from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from crayfis.archive.compact import LeaseLost
from crayfis.archive.rows import HitColumns, hit_columns
from crayfis.wire.decode import WireDecodeError
from indexer.archive import ArchiveCompactor, archive_from_settings, batch_key
from indexer.worker import UPLOAD_FIELDS, decode_upload, default_owner, received_ms_of
from ingest.models import Upload, UploadStatus

DEFAULT_BATCH = 256


class Command(BaseCommand):
    help = "Rebuild (or repair) the Parquet hit archive from the raw store's indexed uploads."

    def add_arguments(self, parser):
        parser.add_argument("--archive", default=None, help="archive root (default CRAYFIS_ARCHIVE_DIR)")
        parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="uploads per staged file")
        parser.add_argument("--no-compact", action="store_true", help="stage only; compact_archive seals later")

    def handle(self, *args, archive=None, batch=DEFAULT_BATCH, no_compact=False, verbosity=1, **options):
        if batch < 1:
            raise CommandError("--batch must be >= 1")
        target = archive_from_settings(archive)
        if target is None:
            raise CommandError("no archive: CRAYFIS_ARCHIVE_DIR is empty and --archive not given")
        key = settings.CRAYFIS_PSEUDONYM_KEY
        indexed = Upload.objects.filter(status=UploadStatus.INDEXED)
        bar = tqdm(total=indexed.count(), desc="rebuild", unit="upload", disable=verbosity < 1, file=self.stderr)
        summary = {"archive": target.uri, "uploads": 0, "hits": 0, "staged_files": 0, "undecodable": 0}
        last_id = 0
        try:
            while True:
                rows = list(indexed.filter(id__gt=last_id).order_by("id").values(*UPLOAD_FIELDS)[:batch])
                if not rows:
                    break
                last_id = rows[-1]["id"]
                parts = []
                for row in rows:
                    try:
                        chunk = decode_upload(row)
                    except WireDecodeError:
                        summary["undecodable"] += 1
                        continue
                    parts.append(hit_columns(chunk, key=key, device_id=row["device_id"], upload=row["id"],
                                             received_ms=received_ms_of(row)))
                hits = HitColumns.concat(parts)
                summary["staged_files"] += len(target.stage(hits, "r" + batch_key(r["id"] for r in rows)))
                summary["uploads"] += len(rows)
                summary["hits"] += len(hits)
                bar.update(len(rows))
            bar.close()
            if not no_compact:
                report = ArchiveCompactor(target, default_owner()).run_once()
                summary["compaction"] = report.as_dict() if report else "busy: another compactor holds the lease"
        except (OSError, LeaseLost) as exc:
            raise CommandError(f"archive {target.uri}: {exc}") from None
        self.stdout.write(json.dumps(summary))

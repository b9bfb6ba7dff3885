"""manage.py release_quarantine <upload id>... [--device DEVICE_ID]: index quarantined uploads.

For data an operator knows to be genuine although it was held back (event times outside the
window: a phone that was offline for weeks, a replay of archives, a simulated history) or
quarantined for another reason that has been fixed. The uploads go back to pending, released
from the event-time window; the next `index_uploads` pass indexes each once. Ids that are unknown
or not quarantined are refused, and then nothing is released.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ingest.models import Upload, UploadStatus
from ingest.quarantine import ReleaseRefused, release


class Command(BaseCommand):
    help = "Release quarantined uploads (by id, or every one of a Device-id) so that the indexer indexes them."

    def add_arguments(self, parser):
        parser.add_argument("upload_ids", nargs="*", type=int, metavar="upload_id", help="Upload ids (admin, or logs)")
        parser.add_argument("--device", action="append", default=[], metavar="DEVICE_ID",
                            help="also every quarantined upload of this Device-id (repeatable)")

    def handle(self, *args, upload_ids=(), device=(), **options):
        ids = set(upload_ids)
        if device:
            ids.update(Upload.objects.filter(device_id__in=device, status=UploadStatus.QUARANTINED)
                       .values_list("id", flat=True))
        if not ids:
            raise CommandError("nothing to release: give upload ids, or --device with quarantined uploads")
        try:
            released = release(ids)
        except ReleaseRefused as exc:
            raise CommandError(str(exc)) from None
        shown = ", ".join(map(str, released[:20])) + (" ..." if len(released) > 20 else "")
        self.stdout.write(f"released {len(released)} upload(s): {shown}; the next index_uploads pass indexes them")

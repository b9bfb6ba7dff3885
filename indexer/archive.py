"""The indexer's side of the Parquet hit archive (crayfis/archive, docs/archive.md).

Exactly once, across crashes: the indexer stages the hits of the uploads Elasticsearch
acknowledged *before* it marks those uploads indexed (worker.py). A crash before staging leaves
the uploads pending: they are indexed again (Elasticsearch answers 409) and staged then. A crash
after staging and before marking stages them a second time on the retry, under the same batch
key or another; compaction keeps one copy of each hit_id. So every indexed upload's hits are in
the archive, and no hit is there twice once its day is compacted.

Compaction runs in one process at a time per archive root (manage.py compact_archive), under a
lease in the database that the indexers already share.
"""
from __future__ import annotations

import time
from hashlib import blake2b

from django.conf import settings
from django.db.models import Q

from crayfis.archive.compact import CompactionReport, compact
from crayfis.archive.store import ArchiveOptions, HitArchive
from indexer.models import ArchiveLease

__all__ = ["ArchiveCompactor", "archive_from_settings", "batch_key"]


def archive_from_settings(uri: str | None = None) -> HitArchive | None:
    """The archive at `uri` (default CRAYFIS_ARCHIVE_DIR) with the settings' options; None when
    the setting is empty."""
    uri = settings.CRAYFIS_ARCHIVE_DIR if uri is None else uri
    if not uri:
        return None
    return HitArchive(uri, ArchiveOptions(
        licence=settings.CRAYFIS_ARCHIVE_LICENCE, rows_per_file=settings.CRAYFIS_ARCHIVE_ROWS_PER_FILE,
        row_group_rows=settings.CRAYFIS_ARCHIVE_ROW_GROUP_ROWS,
        staged_max_files=settings.CRAYFIS_ARCHIVE_STAGED_MAX_FILES))


def batch_key(upload_ids) -> str:
    """The staged file name of a batch: its first and last upload id and a hash of them all,
    so the same batch staged again replaces its own file."""
    ids = sorted(int(i) for i in upload_ids)
    digest = blake2b(",".join(map(str, ids)).encode(), digest_size=8).hexdigest()
    return f"u{ids[0]}-{ids[-1]}-{digest}"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class ArchiveCompactor:
    """Compaction passes over one archive root under the database lease."""

    def __init__(self, archive: HitArchive, owner: str, *, lease_s: float | None = None,
                 seal_after_s: float | None = None):
        self.archive, self.owner = archive, owner
        self.lease_s = settings.CRAYFIS_ARCHIVE_LEASE_S if lease_s is None else lease_s
        self.seal_after_s = settings.CRAYFIS_ARCHIVE_SEAL_AFTER_S if seal_after_s is None else seal_after_s

    @property
    def _root(self) -> str:
        return self.archive.uri if "://" in self.archive.uri else self.archive.root

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live compactor holds it."""
        t = _now_ms()
        ArchiveLease.objects.get_or_create(root=self._root)
        return ArchiveLease.objects.filter(
            Q(root=self._root) & (Q(owner=self.owner) | Q(owner="") | Q(until_ms__lt=t))
        ).update(owner=self.owner, until_ms=t + int(self.lease_s * 1000)) == 1

    def release(self) -> None:
        ArchiveLease.objects.filter(root=self._root, owner=self.owner).update(owner="", until_ms=0)

    def still_mine(self) -> bool:
        """Renew the lease if this process still holds it (checked before each publishing step)."""
        return self.acquire()

    def run_once(self, now_ms: int | None = None, progress=None) -> CompactionReport | None:
        """One pass; None when another process holds the lease."""
        if not self.acquire():
            return None
        try:
            return compact(self.archive, _now_ms() if now_ms is None else now_ms,
                           int(self.seal_after_s * 1000), still_mine=self.still_mine, progress=progress)
        finally:
            self.release()

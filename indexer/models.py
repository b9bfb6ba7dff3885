"""The indexer app's one table: the lease that lets one process at a time compact the archive."""
from __future__ import annotations

from django.db import models


class ArchiveLease(models.Model):
    """One row per archive root: who compacts it, until when (Unix ms)."""

    root = models.CharField(max_length=500, unique=True)
    owner = models.CharField(max_length=200, blank=True, default="")
    until_ms = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.root}: {self.owner or 'free'}"

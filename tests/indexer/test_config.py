"""The indexer's knobs come from the settings, where their defaults are written (once)."""
from __future__ import annotations

from dataclasses import MISSING, fields

from indexer.management.commands.index_uploads import Command
from indexer.worker import IndexerConfig


def test_every_knob_is_read_from_the_settings(settings):
    settings.CRAYFIS_ES_PREFIX = "px"
    settings.CRAYFIS_PSEUDONYM_KEY = "k"
    settings.CRAYFIS_ES_REPLICAS = 2
    settings.CRAYFIS_INDEXER_BATCH = 3
    settings.CRAYFIS_INDEXER_LEASE_S = 4.0
    settings.CRAYFIS_INDEXER_POLL_S = 5.0
    settings.CRAYFIS_INDEXER_BACKOFF_MIN_S = 6.0
    settings.CRAYFIS_INDEXER_BACKOFF_MAX_S = 7.0
    settings.CRAYFIS_INDEXER_BULK_BYTES = 8
    settings.CRAYFIS_INDEXER_MAX_ATTEMPTS = 9
    settings.CRAYFIS_INGEST_BUCKET_MS = 10
    settings.CRAYFIS_INGEST_MAX_EVENT_AGE_S = 12
    settings.CRAYFIS_INGEST_MAX_EVENT_LEAD_S = 13
    settings.CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD = 14
    assert IndexerConfig.from_settings() == IndexerConfig(
        prefix="px", pseudonym_key="k", replicas=2, batch=3, lease_s=4.0, poll_s=5.0, backoff_min_s=6.0,
        backoff_max_s=7.0, bulk_bytes=8, max_attempts=9, bucket_ms=10, max_event_age_s=12,
        max_event_lead_s=13, max_months_per_upload=14)
    overridden = IndexerConfig.from_settings(batch=11, lease_s=None)
    assert (overridden.batch, overridden.lease_s) == (11, 4.0)  # None means "the setting"


def test_no_default_is_written_outside_the_settings():
    assert all(f.default is MISSING and f.default_factory is MISSING for f in fields(IndexerConfig))
    options = Command().create_parser("manage.py", "index_uploads").parse_args([])
    assert options.batch is None and options.es_url is None  # the command falls back to the settings

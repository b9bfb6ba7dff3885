"""Data-quality tables: one summary per upload (read from its raw body), one health row per device.

Summaries are the only source of the quality flags, for owners and operators alike: they come
from the raw store, so they hold whatever each upload carried (an owner's pages add up only the
summaries of uploads that carried the owner's App-code), and they do not depend on what the
index keeps of a hit. Summaries never change once written: an upload's body never does.
"""
from __future__ import annotations

from django.db import models


class UploadSummary(models.Model):
    """crayfis.quality.UploadSummary of one upload, with the upload's device, App-code and
    receive time copied so windows and owners select without a join."""

    upload = models.OneToOneField("ingest.Upload", primary_key=True, on_delete=models.CASCADE,
                                  related_name="summary")
    device_id = models.CharField(max_length=128)
    app_code = models.CharField(max_length=128, blank=True)
    received_at = models.DateTimeField()
    readable = models.BooleanField(help_text="the body decoded; otherwise `error` says why and the rest is empty")
    error = models.CharField(max_length=300, blank=True)
    n_events = models.IntegerField(default=0)
    n_hits = models.IntegerField(default=0)
    live_s = models.FloatField(default=0.0)
    data_blocks = models.IntegerField(default=0)
    data_block_s = models.FloatField(default=0.0)
    blocks_without_fix = models.IntegerField(default=0)
    fixes = models.IntegerField(default=0)
    accuracy_sum_m = models.FloatField(default=0.0)
    frames_judged = models.BigIntegerField(default=0)
    frames_failed = models.BigIntegerField(default=0)
    frame_stats = models.IntegerField(default=0)
    frame_mean_sum = models.FloatField(default=0.0)
    frame_std_sum = models.FloatField(default=0.0)
    first_event_ms = models.BigIntegerField(null=True, blank=True)
    last_event_ms = models.BigIntegerField(null=True, blank=True)
    clock_lead_ms = models.BigIntegerField(null=True, blank=True)
    calibration_ms = models.BigIntegerField(null=True, blank=True)
    content_digest = models.CharField(max_length=32, blank=True)
    duplicate_of = models.BigIntegerField(null=True, blank=True,
                                          help_text="the earliest upload of the same device with the same records")
    exposure = models.JSONField(default=list, help_text="[start_ms, live_s, hits] per DATA block")
    summarized_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["device_id", "received_at"], name="summary_device_received"),
                   models.Index(fields=["received_at"], name="summary_received"),
                   models.Index(fields=["device_id", "content_digest"], name="summary_device_digest")]

    def __str__(self) -> str:
        return f"summary of upload {self.upload_id}"


class DeviceHealth(models.Model):
    """A device's flags over the recent window, from all its uploads (for operators), as the
    worker last evaluated them (`manage.py notify_owners`, every CRAYFIS_QUALITY_REFRESH_S)."""

    device_id = models.CharField(max_length=128, unique=True)
    flagged = models.BooleanField(default=False, db_index=True)
    flags = models.JSONField(default=list, help_text="[{code, title, reason}]")
    uploads = models.IntegerField(default=0)
    live_s = models.FloatField(default=0.0)
    hits_per_live_hour = models.FloatField(null=True, blank=True)
    evaluated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "device health"

    def __str__(self) -> str:
        return f"{self.device_id}: {'flagged' if self.flagged else 'ok'}"


class QualityState(models.Model):
    """Where the summarizer stands: every upload up to `summarized_through` has a summary."""

    name = models.CharField(max_length=32, primary_key=True)
    summarized_through = models.BigIntegerField(default=0)
    devices_refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: through upload {self.summarized_through}"

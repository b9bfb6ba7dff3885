"""Book-keeping of the continuous search: what it has searched, who runs it, alerts sent.

Candidates themselves live in Elasticsearch (`{prefix}-candidates`); these tables only hold
what the loop needs to resume exactly where it stopped.
"""
from __future__ import annotations

from django.db import models


class SearchedBucket(models.Model):
    """How many of a touched bucket's hits the last successful pass covered.

    ingest.TouchedBucket.hits only grows (each indexed batch adds its count), so a bucket is
    pending exactly while its hits exceed hits_seen, whatever order stamps commit in.
    """

    bucket_ms = models.BigIntegerField(primary_key=True)
    hits_seen = models.BigIntegerField()
    searched_ms = models.BigIntegerField()

    def __str__(self) -> str:
        return f"bucket {self.bucket_ms}: {self.hits_seen} hits searched"


class SearchState(models.Model):
    """One row per search (name): its lease, its parameters and its progress."""

    name = models.CharField(max_length=64, primary_key=True)
    owner = models.CharField(max_length=128, blank=True)
    lease_until_ms = models.BigIntegerField(default=0)
    params = models.JSONField(default=dict)
    # newest TouchedBucket.touched_ms among the buckets a successful pass handled
    cursor_touched_ms = models.BigIntegerField(default=0)
    # newest hit time in Elasticsearch when the last complete pass took its snapshot
    searched_through_ms = models.BigIntegerField(null=True, blank=True)
    last_pass_ms = models.BigIntegerField(null=True, blank=True)
    passes = models.BigIntegerField(default=0)
    # newest ingest.Device.trust_changed_at (Unix ms) whose candidates a successful pass re-marked
    trust_seen_ms = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"search {self.name} ({self.owner or 'idle'})"


class Alert(models.Model):
    """One announcement per public candidate, queued by the search pass in the transaction that
    marks its buckets searched; the worker (manage.py deliver_alerts) retries each channel until
    it succeeds or gives up. The payload holds public fields only (search/alerts.py)."""

    candidate_id = models.CharField(max_length=64, unique=True)
    payload = models.JSONField()
    created_ms = models.BigIntegerField()
    webhook_url = models.CharField(max_length=500, blank=True)
    webhook_done = models.BooleanField(default=False)
    emails = models.JSONField(default=list)
    email_done = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_ms = models.BigIntegerField(default=0, db_index=True)
    gave_up = models.BooleanField(default=False)
    last_error = models.TextField(blank=True)
    done_ms = models.BigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"alert {self.candidate_id}"

    @property
    def done(self) -> bool:
        return self.webhook_done and self.email_done


class AlertAttempt(models.Model):
    """One delivery attempt on one channel, kept whatever its outcome (for operators)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="attempt_log")
    channel = models.CharField(max_length=16)   # "webhook" or "email"
    at_ms = models.BigIntegerField()
    duration_ms = models.BigIntegerField()
    ok = models.BooleanField()
    error = models.TextField(blank=True)

    class Meta:
        ordering = ("alert", "at_ms", "id")

    def __str__(self) -> str:
        return f"{self.alert.candidate_id} {self.channel} {'ok' if self.ok else 'failed'}"

"""Ingest tables: the durable raw log of uploads, devices and their overrides, app codes,
the latest precalibration map per camera, and the time buckets that received new hits.

The raw log (Upload) is the source of truth: every Elasticsearch index can be rebuilt from it, so
rows are kept after indexing. Elasticsearch only ever sees a device's pseudonym; the app's
Device-id stays here.
"""
from __future__ import annotations

from django.db import models


class AppCode(models.Model):
    """A user code the app sends as `App-code` to link a phone to a web account.

    Only its existence matters for now (unknown codes are flagged, or refused with 401 when
    CRAYFIS_INGEST_ENFORCE_APP_CODES is on); a later issue attaches codes to accounts.
    """

    code = models.CharField(max_length=128, unique=True)
    label = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.code


class Trust(models.TextChoices):
    """Whether a device's data may make a public candidate (docs/security.md, "Devices earn trust").

    Every device starts untrusted; it becomes trusted by its history (accounts/trust.py) or by an
    operator's approval; an operator's revocation is final for the history rule (only another
    approval trusts the device again).
    """

    UNTRUSTED = "untrusted", "untrusted"
    HISTORY = "history", "trusted by history"
    OPERATOR = "operator", "trusted by operator approval"
    REVOKED = "revoked", "revoked by an operator"


TRUSTED = (Trust.HISTORY, Trust.OPERATOR)   # the states that count as trusted


class Device(models.Model):
    """A phone, keyed by the app's Device-id (ANDROID_ID), with the operator's controls.

    Overrides become server commands in the 202 reply of every /submit from this device
    (b-clients only, typed for the client's version). Blocking answers 403, which silences the
    app until it restarts. `trust` says whether its hits count toward a public candidate; the
    reason says who or what decided, and `trust_changed_at` lets the continuous search re-mark
    the candidates of devices whose trust changed.
    """

    device_id = models.CharField(max_length=128, unique=True)
    pseudonym = models.CharField(max_length=64, db_index=True, blank=True)
    blocked = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)
    l1_target_epm = models.FloatField(null=True, blank=True,
                                      help_text="set_L1_trig.target_epm: L1 passes per minute")
    l1_thresh = models.FloatField(null=True, blank=True,
                                  help_text="set_L1_trig.l1thresh: fixed L1 threshold (sent as int to v0.11)")
    l1_trig_lock = models.BooleanField(null=True, blank=True,
                                       help_text="set_L1_trig.trig_lock: keep the threshold fixed")
    xb_period_s = models.PositiveIntegerField(null=True, blank=True,
                                              help_text="set_xb_period: exposure block length, s")
    first_upload_at = models.DateTimeField(null=True, blank=True)
    last_upload_at = models.DateTimeField(null=True, blank=True)
    uploads_indexed = models.BigIntegerField(default=0)
    trust = models.CharField(max_length=16, choices=Trust.choices, default=Trust.UNTRUSTED,
                             db_default=Trust.UNTRUSTED)
    trust_reason = models.CharField(max_length=300, blank=True, default="", db_default="")
    trust_changed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return self.device_id

    @property
    def trusted(self) -> bool:
        return self.trust in TRUSTED


class UploadStatus(models.TextChoices):
    PENDING = "pending", "pending"
    INDEXED = "indexed", "indexed"
    QUARANTINED = "quarantined", "quarantined"


class Upload(models.Model):
    """One accepted POST /submit: the raw body as received plus the request's metadata.

    Written once by the request path (before the 202), then only its status columns change.
    (device_id, sha256) is unique: a resend of the same bytes stores nothing new.
    The indexer claims pending rows by setting claim_owner/claim_until; an expired claim (a
    crashed indexer) makes the row claimable again.
    """

    device_id = models.CharField(max_length=128)
    sha256 = models.CharField(max_length=64)
    body = models.BinaryField()
    size = models.PositiveIntegerField()
    received_at = models.DateTimeField(db_index=True)
    remote_addr = models.CharField(max_length=64, blank=True)
    run_id = models.CharField(max_length=64, blank=True)
    camera_id = models.CharField(max_length=16, blank=True)
    crayfis_version = models.CharField(max_length=64, blank=True)
    crayfis_version_code = models.CharField(max_length=16, blank=True)
    app_code = models.CharField(max_length=128, blank=True)
    hash_code = models.CharField(max_length=128, blank=True)
    unlinked = models.BooleanField(default=False, help_text="App-code sent but unknown")
    # JSON API (api/ app): which decoder the indexer uses, and the client's idempotency id.
    payload_format = models.CharField(max_length=16, default="protobuf", db_default="protobuf",
                                      help_text='"protobuf" (/submit) or "json-v1" (/api/v1/uploads)')
    # NULL, not "", for /submit uploads: the unique (device_id, client_upload_id) skips NULLs.
    client_upload_id = models.CharField(max_length=36, null=True, blank=True,  # noqa: DJ001
                                        help_text="upload_id of a JSON upload (unique per device)")

    status = models.CharField(max_length=16, choices=UploadStatus.choices, default=UploadStatus.PENDING)
    claim_owner = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001  NULL = unclaimed
    claim_until_ms = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    released_at = models.DateTimeField(
        null=True, blank=True,
        help_text="when an operator released it from quarantine: indexed despite the event-time window")
    indexed_at = models.DateTimeField(null=True, blank=True)
    n_docs = models.PositiveIntegerField(null=True, blank=True)
    n_hits = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device_id", "sha256"], name="upload_device_sha256_unique"),
            models.UniqueConstraint(fields=["device_id", "client_upload_id"],
                                    condition=models.Q(client_upload_id__isnull=False),
                                    name="upload_device_client_id_unique"),
        ]
        # The indexer's claim: status = pending, lease expired or unset, in id order. With the lease
        # in the index the scan never reads a row (on SQLite the lease sits past the body's
        # overflow pages, so every pending row it skips would cost a read of its whole body).
        indexes = [models.Index(fields=["status", "id", "claim_until_ms"], name="upload_claim_scan")]

    def __str__(self) -> str:
        return f"upload {self.pk} from {self.device_id}"


class QuarantinedUpload(Upload):
    """Admin view of the uploads the indexer could not decode or index, or held back for their
    event times (proxy of Upload)."""

    class Meta:
        proxy = True
        verbose_name = "quarantined upload"


class PreCalibration(models.Model):
    """The latest precalibration map per (device, camera, resolution), served by /precal.json.

    Hashes are the phone's opaque ids: stored and echoed, never recomputed. "Latest" is by the
    record's end time, so a days-old map flushed late does not replace a newer one.
    """

    device_id = models.CharField(max_length=128)
    camera_id = models.IntegerField()
    res_x = models.PositiveIntegerField()
    res_y = models.PositiveIntegerField()
    hot_hash = models.BigIntegerField()
    wgt_hash = models.BigIntegerField()
    weights = models.BinaryField()
    mask = models.JSONField(default=list)
    interpolation = models.IntegerField(null=True, blank=True)
    compressed_format = models.CharField(max_length=16, blank=True)
    end_ms = models.BigIntegerField(null=True, blank=True)
    run_uuid = models.CharField(max_length=36, blank=True)
    upload = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device_id", "camera_id", "res_x", "res_y"],
                                    name="precal_device_camera_res_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} cam {self.camera_id} {self.res_x}x{self.res_y}"


class TouchedBucket(models.Model):
    """An event-time bucket (CRAYFIS_INGEST_BUCKET_MS wide) that received newly indexed hits.

    The continuous coincidence search re-searches buckets whose touched_ms is later than its
    last pass. touched_ms is stamped after Elasticsearch acknowledged the hits, so a reader
    that sees the stamp can find them (after the index refresh interval).
    """

    bucket_ms = models.BigIntegerField(primary_key=True)
    first_touched_ms = models.BigIntegerField()
    touched_ms = models.BigIntegerField(db_index=True)
    hits = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"bucket {self.bucket_ms}"

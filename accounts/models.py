"""Accounts' links to the ingest tables, and the two kinds of hashed API key.

A volunteer's phones are linked through an app code (typed into the CRAYFIS app, sent as the
App-code header of /submit); other detectors are registered here and upload JSON with a device
API key. Scientists read the API with a read key. Keys are stored hashed
(djangorestframework-api-key: prefix + SHA-512), shown once, and revocable; revoking is final.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class AccountAppCode(models.Model):
    """An app code issued to an account. The newest active one is shown on the account page;
    replaced codes are deactivated (uploads that still send them are flagged unlinked)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="app_codes")
    app_code = models.OneToOneField("ingest.AppCode", on_delete=models.CASCADE, related_name="account_link")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.app_code.code} ({self.user})"


class DetectorKind(models.TextChoices):
    PHONE = "phone", "phone or tablet"
    CAMERA = "camera", "camera (e.g. Raspberry Pi)"
    SCINTILLATOR = "scintillator", "scintillator kit"
    OTHER = "other", "other"


class RegisteredDevice(models.Model):
    """A detector a volunteer registered for the JSON API. Its uploads are stored under
    `device` (an ingest Device with a server-made id, "api-..." so it never collides with an
    ANDROID_ID), so blocking and pseudonyms work as for phones."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="registered_devices")
    device = models.OneToOneField("ingest.Device", on_delete=models.CASCADE, related_name="registration")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=DetectorKind.choices, default=DetectorKind.OTHER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.name} ({self.device.device_id})"


class DeviceAPIKey(AbstractAPIKey):
    """Lets one device POST /api/v1/uploads. Hashed; the clear key is shown once."""

    device = models.ForeignKey("ingest.Device", on_delete=models.CASCADE, related_name="api_keys")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "device API key"
        verbose_name_plural = "device API keys"


class ScientistAPIKey(AbstractAPIKey):
    """Lets a scientist read hits with exact positions. Issued only to accounts holding the
    `accounts.read_exact_hits` permission, which is checked again on every request."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="read_api_keys")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "scientist API key"
        verbose_name_plural = "scientist API keys"
        permissions = [("read_exact_hits", "Can read exact hit positions through the read API")]


class PhoneClaim(models.Model):
    """An account's claim on a device: uploads under its Device-id that carried one of the
    account's app codes (or, for a registered JSON detector, its registration).

    Counters add up only what those uploads contained, so the account page built from them shows
    the owner what his own uploads sent and nothing else. The first claim on a device pairs it; a
    claim by a second account makes it contested (paired to nobody) until an operator confirms
    one claim (accounts/pairing.py).
    """

    device_id = models.CharField(max_length=128)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone_claims")
    first_upload_id = models.BigIntegerField(help_text="the first indexed upload that made this claim")
    first_seen_at = models.DateTimeField(help_text="receive time of the claim's first upload")
    last_seen_at = models.DateTimeField(help_text="receive time of the claim's latest upload")
    uploads = models.BigIntegerField(default=0)
    hits = models.BigIntegerField(default=0)
    confirmed = models.BooleanField(default=False, help_text="an operator made this the device's one owner")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device_id", "user"], name="phone_claim_device_user_unique")]
        ordering = ("device_id", "first_upload_id")

    def __str__(self) -> str:
        return f"{self.device_id} claimed by {self.user}"


class ClaimDay(models.Model):
    """A receive day (UTC) on which a claim's uploads arrived, and a public cell they reported:
    the history that earns a paired device trust (accounts/trust.py). One row per (claim, day,
    cell); '' stands for uploads without a position."""

    claim = models.ForeignKey(PhoneClaim, on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    cell = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["claim", "day", "cell"], name="claim_day_cell_unique")]

    def __str__(self) -> str:
        return f"{self.claim_id} {self.day} {self.cell or '-'}"


class PhoneMailSubscription(models.Model):
    """An account's opt-in to e-mails about its phones (silence, new flags). `changed_at` is when
    it was last switched on or off: a phone that fell silent before the owner opted in is not
    announced."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone_mail")
    active = models.BooleanField(default=True)
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user}: {'on' if self.active else 'off'}"


class PhoneWatch(models.Model):
    """What the notifier last settled about one claim: the flags already announced (or seen
    before the owner opted in), and the last upload whose silence was announced."""

    claim = models.OneToOneField(PhoneClaim, on_delete=models.CASCADE, related_name="watch")
    flags = models.JSONField(default=list, help_text="codes of the flags the owner knows of")
    silence_noted_for = models.DateTimeField(null=True, blank=True,
                                             help_text="receive time of the last upload before the announced silence")

    def __str__(self) -> str:
        return f"watch on claim {self.claim_id}"


class OwnerMessage(models.Model):
    """One e-mail to an owner about one phone, at most one per phone per day (UTC). Kept whatever
    becomes of it; the worker retries it with capped backoff (accounts/notify.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone_messages")
    claim = models.ForeignKey(PhoneClaim, on_delete=models.CASCADE, related_name="messages")
    day = models.DateField()
    kinds = models.JSONField(default=list, help_text='"silent" and/or "flagged"')
    to_email = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    unsubscribe_url = models.URLField(max_length=500)
    created_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    gave_up = models.BooleanField(default=False)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["claim", "day"], name="owner_message_claim_day_unique")]
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.subject} ({self.day})"


class OwnerMessageAttempt(models.Model):
    """One attempt to send an OwnerMessage, kept whatever its outcome (for operators)."""

    message = models.ForeignKey(OwnerMessage, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    duration_ms = models.BigIntegerField()
    ok = models.BooleanField()
    error = models.TextField(blank=True)

    class Meta:
        ordering = ("message", "at", "id")

    def __str__(self) -> str:
        return f"message {self.message_id} {'sent' if self.ok else 'failed'} at {self.at}"

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

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

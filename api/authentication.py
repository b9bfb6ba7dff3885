"""`Authorization: Api-Key <key>` for both key kinds (djangorestframework-api-key models).

A device key identifies the device that uploads; a scientist key identifies a reader allowed
exact positions. A request without the header is anonymous; a header with a wrong, revoked or
expired key is refused with 401 (never silently downgraded to anonymous).
"""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework_api_key.permissions import KeyParser

from accounts.models import DeviceAPIKey, ScientistAPIKey
from accounts.services import can_read_exact

KEYWORD = "Api-Key"


@dataclass(frozen=True, slots=True)
class DeviceCredential:
    key_prefix: str
    device_pk: int
    device_id: str      # internal id: stored with uploads, never shown


@dataclass(frozen=True, slots=True)
class ScientistCredential:
    key_prefix: str
    user_pk: int


class ApiKeyAuthentication(BaseAuthentication):
    parser = KeyParser()

    def authenticate(self, request):
        key = self.parser.get_from_authorization(request)
        if key is None:
            if request.META.get("HTTP_AUTHORIZATION"):
                raise exceptions.AuthenticationFailed(f"expected 'Authorization: {KEYWORD} <key>'")
            return None
        key = key.strip()
        dev = _valid_key(DeviceAPIKey, "device", key)
        if dev is not None:
            return AnonymousUser(), DeviceCredential(dev.prefix, dev.device_id, dev.device.device_id)
        sci = _valid_key(ScientistAPIKey, "user", key)
        if sci is not None:
            user = sci.user
            if not can_read_exact(user):
                raise exceptions.AuthenticationFailed("this key's account may no longer read the API")
            return user, ScientistCredential(sci.prefix, user.pk)
        raise exceptions.AuthenticationFailed("invalid, revoked or expired API key")

    def authenticate_header(self, request) -> str:
        return KEYWORD


def _valid_key(model, owner: str, key: str):
    """The usable key row (with its owner joined), or None: one indexed query + one SHA-512."""
    prefix = key.partition(".")[0]
    obj = model.objects.filter(prefix=prefix, revoked=False).select_related(owner).first()
    if obj is None or obj.has_expired or not obj.is_valid(key):
        return None
    return obj

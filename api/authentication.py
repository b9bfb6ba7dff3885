"""`Authorization: Api-Key <key>` for both key kinds (djangorestframework-api-key models).

A device key identifies the device that uploads; a scientist key identifies a reader allowed
exact positions. A request without the header is anonymous; a header with a wrong, revoked or
expired key is refused with 401 (never silently downgraded to anonymous).

A verified key is remembered per process for CRAYFIS_API_KEY_CACHE_S seconds (keyed by its
SHA-512, like the stored hash), because the lookup costs more than the rest of an upload. So a
revocation, expiry or withdrawn permission reaches other worker processes within that time; in
the process that made the change it applies at once. Failed lookups are never cached.
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
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


_lock = threading.Lock()
_verified: dict[bytes, tuple[float, object]] = {}
_MAX_ENTRIES = 100_000
_generator = DeviceAPIKey.objects.key_generator


def forget_keys(*_args, **_kwargs) -> None:
    """Drop every remembered key (on any key change in this process)."""
    with _lock:
        _verified.clear()


for _model in (DeviceAPIKey, ScientistAPIKey):
    post_save.connect(forget_keys, sender=_model, dispatch_uid=f"api-key-cache-{_model.__name__}")
    post_delete.connect(forget_keys, sender=_model, dispatch_uid=f"api-key-cache-del-{_model.__name__}")


class ApiKeyAuthentication(BaseAuthentication):
    parser = KeyParser()

    def authenticate(self, request):
        key = self.parser.get_from_authorization(request)
        if key is None:
            if request.META.get("HTTP_AUTHORIZATION"):
                raise exceptions.AuthenticationFailed(f"expected 'Authorization: {KEYWORD} <key>'")
            return None
        key = key.strip()
        digest = hashlib.sha512(key.encode()).digest()
        now = time.monotonic()
        hit = _verified.get(digest)
        cred = hit[1] if hit is not None and hit[0] > now else self._lookup(key)
        if cred is None:
            raise exceptions.AuthenticationFailed("invalid, revoked or expired API key")
        if hit is None or hit[0] <= now:
            ttl = settings.CRAYFIS_API_KEY_CACHE_S
            if ttl > 0:
                with _lock:
                    if len(_verified) >= _MAX_ENTRIES:
                        _verified.clear()
                    _verified[digest] = (now + ttl, cred)
        if isinstance(cred, DeviceCredential):
            return AnonymousUser(), cred
        return _ScientistUser(cred.user_pk), cred

    def _lookup(self, key: str):
        """The credential of a valid key, or None: indexed queries on the prefix + one SHA-512."""
        prefix = key.partition(".")[0]
        dev = (DeviceAPIKey.objects.filter(prefix=prefix, revoked=False)
               .values_list("hashed_key", "expiry_date", "device_id", "device__device_id").first())
        if dev is not None and _usable(key, dev[0], dev[1]):
            return DeviceCredential(prefix, dev[2], dev[3])
        sci = ScientistAPIKey.objects.filter(prefix=prefix, revoked=False).values_list(
            "hashed_key", "expiry_date", "user_id").first()
        if sci is not None and _usable(key, sci[0], sci[1]):
            user = get_user_model().objects.filter(pk=sci[2]).first()
            if user is not None and can_read_exact(user):
                return ScientistCredential(prefix, user.pk)
        return None

    def authenticate_header(self, request) -> str:
        return KEYWORD


def _usable(key: str, hashed: str, expiry) -> bool:
    if expiry is not None and expiry < timezone.now():
        return False
    return _generator.verify(key, hashed)


class _ScientistUser(AnonymousUser):
    """request.user for a scientist key: authenticated, known by pk only (no extra query)."""

    def __init__(self, pk: int):
        self.pk = self.id = pk

    @property
    def is_anonymous(self):
        return False

    @property
    def is_authenticated(self):
        return True

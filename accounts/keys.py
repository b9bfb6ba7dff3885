"""Which API key is valid: the key's credential, remembered per process for a short time.

Both key kinds are djangorestframework-api-key models (prefix + SHA-512 hash). A device key is
valid while it is not revoked or expired; a scientist key also needs its user to hold
accounts.read_exact_hits. A verified key is remembered per process for CRAYFIS_API_KEY_CACHE_S
seconds (keyed by its SHA-512, like the stored hash), because the lookup costs more than the
rest of an upload. So a revocation, expiry or withdrawn permission reaches other worker
processes within that time; in the process that made the change it applies at once (every
change to a key through a model save or delete, and every revocation in accounts.services,
forgets what is remembered). Failed lookups are never remembered.
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from accounts.models import DeviceAPIKey, ScientistAPIKey


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
_verified: dict[bytes, tuple[float, DeviceCredential | ScientistCredential]] = {}
_MAX_ENTRIES = 100_000
_generator = DeviceAPIKey.objects.key_generator


def can_read_exact(user: AbstractBaseUser) -> bool:
    """May this account read exact positions (and so hold a scientist key)?"""
    return bool(user.is_active and user.has_perm("accounts.read_exact_hits"))


def forget_keys(*_args, **_kwargs) -> None:
    """Drop every remembered key (on any key change in this process)."""
    with _lock:
        _verified.clear()


for _model in (DeviceAPIKey, ScientistAPIKey):
    post_save.connect(forget_keys, sender=_model, dispatch_uid=f"api-key-cache-{_model.__name__}")
    post_delete.connect(forget_keys, sender=_model, dispatch_uid=f"api-key-cache-del-{_model.__name__}")


def credential(key: str) -> DeviceCredential | ScientistCredential | None:
    """The credential of a valid key, or None (remembered for CRAYFIS_API_KEY_CACHE_S when valid)."""
    digest = hashlib.sha512(key.encode()).digest()
    now = time.monotonic()
    hit = _verified.get(digest)
    if hit is not None and hit[0] > now:
        return hit[1]
    cred = _lookup(key)
    ttl = settings.CRAYFIS_API_KEY_CACHE_S
    if cred is not None and ttl > 0:
        with _lock:
            if len(_verified) >= _MAX_ENTRIES:
                _verified.clear()
            _verified[digest] = (now + ttl, cred)
    return cred


def _lookup(key: str) -> DeviceCredential | ScientistCredential | None:
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


def _usable(key: str, hashed: str, expiry) -> bool:
    if expiry is not None and expiry < timezone.now():
        return False
    return _generator.verify(key, hashed)

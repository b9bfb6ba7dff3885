"""Per-process caches of device policies and app codes for the request path.

A phone uploads every few minutes, so a per-device cache would almost never hit, and a database
read per request for "is this device blocked, what are its overrides" would cost as much as the
write. Instead each process holds the (small) set of devices an operator has touched, i.e. the
blocked ones and those with overrides, reloaded with one query every
CRAYFIS_INGEST_POLICY_CACHE_S seconds; every other device has the default policy without any
query. App codes are looked up per code and kept for the same time. An admin change reaches every
worker within that time; a save in this process clears the caches at once.
"""
from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db.models import Q
from django.db.models.signals import post_delete, post_save

from ingest.models import AppCode, Device
from ingest.replies import DevicePolicy

_lock = threading.Lock()
_special: dict[str, DevicePolicy] = {}
_special_until = 0.0
_codes: dict[str, tuple[float, bool]] = {}
_MAX_ENTRIES = 200_000
_DEFAULT = DevicePolicy()
_POLICY_FIELDS = ("blocked", "l1_target_epm", "l1_thresh", "l1_trig_lock", "xb_period_s")


def _fresh(entry, now: float):
    return entry is not None and entry[0] > now


def _load_special() -> dict[str, DevicePolicy]:
    touched = (Q(blocked=True) | Q(l1_target_epm__isnull=False) | Q(l1_thresh__isnull=False)
               | Q(l1_trig_lock__isnull=False) | Q(xb_period_s__isnull=False))
    rows = Device.objects.filter(touched).values_list("device_id", *_POLICY_FIELDS)
    return {row[0]: DevicePolicy(True, *row[1:]) for row in rows}


def device_policy(device_id: str) -> DevicePolicy:
    """The device's block flag and overrides (the default policy for untouched devices)."""
    global _special, _special_until
    now = time.monotonic()
    if now >= _special_until:
        special = _load_special()
        with _lock:
            _special = special
            _special_until = now + settings.CRAYFIS_INGEST_POLICY_CACHE_S
    return _special.get(device_id, _DEFAULT)


def app_code_known(code: str) -> bool:
    now = time.monotonic()
    entry = _codes.get(code)
    if _fresh(entry, now):
        return entry[1]
    known = AppCode.objects.filter(code=code, active=True).exists()
    _remember(_codes, code, known, now)
    return known


def answers_from_cache(app_code: str) -> bool:
    """True when device_policy and app_code_known(app_code) would not touch the database now.

    The ASGI entry point answers on its event loop only then (Django's ORM may not run there);
    otherwise it does the checks in a thread.
    """
    now = time.monotonic()
    return now < _special_until and (not app_code or _fresh(_codes.get(app_code), now))


def _remember(cache: dict, key: str, value, now: float) -> None:
    ttl = settings.CRAYFIS_INGEST_POLICY_CACHE_S
    if ttl <= 0:
        return
    with _lock:
        if len(cache) >= _MAX_ENTRIES:
            cache.clear()
        cache[key] = (now + ttl, value)


def clear() -> None:
    global _special_until
    with _lock:
        _special_until = 0.0
        _codes.clear()


def _on_change(sender, **kwargs) -> None:
    clear()


for _model in (Device, AppCode):
    post_save.connect(_on_change, sender=_model, dispatch_uid=f"policy-cache-{_model.__name__}")
    post_delete.connect(_on_change, sender=_model, dispatch_uid=f"policy-delete-{_model.__name__}")

"""Per-process, short-lived caches of device policies and app codes for the request path.

At 1,000 uploads/s a database read per request for "is this device blocked, what are its
overrides, is this App-code known" would cost as much as the write. Each answer is kept for
CRAYFIS_INGEST_POLICY_CACHE_S seconds (0 = no cache), so an admin change reaches every worker
within that time; a save in this process clears the cache at once.
"""
from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from ingest.models import AppCode, Device
from ingest.replies import DevicePolicy

_lock = threading.Lock()
_devices: dict[str, tuple[float, DevicePolicy]] = {}
_codes: dict[str, tuple[float, bool]] = {}
_MAX_ENTRIES = 200_000


def _fresh(entry, now: float):
    return entry is not None and entry[0] > now


def device_policy(device_id: str) -> DevicePolicy:
    now = time.monotonic()
    entry = _devices.get(device_id)
    if _fresh(entry, now):
        return entry[1]
    row = (Device.objects.filter(device_id=device_id)
           .values("blocked", "l1_target_epm", "l1_thresh", "l1_trig_lock", "xb_period_s").first())
    policy = DevicePolicy(known=True, **row) if row else DevicePolicy()
    _remember(_devices, device_id, policy, now)
    return policy


def app_code_known(code: str) -> bool:
    now = time.monotonic()
    entry = _codes.get(code)
    if _fresh(entry, now):
        return entry[1]
    known = AppCode.objects.filter(code=code, active=True).exists()
    _remember(_codes, code, known, now)
    return known


def _remember(cache: dict, key: str, value, now: float) -> None:
    ttl = settings.CRAYFIS_INGEST_POLICY_CACHE_S
    if ttl <= 0:
        return
    with _lock:
        if len(cache) >= _MAX_ENTRIES:
            cache.clear()
        cache[key] = (now + ttl, value)


def clear() -> None:
    with _lock:
        _devices.clear()
        _codes.clear()


def _on_change(sender, **kwargs) -> None:
    clear()


for _model in (Device, AppCode):
    post_save.connect(_on_change, sender=_model, dispatch_uid=f"policy-cache-{_model.__name__}")
    post_delete.connect(_on_change, sender=_model, dispatch_uid=f"policy-delete-{_model.__name__}")

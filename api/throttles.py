"""Request rates per device and per client address (uploads), per scientist key and per
anonymous address (reads).

DRF's SimpleRateThrottle (a sliding window kept in a Django cache) answers 429 with
Retry-After. Rates and the cache alias are read from settings on every request, so operators
and tests can change them without a restart of the import-time defaults. The client address is
the one every per-client limit counts by (ingest/addresses.py, CRAYFIS_API_NUM_PROXIES).
"""
from __future__ import annotations

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from accounts.keys import DeviceCredential, ScientistCredential
from ingest.addresses import client_address


class _SettingsRateThrottle(SimpleRateThrottle):
    rate_setting: str = ""

    def __init__(self):  # rate is read per request (see get_rate)
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self) -> str:
        return getattr(settings, self.rate_setting)

    @property
    def cache(self):
        return caches[settings.CRAYFIS_API_THROTTLE_CACHE]

    def get_ident(self, request) -> str:
        meta = request.META
        return client_address(meta.get("REMOTE_ADDR", ""), meta.get("HTTP_X_FORWARDED_FOR"))


class DeviceUploadThrottle(_SettingsRateThrottle):
    scope = "device_upload"
    rate_setting = "CRAYFIS_API_DEVICE_UPLOAD_RATE"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, DeviceCredential):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.device_pk}
        return None


class UploadAddressThrottle(_SettingsRateThrottle):
    """Uploads per client address, whatever key they carry: registering many devices (which
    costs nothing) does not multiply what one client may send."""

    scope = "address_upload"
    rate_setting = "CRAYFIS_API_UPLOAD_RATE_PER_IP"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ScientistReadThrottle(_SettingsRateThrottle):
    scope = "scientist_read"
    rate_setting = "CRAYFIS_API_SCIENTIST_READ_RATE"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ScientistCredential):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.user_pk}
        return None


class AnonReadThrottle(_SettingsRateThrottle):
    scope = "anon_read"
    rate_setting = "CRAYFIS_API_ANON_READ_RATE"

    def get_cache_key(self, request, view):
        if request.auth is None:
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return None

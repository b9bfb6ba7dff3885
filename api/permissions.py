"""Who may call what: devices upload, readers read (anonymous gets the coarse public view)."""
from __future__ import annotations

from rest_framework.permissions import BasePermission

from accounts.keys import DeviceCredential, ScientistCredential


class IsDevice(BasePermission):
    """Only a registered device's key may upload."""

    message = "uploads need a device API key (Authorization: Api-Key <key>)"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, DeviceCredential)


class IsReader(BasePermission):
    """Anonymous callers and scientist keys may read; a device key may not (it is for writing)."""

    message = "a device key cannot read: use a scientist key or no key"

    def has_permission(self, request, view) -> bool:
        return request.auth is None or isinstance(request.auth, ScientistCredential)


def sees_exact(request) -> bool:
    """Exact positions only for scientist keys (checked for the permission at authentication)."""
    return isinstance(request.auth, ScientistCredential)

"""`Authorization: Api-Key <key>` for both key kinds (which keys are valid: accounts.keys).

A device key identifies the device that uploads; a scientist key identifies a reader allowed
exact positions. A request without the header is anonymous; a header with a wrong, revoked or
expired key is refused with 401 (never silently downgraded to anonymous).
"""
from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework_api_key.permissions import KeyParser

from accounts.keys import DeviceCredential, credential

KEYWORD = "Api-Key"


class ApiKeyAuthentication(BaseAuthentication):
    parser = KeyParser()

    def authenticate(self, request):
        key = self.parser.get_from_authorization(request)
        if key is None:
            if request.META.get("HTTP_AUTHORIZATION"):
                raise exceptions.AuthenticationFailed(f"expected 'Authorization: {KEYWORD} <key>'")
            return None
        cred = credential(key.strip())
        if cred is None:
            raise exceptions.AuthenticationFailed("invalid, revoked or expired API key")
        if isinstance(cred, DeviceCredential):
            return AnonymousUser(), cred
        return _ScientistUser(cred.user_pk), cred

    def authenticate_header(self, request) -> str:
        return KEYWORD


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

"""API errors beyond DRF's own, all answered as {"detail": ..., optional "errors": [...]}."""
from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import APIException


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "request body too large"
    default_code = "payload_too_large"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "conflict"
    default_code = "conflict"


class Unavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "storage unavailable, retry later"
    default_code = "unavailable"


class BadRequest(APIException):
    """A 400 that also lists the bad fields: {"detail", "errors": [{loc, field, block, hit, message}]}."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, detail: str, errors: list[dict] | None = None):
        super().__init__(detail)
        self.errors = errors or []

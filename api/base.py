"""Shared view plumbing: the error body every API error uses."""
from __future__ import annotations

from rest_framework.views import APIView, exception_handler

from api.errors import BadRequest, Unavailable


def api_exception_handler(exc, context):
    """DRF's handler, plus the list of bad fields for validation errors."""
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, BadRequest):
        response.data = {"detail": str(exc.detail), "errors": exc.errors}
    if response is not None and isinstance(exc, Unavailable):
        response["Retry-After"] = "5"
    return response


class ApiView(APIView):
    def get_exception_handler(self):
        return api_exception_handler

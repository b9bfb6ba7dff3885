"""The reply to a log-in refused by the lockout (django-axes calls ``locked_out``: settings
AXES_LOCKOUT_CALLABLE; the rule is in config/settings.py, CRAYFIS_ACCOUNTS_LOGIN_*)."""
from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render


def locked_out(request, original_response=None, credentials=None) -> HttpResponse:
    """429 with Retry-After: the whole lockout, since each try during it starts it again."""
    seconds = max(1, math.ceil(settings.CRAYFIS_ACCOUNTS_LOGIN_LOCKOUT_S))
    response = render(request, "accounts/locked_out.html", {"minutes": math.ceil(seconds / 60)}, status=429)
    response["Retry-After"] = str(seconds)
    return response

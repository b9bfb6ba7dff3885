"""System checks for what production needs before a command serves, indexes or migrates.

Settings load without secrets (so `manage.py esnode` runs on a bare production host); these
checks stop every command that runs Django's checks (runserver, migrate, check, index_uploads,
search_continuously, simulate, ...) with one clear message when a secret is missing. Commands
that need no secret opt out with `requires_system_checks = []`.
"""
from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def secrets_are_set(app_configs=None, **kwargs) -> list[Error]:
    if settings.DEBUG:
        return []
    errors = []
    try:
        _ = settings.SECRET_KEY  # Django raises when it is empty
    except ImproperlyConfigured:
        errors.append(Error("SECRET_KEY is not set: production (DEBUG off) refuses the generated "
                            "development key; set SECRET_KEY, or CRAYFIS_DEBUG=1 for a local run",
                            id="ops.E001"))
    if not settings.CRAYFIS_PSEUDONYM_KEY:
        errors.append(Error("CRAYFIS_PSEUDONYM_KEY is not set: production (DEBUG off) does not derive it from "
                            "SECRET_KEY; set it once to a new random value and never change it (it names "
                            "every device)", id="ops.E002"))
    return errors

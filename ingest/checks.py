"""System checks of the ingest settings (`manage.py check`, run by migrate and runserver too): a
rate that does not parse would otherwise fail every /submit with a 500."""
from __future__ import annotations

from django.conf import settings
from django.core import checks

from ingest.rates import parse_rate

RATE_SETTINGS = ("CRAYFIS_INGEST_RATE_PER_IP", "CRAYFIS_INGEST_RATE_PER_DEVICE", "CRAYFIS_API_UPLOAD_RATE_PER_IP")
POSITIVE_SETTINGS = ("CRAYFIS_INGEST_MAX_EVENT_AGE_S", "CRAYFIS_INGEST_MAX_EVENT_LEAD_S",
                     "CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD")


@checks.register()
def ingest_limits(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for name in RATE_SETTINGS:
        try:
            parse_rate(getattr(settings, name))
        except ValueError as exc:
            errors.append(checks.Error(f"{name}: {exc}", id="ingest.E001"))
    for name in POSITIVE_SETTINGS:
        if getattr(settings, name) < 1:
            errors.append(checks.Error(f"{name} must be at least 1, not {getattr(settings, name)}", id="ingest.E002"))
    return errors

"""System checks of the alert settings (`manage.py check`, and `check --deploy` in production)."""
from __future__ import annotations

import urllib.parse

from django.conf import settings
from django.core.checks import Error, Warning


def alert_webhook(app_configs, **kwargs):
    url = settings.CRAYFIS_ALERT_WEBHOOK_URL
    if not url:
        return []
    if urllib.parse.urlsplit(url).scheme != "https":
        return [Error("CRAYFIS_ALERT_WEBHOOK_URL must be an https URL: alerts are never posted in clear",
                      id="search.E001")]
    if not settings.CRAYFIS_ALERT_WEBHOOK_SECRET:
        return [Warning("CRAYFIS_ALERT_WEBHOOK_SECRET is empty: webhook posts go out unsigned, so the "
                        "receiver cannot tell them from forged ones", id="search.W001")]
    return []

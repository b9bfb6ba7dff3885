from django.apps import AppConfig
from django.core.checks import register

from search.checks import alert_webhook


class SearchConfig(AppConfig):
    """The continuous coincidence search: touched buckets -> exact candidates in Elasticsearch."""

    name = "search"

    def ready(self):
        register(alert_webhook)

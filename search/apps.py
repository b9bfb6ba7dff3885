from django.apps import AppConfig


class SearchConfig(AppConfig):
    """The continuous coincidence search: touched buckets -> exact candidates in Elasticsearch."""

    name = "search"

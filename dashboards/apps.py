from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    """Public live pages and their JSON endpoints, read from Elasticsearch aggregations."""

    name = "dashboards"

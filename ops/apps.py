from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: the embedded Elasticsearch node, the demo, the health endpoint."""

    name = "ops"
    verbose_name = "CRAYFIS operations"

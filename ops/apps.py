from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: the embedded Elasticsearch node, the demo, the health endpoint, system checks."""

    name = "ops"
    verbose_name = "CRAYFIS operations"

    def ready(self):
        from ops import checks  # noqa: F401  (registers the system checks)

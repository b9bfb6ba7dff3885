from django.apps import AppConfig


class IngestConfig(AppConfig):
    """Phone uploads: /submit, /precal.json, the JSON API, devices, the raw store and the indexer."""

    name = "ingest"

    def ready(self) -> None:
        from ingest import checks  # noqa: F401  registers the settings checks

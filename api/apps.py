from django.apps import AppConfig


class ApiConfig(AppConfig):
    """JSON API v1: uploads from registered devices, the read API, the OpenAPI schema and docs.

    Its own app (not inside ingest/) because it is a separate, versioned product surface with its
    own auth, throttles and schema; it reuses ingest's raw store and indexer rather than copying.
    """

    name = "api"

    def ready(self) -> None:
        from api import schema  # noqa: F401  registers the Api-Key security scheme with drf-spectacular

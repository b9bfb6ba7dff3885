from django.apps import AppConfig


class CrayfisConfig(AppConfig):
    """The project package as an app, so it can carry project-wide commands (esnode)."""

    name = "crayfis"
    verbose_name = "CRAYFIS backend"

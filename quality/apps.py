from django.apps import AppConfig


class QualityConfig(AppConfig):
    """Data-quality flags of phones: per-upload summaries from the raw store, per-device flags."""

    name = "quality"

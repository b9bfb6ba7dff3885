from django.apps import AppConfig


class IndexerAppConfig(AppConfig):
    """Raw store -> Elasticsearch: the indexer worker and its `index_uploads` command."""

    name = "indexer"

"""The Django side's Elasticsearch client and index prefix, built once from settings."""
from __future__ import annotations

import functools

from django.conf import settings
from elasticsearch import Elasticsearch


@functools.lru_cache(maxsize=8)
def _client(url: str, timeout: float) -> Elasticsearch:
    return Elasticsearch(url, request_timeout=timeout, retry_on_timeout=False, max_retries=0)


def get_es() -> Elasticsearch:
    """A client for CRAYFIS_ES_URL (cached per URL, so tests that override it get their own)."""
    return _client(settings.CRAYFIS_ES_URL, settings.CRAYFIS_ES_TIMEOUT_S)


def index_prefix() -> str:
    return settings.CRAYFIS_ES_PREFIX


def embedded_node_config():
    """The embedded node's config when CRAYFIS_ES_URL names it, else None (external cluster)."""
    from urllib.parse import urlparse

    from ops.esnode import NodeConfig

    url = urlparse(settings.CRAYFIS_ES_URL)
    if url.hostname not in ("127.0.0.1", "localhost") or url.scheme != "http":
        return None
    return NodeConfig(http_port=url.port or 9200, heap=settings.CRAYFIS_ES_HEAP, var_dir=settings.VAR_DIR)

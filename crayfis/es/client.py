"""One place that builds an Elasticsearch client for the domain core, tools and jobs."""
from __future__ import annotations

from elasticsearch import Elasticsearch

__all__ = ["make_client"]


def make_client(url: str, *, request_timeout: float = 30.0, retry_on_timeout: bool = True,
                max_retries: int = 3, **opts) -> Elasticsearch:
    """Client for `url` (e.g. http://127.0.0.1:9200); extra keyword options go to Elasticsearch().

    Bulk indexing of 10^5 documents can take seconds, hence the generous default timeout;
    retries on timeout are safe because every write uses a deterministic _id with op_type create.
    """
    return Elasticsearch(url, request_timeout=request_timeout, retry_on_timeout=retry_on_timeout,
                         max_retries=max_retries, **opts)

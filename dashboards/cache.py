"""Short server-side caching of dashboard answers (a few seconds).

Every visitor polls every few seconds; without a cache each poll is an ES aggregation. The key
holds the ES URL and index prefix, so tests and deployments that change them never share
answers. "Not found" (None) is an answer and is cached like any other: otherwise asking again
and again for a candidate or device that does not exist would be an Elasticsearch search each
time. Failures (exceptions) are not cached: the next poll retries at once.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

T = TypeVar("T")
_ABSENT = object()   # what cache.get returns for a key it does not hold (None is a cached answer)


def key_for(name: str, params: tuple) -> str:
    raw = repr((settings.CRAYFIS_ES_URL, settings.CRAYFIS_ES_PREFIX, name, params))
    return "dash:" + hashlib.sha1(raw.encode()).hexdigest()


def cached(name: str, params: tuple, compute: Callable[[], T]) -> T:
    """compute() once per CRAYFIS_DASH_CACHE_S seconds for these (name, params), None included;
    0 disables."""
    ttl = settings.CRAYFIS_DASH_CACHE_S
    if ttl <= 0:
        return compute()
    key = key_for(name, params)
    value = cache.get(key, _ABSENT)
    if value is _ABSENT:
        value = compute()
        cache.set(key, value, ttl)
    return value

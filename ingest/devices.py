"""A device's public name: its pseudonym under CRAYFIS_PSEUDONYM_KEY, the only name documents and pages use."""
from __future__ import annotations

import functools

from django.conf import settings

from crayfis.privacy import pseudonym


@functools.lru_cache(maxsize=65536)
def _pseudonym(device_id: str, key: str) -> str:
    return pseudonym(device_id, key)


def pseudonym_of(device_id: str) -> str:
    """The public name of a device under CRAYFIS_PSEUDONYM_KEY (cached: one HMAC per device)."""
    return _pseudonym(device_id, settings.CRAYFIS_PSEUDONYM_KEY)

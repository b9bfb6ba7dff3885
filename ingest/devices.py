"""A device's public name (its pseudonym under CRAYFIS_PSEUDONYM_KEY, the only name documents and pages
use), and which names belong to trusted devices."""
from __future__ import annotations

import functools
from collections.abc import Iterable

from django.conf import settings

from crayfis.privacy import pseudonym
from ingest.models import TRUSTED, Device


@functools.lru_cache(maxsize=65536)
def _pseudonym(device_id: str, key: str) -> str:
    return pseudonym(device_id, key)


def pseudonym_of(device_id: str) -> str:
    """The public name of a device under CRAYFIS_PSEUDONYM_KEY (cached: one HMAC per device)."""
    return _pseudonym(device_id, settings.CRAYFIS_PSEUDONYM_KEY)


def trusted_pseudonyms(pseudonyms: Iterable[str]) -> set[str]:
    """Those of these device pseudonyms whose device is trusted now (ingest.models.TRUSTED)."""
    wanted = sorted(set(pseudonyms))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):   # stay far below any database's parameter limit
        found.update(Device.objects.filter(pseudonym__in=wanted[start:start + 500], trust__in=TRUSTED)
                     .values_list("pseudonym", flat=True))
    return found

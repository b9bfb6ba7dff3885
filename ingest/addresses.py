"""The client address every per-client limit counts by (the /submit rates, the API throttles).

It is the socket's address, unless `CRAYFIS_API_NUM_PROXIES` trusted proxies stand in front of
the server (the documented TLS proxy: 1). Each proxy appends the address it received the
request from to `X-Forwarded-For`, so with N trusted proxies the client is the N-th entry from
the right; everything left of it was written by the client itself and is ignored, so a forged
header cannot move a client into another's bucket or out of its own. With 0 proxies the header
is ignored altogether. This is Django REST framework's rule for `NUM_PROXIES`, written once
here so that /submit (which runs without DRF) and the API's throttles count the same address.
"""
from __future__ import annotations

from django.conf import settings


def client_address(remote_addr: str, forwarded_for: str | None) -> str:
    """The address a limit counts this request by (see the module docstring)."""
    proxies = settings.CRAYFIS_API_NUM_PROXIES
    if proxies <= 0 or not forwarded_for:
        return remote_addr
    hops = forwarded_for.split(",")
    return hops[-min(proxies, len(hops))].strip() or remote_addr

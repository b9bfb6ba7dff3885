"""One request budget per client address over the public pages and their /api/dash/ endpoints.

Past CRAYFIS_DASH_RATE requests ("N/period") from one client address (api/throttles.py
``client_address``: behind the TLS proxy, the address it forwards) the pages and endpoints answer
429 with Retry-After. Cached answers cost little, but every new parameter (a candidate id, a
device, a page offset) is a fresh Elasticsearch search: the budget bounds what one address can
make the node do. A page counts once, and then each of its polls counts (the home page polls
five endpoints every CRAYFIS_DASH_POLL_S).
"""
from __future__ import annotations

from api.throttles import DashboardThrottle, retry_after


def refused(request) -> str | None:
    """Retry-After (whole seconds) when this request is over its client's budget; else None,
    and the request is counted."""
    throttle = DashboardThrottle()
    if throttle.allow_request(request, None):
        return None
    return retry_after(throttle)

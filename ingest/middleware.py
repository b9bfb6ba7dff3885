"""Serve the phone's two paths ahead of the rest of the middleware stack.

/submit runs ~1,000 times a second per node and touches no session, user, cookie, CSRF token,
message or template, yet the default stack costs about as much CPU as the view itself. This
middleware sits first in MIDDLEWARE and answers exactly /submit and /precal.json directly; every
other path goes down the normal stack. The same views are also routed in config/urls.py, so
nothing changes in behaviour if the middleware is left out.
"""
from __future__ import annotations

from ingest import views

FAST_PATHS = {"/submit": views.submit, "/precal.json": views.precal}


def ingest_fast_path(get_response):
    def middleware(request):
        view = FAST_PATHS.get(request.path_info)
        if view is not None:
            return view(request)
        return get_response(request)

    return middleware

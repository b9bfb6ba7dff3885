"""The production block of config/settings.py: on with CRAYFIS_TLS_PROXY (the documented
deployment, deploy/crayfis.env), https only (redirect, HSTS, secure cookies) with /healthz left
reachable over plain http for probes; off without it. The Content-Security-Policy is sent
either way. Settings are read once at import, so each case runs Django in a child process."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.security.production import REPO, production_env, public_host, run_django

REQUESTS = """
from django.test import Client
c = Client()
via_proxy = dict(HTTP_HOST={host!r}, HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="127.0.0.1")
direct = dict(HTTP_HOST={host!r}, REMOTE_ADDR="127.0.0.1")
plain, health = c.get("/accounts/login/", **direct), c.get("/healthz", **direct)
page = c.get("/accounts/login/", **via_proxy)
from django.conf import settings
result = {{"plain": [plain.status_code, plain.get("Location")], "health": health.status_code,
          "page": page.status_code, "hsts": page.get("Strict-Transport-Security"),
          "csp": page.get("Content-Security-Policy"),
          "csrf_cookie_secure": bool(page.cookies["csrftoken"]["secure"]) if "csrftoken" in page.cookies else None,
          "num_proxies": settings.REST_FRAMEWORK["NUM_PROXIES"]}}
"""


def test_behind_the_tls_proxy_the_site_is_https_only(tmp_path):
    env = production_env(tmp_path, CRAYFIS_API_NUM_PROXIES=None)   # its default follows CRAYFIS_TLS_PROXY
    host = public_host(env)
    got = run_django(env, REQUESTS.format(host=host))
    assert got["plain"] == [301, f"https://{host}/accounts/login/"]
    assert got["health"] != 301                     # load balancers probe the app server itself
    assert got["page"] == 200 and got["csrf_cookie_secure"] is True
    assert got["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in got["csp"]
    assert got["num_proxies"] == 1


def test_without_the_proxy_nothing_is_forced_to_https(tmp_path):
    env = production_env(tmp_path, CRAYFIS_TLS_PROXY=None, CRAYFIS_API_NUM_PROXIES=None)
    got = run_django(env, REQUESTS.format(host=public_host(env)))
    assert got["plain"][0] == 200 and got["hsts"] is None and got["csrf_cookie_secure"] is False
    assert "script-src 'self'" in got["csp"] and got["num_proxies"] == 0


def _pseudonym_key(env: dict) -> str:
    code = "import config.settings as s; print(repr(s.CRAYFIS_PSEUDONYM_KEY))"
    clean = {k: v for k, v in os.environ.items()
             if k not in ("CRAYFIS_DEBUG", "CRAYFIS_PSEUDONYM_KEY", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**clean, **env}, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_pseudonym_key_is_never_derived_outside_debug(tmp_path):
    assert _pseudonym_key({"SECRET_KEY": "x" * 50, "CRAYFIS_VAR_DIR": str(tmp_path)}) == "''"
    assert _pseudonym_key({"SECRET_KEY": "x" * 50, "CRAYFIS_VAR_DIR": str(tmp_path),
                           "CRAYFIS_PSEUDONYM_KEY": "set-once"}) == "'set-once'"
    assert _pseudonym_key({"CRAYFIS_DEBUG": "1", "CRAYFIS_VAR_DIR": str(tmp_path)}).startswith("'pseudonym:")

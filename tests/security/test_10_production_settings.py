"""Finding 10, production settings: `manage.py check --deploy` warns (no HSTS, no SSL redirect,
cookies not secure), there is no proxy SSL header or CSRF trusted origin, so behind the TLS proxy
every browser form fails Django's CSRF origin check, and no Content-Security-Policy is sent
although every script is a static file.

Both tests run Django in a fresh process under the documented production environment
(tests/security/production.py: deploy/crayfis.env where the repository has it).
"""
from __future__ import annotations

import pytest

from tests.security.production import manage, production_env, public_host, run_django

pytestmark = [pytest.mark.security]


def test_check_deploy_is_clean_in_production(tmp_path):
    """Property: `manage.py check --deploy --fail-level WARNING` passes (exit 0, no warning)
    under the production environment.

    Fails on main at 8e37016: security.W004 (no HSTS), W008 (no SSL redirect), W012 (session
    cookie not secure) and W016 (CSRF cookie not secure).
    """
    proc = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and "WARNINGS" not in output, f"check --deploy:\n{output[-3000:]}"


def test_forms_work_behind_the_tls_proxy_and_pages_carry_a_csp(tmp_path):
    """Attack surface: with forms broken behind the proxy, operators are pushed to turn CSRF
    protection off; without a CSP an injected script runs.

    Property: behind the TLS proxy (the proxy sets X-Forwarded-Proto: https), a browser's login
    form post with its CSRF token and its https Origin passes the CSRF check (the login page is
    shown again for a wrong password, not a 403); pages carry a Content-Security-Policy whose
    scripts are restricted (no 'unsafe-inline' or 'unsafe-eval' for scripts).

    Fails on main at 8e37016: the post is refused with 403 (the request looks like plain http,
    so the https Origin does not match) and no page has a Content-Security-Policy header.
    """
    env = production_env(tmp_path, CRAYFIS_ES_PREFIX="tsecurity-unused")
    host = public_host(env)
    code = f"""
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
browser = Client(enforce_csrf_checks=True)
via_proxy = dict(HTTP_HOST={host!r}, HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_FOR="198.51.100.7",
                 REMOTE_ADDR="127.0.0.1")
form = browser.get("/accounts/login/", **via_proxy)
token = browser.cookies["csrftoken"].value if "csrftoken" in browser.cookies else ""
post = browser.post("/accounts/login/", {{"username": "nobody", "password": "wrong-password-123",
                                          "csrfmiddlewaretoken": token}},
                    HTTP_ORIGIN="https://{host}", HTTP_REFERER="https://{host}/accounts/login/", **via_proxy)
home = browser.get("/", **via_proxy)
result = {{"form": form.status_code, "post": post.status_code,
          "csp": {{"login": form.get("Content-Security-Policy"), "home": home.get("Content-Security-Policy")}}}}
"""
    got = run_django(env, code)
    assert got["form"] == 200 and got["post"] == 200, f"login form behind the proxy: {got}"
    for page, policy in got["csp"].items():
        assert policy, f"no Content-Security-Policy on the {page} page"
        directives = {d.strip().split()[0]: d for d in policy.split(";") if d.strip()}
        scripts = directives.get("script-src") or directives.get("default-src") or ""
        assert scripts and "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, policy

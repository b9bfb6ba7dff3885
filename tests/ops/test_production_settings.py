"""The production settings section: behind a TLS proxy, browser forms pass Django's CSRF origin
check only with the proxy header trusted; throttles share a Redis cache when one is named."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

REPO = Path(__file__).resolve().parents[2]
ORIGIN = "https://daq.example.org"


def _settings_with(env: dict, tmp_path) -> list[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("CRAYFIS_TLS_PROXY", "CSRF_TRUSTED_ORIGINS", "CRAYFIS_CACHE_URL", "DJANGO_SETTINGS_MODULE")}
    code = ("import config.settings as s; print(getattr(s, 'SECURE_PROXY_SSL_HEADER', None)); "
            "print(s.CSRF_TRUSTED_ORIGINS); print(getattr(s, 'CACHES', {}).get('default', {}).get('BACKEND'))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**clean, "SECRET_KEY": "x" * 50, "CRAYFIS_VAR_DIR": str(tmp_path), **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()


def test_production_section_reads_the_environment(tmp_path):
    assert _settings_with({}, tmp_path) == ["None", "[]", "None"]
    header, origins, cache = _settings_with({"CRAYFIS_TLS_PROXY": "1", "CSRF_TRUSTED_ORIGINS": f"{ORIGIN},https://b.org",
                                             "CRAYFIS_CACHE_URL": "redis://127.0.0.1:6379/0"}, tmp_path)
    assert header == "('HTTP_X_FORWARDED_PROTO', 'https')"
    assert origins == f"['{ORIGIN}', 'https://b.org']"
    assert cache == "django.core.cache.backends.redis.RedisCache"


def _post_login_through_proxy(settings, host: str) -> int:
    """A browser's login POST as the app server sees it behind nginx: plain http, the proxy's
    X-Forwarded-Proto, the page's https Origin, a real CSRF token."""
    settings.ALLOWED_HOSTS = [host.split(":")[0]]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("vol", password="pw-vol-123456")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/accounts/login/", HTTP_HOST=host, HTTP_X_FORWARDED_PROTO="https")
    token = page.context["csrf_token"]
    resp = browser.post("/accounts/login/", {"username": "vol", "password": "pw-vol-123456",
                                             "csrfmiddlewaretoken": str(token)},
                        HTTP_HOST=host, HTTP_X_FORWARDED_PROTO="https", HTTP_ORIGIN=f"https://{host}")
    return resp.status_code


@pytest.mark.django_db
def test_login_behind_the_proxy_needs_the_proxy_header(settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    assert _post_login_through_proxy(settings, "daq.example.org") == 403


@pytest.mark.django_db
def test_login_behind_the_proxy_passes_with_the_proxy_header(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert _post_login_through_proxy(settings, "daq.example.org") == 302


@pytest.mark.django_db
def test_a_proxy_that_rewrites_host_needs_the_trusted_origin(settings):
    """The proxy passes an internal Host: only CSRF_TRUSTED_ORIGINS lets the public origin in."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["web-1.internal"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("vol", password="pw-vol-123456")
    statuses = []
    for trusted in ([], [ORIGIN]):
        settings.CSRF_TRUSTED_ORIGINS = trusted
        browser = Client(enforce_csrf_checks=True)
        token = browser.get("/accounts/login/", HTTP_HOST="web-1.internal",
                            HTTP_X_FORWARDED_PROTO="https").context["csrf_token"]
        statuses.append(browser.post("/accounts/login/", {"username": "vol", "password": "pw-vol-123456",
                                                          "csrfmiddlewaretoken": str(token)},
                                     HTTP_HOST="web-1.internal", HTTP_X_FORWARDED_PROTO="https",
                                     HTTP_ORIGIN=ORIGIN).status_code)
    assert statuses == [403, 302]

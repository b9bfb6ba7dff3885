"""Fixtures of the attack tests (issue 16): the `security` marker, fresh caches, a scientist's
read key, a second index prefix, and a local server for the tests that need a real socket."""
from __future__ import annotations

import uuid

import pytest

SECURITY_MARKER = "security: an attack of issue 16 against the real stack (docs/security.md); fails until it is fixed"


def pytest_configure(config):
    config.addinivalue_line("markers", SECURITY_MARKER)


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Throttle counters, dashboard answers and cached lookups start empty in every test (an
    attacker who waits a few seconds gets fresh answers too)."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()
    yield
    for cache in caches.all():
        cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Tests create accounts; password strength is not what the hasher is tested for here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def scientist(django_user_model):
    """(user, clear read key) of an account holding accounts.read_exact_hits."""
    from django.contrib.auth.models import Permission

    from accounts.services import new_scientist_key

    user = django_user_model.objects.create_user("scientist", password="Cosmic-Rays-Scientist-2026")
    user.user_permissions.add(Permission.objects.get(codename="read_exact_hits"))
    user = django_user_model.objects.get(pk=user.pk)
    return user, new_scientist_key(user, "analysis")


def key_auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Api-Key {key}"}


def delete_prefix(es, prefix: str) -> None:
    names = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all", ignore_unavailable=True))
    for start in range(0, len(names), 50):
        es.indices.delete(index=",".join(names[start:start + 50]), ignore_unavailable=True)
    quiet = es.options(ignore_status=404)
    for tmpl in quiet.indices.get_index_template(name=f"{prefix}-*").get("index_templates", []):
        quiet.indices.delete_index_template(name=tmpl["name"])


@pytest.fixture
def other_prefix(es):
    """A second fresh index prefix (not set anywhere), removed after the test."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_prefix(es, prefix)

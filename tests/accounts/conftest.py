import pytest
from django.core.cache import caches

from tests.browser import browser  # noqa: F401  (a fixture, for the browser tests here)


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Per-client counters (the sign-up rate) start empty in every test."""
    for cache in caches.all():
        cache.clear()
    yield

@pytest.fixture
def volunteer(django_user_model):
    return django_user_model.objects.create_user("vol", password="pw-vol-123456")


@pytest.fixture
def logged_in(client, volunteer):
    client.force_login(volunteer)
    return client

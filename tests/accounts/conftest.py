import pytest


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Django's default PBKDF2 costs ~1 s per user on this machine; tests need no strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def volunteer(django_user_model):
    return django_user_model.objects.create_user("vol", password="pw-vol-123456")


@pytest.fixture
def logged_in(client, volunteer):
    client.force_login(volunteer)
    return client

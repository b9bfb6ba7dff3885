import pytest

from tests.browser import browser  # noqa: F401  (a fixture, for the browser tests here)


@pytest.fixture
def volunteer(django_user_model):
    return django_user_model.objects.create_user("vol", password="pw-vol-123456")


@pytest.fixture
def logged_in(client, volunteer):
    client.force_login(volunteer)
    return client

"""Limits on accounts: password strength, sign-ups per client address, the log-in lockout per
client address (django-axes, counted by the same client-address rule as every other limit), and
account pages that no cache keeps."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def _signup(client, username: str, password: str, **extra):
    return client.post("/accounts/signup/", {"username": username, "email": "", "password1": password,
                                             "password2": password}, **extra)


def test_a_weak_password_is_refused_with_the_reason(client, settings):
    resp = _signup(client, "short", "Ab-3" * 2)   # 8 characters
    assert resp.status_code == 400
    assert f"at least {settings.CRAYFIS_ACCOUNTS_PASSWORD_MIN_LENGTH} characters" in resp.content.decode()
    resp = _signup(client, "similar", "similar1234")
    assert resp.status_code == 400 and "too similar" in resp.content.decode()
    assert not get_user_model().objects.exists()


def test_a_refused_sign_up_says_when_to_come_back(client, settings):
    settings.CRAYFIS_ACCOUNTS_SIGNUP_RATE = "1/hour"
    assert _signup(client, "first", "Cosmic-Rays-First-2026").status_code == 302
    client.logout()
    resp = _signup(client, "second", "Cosmic-Rays-Second-2026")
    assert resp.status_code == 429 and 0 < int(resp["Retry-After"]) <= 3600
    assert "Too many sign-ups from your address" in resp.content.decode()
    assert client.get("/accounts/signup/").status_code == 200          # the form itself stays readable
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["first"]


def _login(client, password: str, forwarded: str | None = None) -> int:
    extra = {"REMOTE_ADDR": "127.0.0.1"}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post("/accounts/login/", {"username": "vol", "password": password}, **extra).status_code


def test_the_lockout_answers_429_with_the_wait_and_holds_for_the_right_password(client, volunteer, settings):
    """The failure that reaches the limit is already answered with the lockout."""
    limit = settings.CRAYFIS_ACCOUNTS_LOGIN_FAILURES
    assert [_login(client, f"wrong-{i}") for i in range(limit + 1)] == [200] * (limit - 1) + [429, 429]
    resp = client.post("/accounts/login/", {"username": "vol", "password": "pw-vol-123456"}, REMOTE_ADDR="127.0.0.1")
    assert resp.status_code == 429 and int(resp["Retry-After"]) == settings.CRAYFIS_ACCOUNTS_LOGIN_LOCKOUT_S
    assert "Too many failed log-ins" in resp.content.decode()
    assert "_auth_user_id" not in client.session


def test_behind_the_proxy_the_lockout_counts_the_forwarded_client(client, volunteer, settings):
    """One client's guesses lock out that client, not everyone behind the proxy's address; a
    forged X-Forwarded-For entry in front of the proxy's own changes nothing."""
    settings.CRAYFIS_API_NUM_PROXIES = 1
    for i in range(settings.CRAYFIS_ACCOUNTS_LOGIN_FAILURES):
        _login(client, f"wrong-{i}", forwarded=f"192.0.2.{i}, 198.51.100.1")
    assert _login(client, "pw-vol-123456", forwarded="198.51.100.1") == 429
    assert _login(client, "pw-vol-123456", forwarded="198.51.100.2") == 302


def test_account_pages_are_never_cached(logged_in):
    resp = logged_in.get("/accounts/")
    assert resp.status_code == 200 and "no-store" in resp["Cache-Control"]

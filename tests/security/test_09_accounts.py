"""Finding 9, accounts: no password validators, and no throttling or lockout on login, sign-up or
/admin/ (sign-ups are also the attacker's source of App-codes and JSON-API detectors)."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.security.actors import missing

pytestmark = [pytest.mark.security, pytest.mark.django_db]

ADDRESS = "203.0.113.90"


def _signup(client, username: str, password: str, addr: str = ADDRESS):
    return client.post("/accounts/signup/", {"username": username, "email": "", "password1": password,
                                             "password2": password}, REMOTE_ADDR=addr)


def test_weak_passwords_are_refused_at_sign_up(client):
    """Attack: sign up with the password "a" (or "password", or "12345678"), then guess
    others' the same way.

    Property: Django's password validators refuse each of them (400, no account made), while a
    strong password is accepted.

    Fails on main at 8e37016: AUTH_PASSWORD_VALIDATORS is empty, so "a" makes an account.
    """
    made = {}
    for i, pw in enumerate(("a", "password", "12345678")):
        made[pw] = _signup(client, f"weak{i}", pw).status_code
        client.logout()
    users = list(get_user_model().objects.values_list("username", flat=True))
    assert users == [], f"weak passwords made accounts {users}: statuses {made}"
    assert _signup(client, "strong", "Cosmic-Rays-Over-Geneva-2026").status_code == 302


def _locked_out(client, url: str, username: str, password: str, attempts: int = 30) -> tuple[list[int], bool]:
    """(statuses of wrong guesses, whether the right password then still logs in); the right
    password is checked to work before the guessing starts."""
    client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ADDRESS)
    assert "_auth_user_id" in client.session, "the right password must log in before the attack"
    client.logout()
    statuses = [client.post(url, {"username": username, "password": f"guess-{i}-x"}, REMOTE_ADDR=ADDRESS).status_code
                for i in range(attempts)]
    client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ADDRESS)
    return statuses, "_auth_user_id" in client.session


def test_login_is_locked_after_repeated_failures(client, django_user_model):
    """Attack: guess a volunteer's password on /accounts/login/ as fast as the server answers.

    Property: after repeated failures from one client the login is refused (403 or 429) even
    with the right password, for a while.

    Fails on main at 8e37016: thirty wrong guesses change nothing; the right one logs in.
    """
    django_user_model.objects.create_user("alice", password="Alice-Real-Password-2026")
    statuses, logged_in = _locked_out(client, "/accounts/login/", "alice", "Alice-Real-Password-2026")
    assert not logged_in and {403, 429} & set(statuses), f"no lockout: statuses {sorted(set(statuses))}"


def test_admin_login_is_locked_after_repeated_failures(client, django_user_model):
    """Attack: guess the operator's password on /admin/login/.

    Property: after repeated failures from one client the admin login is refused (403 or 429)
    even with the right password.

    Fails on main at 8e37016: thirty wrong guesses change nothing; the right one logs in.
    """
    django_user_model.objects.create_superuser("operator", "ops@example.org", "Operator-Real-Password-2026")
    statuses, logged_in = _locked_out(client, "/admin/login/", "operator", "Operator-Real-Password-2026")
    assert not logged_in and {403, 429} & set(statuses), f"no lockout: statuses {sorted(set(statuses))}"


def test_sign_ups_are_throttled_per_client(client, settings):
    """Attack: script sign-ups (each one an App-code for pairing forged phones, and room for
    JSON-API detectors).

    Property: past CRAYFIS_ACCOUNTS_SIGNUP_RATE ("N/period") sign-ups from one client address,
    the sign-up page answers 429 and makes no account; another address can still sign up.

    Fails on main at 8e37016: every sign-up succeeds.
    """
    note = missing("CRAYFIS_ACCOUNTS_SIGNUP_RATE")
    settings.CRAYFIS_ACCOUNTS_SIGNUP_RATE = "3/hour"
    statuses = []
    for i in range(5):
        statuses.append(_signup(client, f"bot{i}", f"Scripted-Sign-Up-{i}-2026").status_code)
        client.logout()
    assert statuses[3:] == [429, 429] and get_user_model().objects.count() == 3, \
        f"sign-ups from one address: {statuses}{note}"
    assert _signup(client, "human", "A-Human-Volunteer-2026", addr="203.0.113.91").status_code == 302

"""Sign up, log in/out, and the app code through which a phone's /submit uploads claim it for an account."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts import pairing, services
from accounts.models import AccountAppCode
from ingest.devices import pseudonym_of
from ingest.models import AppCode
from ingest.policy import app_code_known
from tests.security.actors import chunk, index_uploads, now_ms, post_submit

pytestmark = pytest.mark.django_db
PHONE = "3f1a9c0b5e7d2468"
T0 = now_ms() - 3_600_000


def test_signup_creates_account_logs_in_and_issues_an_app_code(client):
    resp = client.post("/accounts/signup/", {"username": "ada", "email": "", "password1": "cosmic-rays-42!",
                                             "password2": "cosmic-rays-42!"})
    assert resp.status_code == 302 and resp["Location"] == "/accounts/"
    user = get_user_model().objects.get(username="ada")
    code = services.current_app_code(user)
    assert code is not None and code.active and len(code.code) == services.APP_CODE_LENGTH
    assert set(code.code) <= set(services.APP_CODE_ALPHABET)
    page = client.get("/accounts/")
    assert page.status_code == 200 and code.code in page.content.decode()


def test_signup_rejects_mismatched_passwords(client):
    resp = client.post("/accounts/signup/", {"username": "bob", "password1": "cosmic-rays-42!",
                                             "password2": "other-password-1"})
    assert resp.status_code == 400 and not get_user_model().objects.filter(username="bob").exists()


def test_login_and_logout(client, volunteer):
    assert client.get("/accounts/")["Location"].startswith("/accounts/login/")
    resp = client.post("/accounts/login/", {"username": "vol", "password": "pw-vol-123456"})
    assert resp.status_code == 302 and resp["Location"] == "/accounts/"
    assert client.get("/accounts/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/accounts/").status_code == 302


def test_app_code_is_known_to_submit_and_replacing_it_retires_the_old(logged_in, volunteer):
    old = services.issue_app_code(volunteer)
    assert app_code_known(old.code)
    resp = logged_in.post("/accounts/app-code/")
    assert resp.status_code == 302
    new = services.current_app_code(volunteer)
    assert new.code != old.code
    assert not AppCode.objects.get(pk=old.pk).active
    assert AccountAppCode.objects.filter(user=volunteer).count() == 2


def _submit(client, code: str, run: int) -> None:
    """One small real DataChunk from PHONE carrying this App-code."""
    body, headers = chunk(PHONE, [[(T0 + run * 60_000, 46.2, 6.1)]], app_code=code,
                          run=f"00000000-0000-4000-8000-{run:012d}")
    assert post_submit(client, body, headers).status_code == 202


@pytest.mark.django_db(transaction=True)   # the indexer manages its own connections and transactions
def test_phones_that_sent_the_code_are_listed_without_their_pseudonym(client, volunteer, es, es_prefix):
    """The account page lists a phone once an upload carrying the account's code is indexed, by
    the end of its Device-id and with what those uploads held; never by its public pseudonym
    (docs/security.md, "Pairing and owner pages")."""
    code = services.issue_app_code(volunteer)
    _submit(client, code.code, 1)
    client.force_login(volunteer)
    assert "No upload carrying your app code" in client.get("/accounts/").content.decode()   # listed once indexed
    index_uploads()
    page = client.get("/accounts/").content.decode()
    assert "…" + PHONE[-4:] in page and pseudonym_of(PHONE) not in page and PHONE not in page
    assert [(p.uploads, p.hits) for p in pairing.phones_of(volunteer)] == [(1, 1)]


@pytest.mark.django_db(transaction=True)
def test_other_accounts_phones_are_not_listed(client, volunteer, django_user_model, es, es_prefix):
    other = django_user_model.objects.create_user("other", password="x-other-123456")
    code = services.issue_app_code(other)
    _submit(client, code.code, 2)
    services.issue_app_code(volunteer)
    index_uploads()
    assert pairing.phones_of(volunteer) == [] and [p.label for p in pairing.phones_of(other)] == ["…" + PHONE[-4:]]


def test_actions_need_post_and_login(client):
    assert client.post("/accounts/app-code/").status_code == 302           # to the login page
    assert client.get("/accounts/devices/").status_code in (302, 405)

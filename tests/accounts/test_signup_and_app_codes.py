"""Sign up, log in/out, and the app code that links a phone's /submit uploads to an account."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts import services
from accounts.models import AccountAppCode
from ingest.devices import pseudonym_of
from ingest.models import AppCode, Device
from ingest.policy import app_code_known

pytestmark = pytest.mark.django_db
PHONE = "3f1a9c0b5e7d2468"


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


def test_phones_that_sent_the_code_are_listed_by_pseudonym(client, logged_in, volunteer):
    code = services.issue_app_code(volunteer)
    headers = {"HTTP_DEVICE_ID": PHONE, "HTTP_CRAYFIS_VERSION": "b v1.0.4", "HTTP_APP_CODE": code.code}
    assert client.post("/submit", data=b"\x0a\x00", content_type="application/octet-stream",
                       **headers).status_code == 202
    assert services.linked_phone_ids(volunteer) == [PHONE]
    assert "No phone has sent" in logged_in.get("/accounts/").content.decode()   # listed once indexed
    Device.objects.create(device_id=PHONE, pseudonym=pseudonym_of(PHONE))        # as the indexer does
    page = logged_in.get("/accounts/").content.decode()
    assert pseudonym_of(PHONE) in page and PHONE not in page


def test_other_accounts_phones_are_not_listed(client, volunteer, django_user_model):
    other = django_user_model.objects.create_user("other", password="x-other-123456")
    code = services.issue_app_code(other)
    client.post("/submit", data=b"\x0a\x00", content_type="application/octet-stream",
                HTTP_DEVICE_ID=PHONE, HTTP_CRAYFIS_VERSION="b v1.0.4", HTTP_APP_CODE=code.code)
    services.issue_app_code(volunteer)
    assert services.linked_phone_ids(volunteer) == [] and services.linked_phone_ids(other) == [PHONE]


def test_actions_need_post_and_login(client):
    assert client.post("/accounts/app-code/").status_code == 302           # to the login page
    assert client.get("/accounts/devices/").status_code in (302, 405)

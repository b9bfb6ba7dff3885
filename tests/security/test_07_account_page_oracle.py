"""Finding 7, the account page as a pseudonym oracle: a phone is "linked" to every account whose
App-code any upload under its Device-id carried, so whoever knows a Device-id signs up, posts one
upload as that phone with his own code, and then watches the phone on his account page: its
public pseudonym (the key of its device page) and its activity.

Trust model: pairing is exclusive (the first App-code seen claims a phone; another code makes
it contested, paired to nobody), and an owner's pages are built only from uploads that carried
the owner's App-code, without the public pseudonym.
"""
from __future__ import annotations

import re

import pytest

from accounts import services
from tests.security.actors import CELL_LAT, CELL_LON, HOUR_MS, index_uploads, now_ms, phone_posts, public_name

pytestmark = [pytest.mark.security, pytest.mark.django_db(transaction=True)]

PHONE = "3f1a9c0b5e7d2468"
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def _page(client, user) -> str:
    client.force_login(user)
    html = client.get("/accounts/").content.decode()
    client.logout()
    return _CSRF.sub('name="csrfmiddlewaretoken" value=""', html)


def _phone_uploads(client, code: str, first: int, n: int) -> None:
    t0 = now_ms() - 6 * HOUR_MS
    for i in range(first, first + n):
        assert phone_posts(client, PHONE, [[(t0 + i * 60_000, CELL_LAT, CELL_LON)]], app_code=code,
                           run=f"00000000-0000-4000-8000-{i:012d}") == 202
    index_uploads()


def test_an_account_page_shows_nothing_of_a_phone_it_merely_claimed(client, es, es_prefix, django_user_model):
    """Attack: Mallory knows Alice's Device-id. He signs up, posts one upload as Alice's phone
    carrying his own App-code, and watches his account page while Alice's phone goes on uploading
    with hers.

    Property: Mallory's page does not change while Alice's phone uploads (he learns nothing he
    did not send himself), and neither page shows the phone's public pseudonym; Alice's own page
    does follow her phone's uploads.

    Fails on main at 8e37016: Mallory's page lists the phone with its pseudonym, last upload
    time and count of indexed uploads, which grow with every upload Alice's phone makes.
    """
    alice = django_user_model.objects.create_user("alice", password="Alice-Phone-Owner-2026")
    mallory = django_user_model.objects.create_user("mallory", password="Mallory-Claims-2026")
    alice_code = services.issue_app_code(alice).code
    mallory_code = services.issue_app_code(mallory).code
    _phone_uploads(client, alice_code, 0, 2)
    _phone_uploads(client, mallory_code, 100, 1)
    mallory_before, alice_before = _page(client, mallory), _page(client, alice)

    _phone_uploads(client, alice_code, 2, 3)
    mallory_after, alice_after = _page(client, mallory), _page(client, alice)
    assert mallory_before == mallory_after, "Mallory's account page follows the activity of a phone he only claimed"
    pseudonym = public_name(PHONE)
    shown = {name: pseudonym in html for name, html in (("mallory", mallory_after), ("alice", alice_after))}
    assert shown == {"mallory": False, "alice": False}, f"account pages show the public pseudonym: {shown}"
    assert alice_before != alice_after, "the owner's page follows her own phone's uploads"

"""Pairing (accounts/pairing.py) and trust (accounts/trust.py, manage.py trust_device): who a
device belongs to, and how it earns or loses the trust that makes its hits count in public.

Uploads reach pairing as the indexer hands them over (``pairing.record_indexed``, called in the
transaction that marks them indexed); the full path through /submit and the indexer is in
tests/accounts/test_signup_and_app_codes.py and tests/security/.

Fails on main at d21fe67: there is no pairing (any upload with an account's code lists the phone
on that account's page) and no trust (accounts.pairing, accounts.trust, trust_device are new).
"""
from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts import pairing, services, trust
from accounts.models import PhoneClaim
from ingest.devices import pseudonym_of
from ingest.models import Device, Trust, Upload, UploadStatus

pytestmark = pytest.mark.django_db

PHONE = "5eed00000000a11c"
CELL, OTHER_CELL = "46.25,6.15", "46.35,6.15"
DAY0 = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="Alice-Phone-Owner-2026")


@pytest.fixture
def mallory(django_user_model):
    return django_user_model.objects.create_user("mallory", password="Mallory-Claims-2026")


def arrivals(device_id: str, code: str, days, *, cell: str = CELL, first_id: int = 1) -> list[pairing.Arrival]:
    """One indexed upload per receive day (days after DAY0), each with 3 hits from `cell`."""
    return [pairing.Arrival(first_id + i, device_id, code, DAY0 + dt.timedelta(days=d), 3, frozenset({cell}))
            for i, d in enumerate(days)]


def device(device_id: str = PHONE) -> Device:
    return Device.objects.create(device_id=device_id, pseudonym=pseudonym_of(device_id))


def state(device_id: str = PHONE) -> str:
    return Device.objects.get(device_id=device_id).trust


def test_the_first_account_pairs_a_second_contests_and_an_operator_confirms(alice, mallory):
    device()
    alice_code, mallory_code = services.issue_app_code(alice).code, services.issue_app_code(mallory).code
    pairing.record_indexed(arrivals(PHONE, alice_code, [0, 1]))
    assert pairing.owner_of(PHONE) == alice.pk
    pairing.record_indexed(arrivals(PHONE, mallory_code, [2], first_id=10))
    claim = pairing.pairing(PHONE)
    assert claim.owner_id is None and claim.contested and claim.claimants == (alice.pk, mallory.pk)
    # each account sees only what its own uploads carried
    assert [(p.uploads, p.hits) for p in pairing.phones_of(alice)] == [(2, 6)]
    assert [(p.uploads, p.hits) for p in pairing.phones_of(mallory)] == [(1, 3)]
    assert pairing.confirm(PHONE, alice.pk) and pairing.owner_of(PHONE) == alice.pk
    pairing.record_indexed(arrivals(PHONE, mallory_code, [3], first_id=20))   # a confirmed owner stays
    assert pairing.owner_of(PHONE) == alice.pk
    assert not pairing.confirm("no-such-phone", alice.pk)


def test_only_active_codes_claim_and_json_detectors_claim_for_their_owner(alice):
    old = services.issue_app_code(alice).code
    services.issue_app_code(alice)                     # retires the old code
    assert pairing.record_indexed(arrivals(PHONE, old, [0])) == set()
    assert pairing.owner_of(PHONE) is None and pairing.phones_of(alice) == []
    reg, _ = services.register_device(alice, "pi camera", "camera")
    api_id = reg.device.device_id
    assert pairing.record_indexed(arrivals(api_id, "", [0])) == {api_id}
    assert pairing.owner_of(api_id) == alice.pk
    assert pairing.phones_of(alice) == []              # JSON detectors have their own list


def test_history_earns_trust_by_receive_days_from_one_cell(alice, settings):
    settings.CRAYFIS_TRUST_MIN_DAYS, settings.CRAYFIS_TRUST_MIN_SPAN_DAYS = 7, 14
    device()
    code = services.issue_app_code(alice).code
    # the same upload day again and again earns nothing: days are receive days
    grown = pairing.record_indexed(arrivals(PHONE, code, [0] * 30))
    assert trust.earn_by_history(grown) == [] and state() == Trust.UNTRUSTED
    grown = pairing.record_indexed(arrivals(PHONE, code, [2, 4, 6, 8, 10], first_id=100))
    assert trust.earn_by_history(grown) == []          # 6 days over 10
    assert "6 receive days over 10 days" in trust.history_verdict(PHONE)[1]
    grown = pairing.record_indexed(arrivals(PHONE, code, [14], first_id=200))
    assert grown == {PHONE} and trust.earn_by_history(grown) == [PHONE]
    phone = Device.objects.get(device_id=PHONE)
    assert phone.trust == Trust.HISTORY and phone.trusted and phone.trust_changed_at is not None
    assert phone.trust_reason.startswith(f"history: 7 receive days over 14 days from cell {CELL}")


@pytest.mark.parametrize("spoiler", ["two cells", "quarantined", "contested", "blocked", "revoked"])
def test_history_needs_one_cell_no_quarantine_one_owner(alice, mallory, settings, spoiler):
    settings.CRAYFIS_TRUST_MIN_DAYS, settings.CRAYFIS_TRUST_MIN_SPAN_DAYS = 3, 4
    device()
    code = services.issue_app_code(alice).code
    days = [0, 2, 4]
    if spoiler == "two cells":
        pairing.record_indexed(arrivals(PHONE, code, [1], cell=OTHER_CELL, first_id=50))
    elif spoiler == "quarantined":
        Upload.objects.create(device_id=PHONE, sha256="0" * 64, body=b"x", size=1, received_at=timezone.now(),
                              status=UploadStatus.QUARANTINED)
    elif spoiler == "contested":
        pairing.record_indexed(arrivals(PHONE, services.issue_app_code(mallory).code, [1], first_id=50))
    elif spoiler == "blocked":
        Device.objects.filter(device_id=PHONE).update(blocked=True)
    else:
        trust.revoke([PHONE], by="ops")
    assert trust.earn_by_history(pairing.record_indexed(arrivals(PHONE, code, days))) == []
    assert not Device.objects.get(device_id=PHONE).trusted


def test_without_a_spoiler_the_same_history_earns_trust(alice, settings):
    """The control of the test above: its history alone does earn trust."""
    settings.CRAYFIS_TRUST_MIN_DAYS, settings.CRAYFIS_TRUST_MIN_SPAN_DAYS = 3, 4
    device()
    code = services.issue_app_code(alice).code
    assert trust.earn_by_history(pairing.record_indexed(arrivals(PHONE, code, [0, 2, 4]))) == [PHONE]


def test_trust_device_approves_revokes_and_refuses_unknown_ids():
    device()
    device("5eed00000000b0b0")
    out = io.StringIO()
    call_command("trust_device", PHONE, "5eed00000000b0b0", "--by", "ops", stdout=out)
    assert "trusted 2 device(s)" in out.getvalue()
    phone = Device.objects.get(device_id=PHONE)
    assert phone.trust == Trust.OPERATOR and phone.trust_reason.startswith("approved by ops")
    call_command("trust_device", "--revoke", PHONE, stdout=io.StringIO())
    assert state() == Trust.REVOKED and state("5eed00000000b0b0") == Trust.OPERATOR
    with pytest.raises(CommandError, match="no such device: ffff0000ffff0000"):
        call_command("trust_device", "5eed00000000b0b0", "ffff0000ffff0000", "--revoke", stdout=io.StringIO())
    assert state("5eed00000000b0b0") == Trust.OPERATOR   # nothing changed


def test_the_admin_shows_trust_and_pairing_and_approves(admin_client, alice, mallory):
    phone = device()
    pairing.record_indexed(arrivals(PHONE, services.issue_app_code(alice).code, [0]))
    pairing.record_indexed(arrivals(PHONE, services.issue_app_code(mallory).code, [1], first_id=10))
    page = admin_client.get(f"/admin/ingest/device/{phone.pk}/change/").content.decode()
    assert "contested by accounts" in page and "not paired to one account" in page
    resp = admin_client.post("/admin/ingest/device/", {"action": "approve", "_selected_action": [phone.pk]})
    assert resp.status_code == 302 and state() == Trust.OPERATOR
    claim = PhoneClaim.objects.get(device_id=PHONE, user=alice)
    admin_client.post("/admin/accounts/phoneclaim/", {"action": "confirm_owner", "_selected_action": [claim.pk]})
    assert pairing.owner_of(PHONE) == alice.pk

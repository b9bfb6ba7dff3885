"""E-mails to owners (accounts/notify.py, `manage.py notify_owners`): opt-in per account, a phone
gone silent or newly flagged, at most one per phone per day, retried on failure, every message
and attempt recorded, a signed unsubscribe link that works without a login.

Mail goes through Django's e-mail test backend (pytest-django's ``mailoutbox``); the worker's
clock is moved forward by passing ``now`` to its two steps (queue, deliver), the way a worker
running later would see the same database.
"""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from accounts import notify
from accounts.models import OwnerMessage, OwnerMessageAttempt, PhoneMailSubscription, PhoneWatch
from tests.accounts.owners import claim_of, index_uploads, owner, post, post_phone, recent_network, worker_round
from tests.core.quality import phones as sim

pytestmark = pytest.mark.django_db(transaction=True)

HOUR = dt.timedelta(hours=1)


def subscribe(user, at: dt.datetime) -> None:
    notify.set_subscription(user, True, now=at)


def step(at: dt.datetime) -> tuple[list[OwnerMessage], dict]:
    """One round of the worker's e-mail part at time ``at``: queue, then deliver."""
    return notify.queue_due(at), notify.deliver_due(at)


@pytest.fixture
def dora(client, django_user_model, es, es_prefix):
    """Dora, opted in an hour ago; her well-behaved phone's hour of uploads, indexed."""
    user, code = owner(django_user_model, "dora")
    subscribe(user, timezone.now() - HOUR)
    result, phones = recent_network()
    phone = sim.well_behaved(result, phones)[0]
    post_phone(client, phone, code)
    index_uploads()
    return user, code, phone


def test_a_phone_gone_silent_is_announced_once(client, dora, mailoutbox):
    user, code, phone = dora
    now = timezone.now()
    assert step(now)[0] == []                                    # it has just sent: nothing to say
    queued, sent = step(now + 25 * HOUR)
    assert [m.kinds for m in queued] == [["silent"]] and sent["sent"] == 1
    (message,) = mailoutbox
    assert message.to == ["dora@example.org"] and "has gone silent" in message.subject
    assert "…" + phone.device_id[-4:] in message.subject and phone.device_id not in message.body
    assert "for 25 hours" in message.body
    unsubscribe_url = re.search(r"To switch them off: (\S+)", message.body).group(1)
    assert message.extra_headers["List-Unsubscribe"] == f"<{unsubscribe_url}>"
    assert f"/accounts/phones/{claim_of(user, phone.device_id).pk}/" in message.body
    # the same silence is not announced again, on later days either
    assert step(now + 26 * HOUR)[0] == [] and step(now + 75 * HOUR)[0] == []
    # the phone comes back, then falls silent again: a new silence
    result, phones = recent_network()
    assert post(client, sim.well_behaved(result, phones)[1].uploads[0], code) == 202   # any upload with her code
    index_uploads()
    assert step(timezone.now() + 2 * HOUR)[0] == []
    assert len(step(timezone.now() + 30 * HOUR)[0]) == 1


def test_no_mail_without_opting_in_nor_for_a_silence_older_than_the_opt_in(client, dora, mailoutbox):
    user, _, _ = dora
    notify.set_subscription(user, False)
    assert step(timezone.now() + 25 * HOUR)[0] == []
    subscribe(user, timezone.now() + 30 * HOUR)                 # opts in after the silence began
    assert step(timezone.now() + 31 * HOUR)[0] == [] and mailoutbox == []


def test_a_new_flag_is_announced_with_its_reason_once(client, django_user_model, es, es_prefix, mailoutbox):
    """Through the worker command: its round summarizes the uploads, judges the phone and mails."""
    user, code = owner(django_user_model, "erin")
    subscribe(user, timezone.now() - HOUR)
    result, phones = recent_network()
    broken = sim.uncovered(sim.well_behaved(result, phones)[0])
    post_phone(client, broken, code)
    index_uploads()
    counts = worker_round()
    assert counts["summarized"] == len(broken.uploads) and counts["queued"] == counts["sent"] == 1
    (message,) = mailoutbox
    assert "has a new data-quality flag" in message.subject and "camera not covered" in message.body
    assert "darkness check refused" in message.body
    assert PhoneWatch.objects.get(claim=claim_of(user, broken.device_id)).flags == ["uncovered"]
    assert worker_round()["queued"] == 0                         # known now: not again


def test_at_most_one_message_per_phone_per_day(client, django_user_model, es, es_prefix, settings, mailoutbox):
    """A second piece of news the same (UTC) day waits for the next day, then goes out."""
    settings.CRAYFIS_QUALITY_WINDOW_H = 72.0                     # the uploads stay in the window for days
    user, code = owner(django_user_model, "fay")
    subscribe(user, timezone.now() - HOUR)
    result, phones = recent_network()
    broken = sim.uncovered(sim.well_behaved(result, phones)[0])
    post_phone(client, broken, code)
    index_uploads()
    first = timezone.now().astimezone(dt.UTC)
    if first.time() > dt.time(23, 59):                           # keep both steps on one day
        first += dt.timedelta(minutes=2)
    assert [m.kinds for m in step(first)[0]] == [["flagged"]]
    settings.CRAYFIS_NOTIFY_SILENT_HOURS = 1 / 3600              # a second of quiet is a silence now
    same_day = first + dt.timedelta(seconds=20)
    assert same_day.date() == first.date() and step(same_day)[0] == []
    day_two = dt.datetime.combine(first.date() + dt.timedelta(days=1), dt.time(12, 0), dt.UTC)
    assert [m.kinds for m in step(day_two)[0]] == [["silent"]]
    claim = claim_of(user, broken.device_id)
    assert OwnerMessage.objects.filter(claim=claim).count() == 2 == len(mailoutbox)
    assert sorted(m.day for m in OwnerMessage.objects.filter(claim=claim)) == [first.date(), day_two.date()]


def test_a_failed_send_is_retried_recorded_and_given_up(client, dora, settings, mailoutbox):
    user, _, _ = dora
    settings.EMAIL_BACKEND = "tests.accounts.failing_mail.Backend"
    settings.CRAYFIS_NOTIFY_MAX_ATTEMPTS = 3
    at = timezone.now() + 25 * HOUR
    queued, outcome = step(at)
    assert len(queued) == 1 and outcome == {"sent": 0, "retry": 1, "gave_up": 0}
    message = OwnerMessage.objects.get()
    assert message.attempts == 1 and "SMTPServerDisconnected" in message.last_error
    assert message.next_attempt_at == at + dt.timedelta(seconds=settings.CRAYFIS_NOTIFY_RETRY_MIN_S)
    assert notify.deliver_due(at + dt.timedelta(seconds=1)) == {"sent": 0, "retry": 0, "gave_up": 0}   # not due yet
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notify.deliver_due(message.next_attempt_at)["sent"] == 1
    assert [a.ok for a in OwnerMessageAttempt.objects.filter(message=message)] == [False, True]
    assert len(mail.outbox) == 1 and OwnerMessage.objects.get().sent_at is not None
    # a message that never gets through is given up after the limit, each attempt on record
    settings.EMAIL_BACKEND = "tests.accounts.failing_mail.Backend"
    OwnerMessage.objects.update(sent_at=None, attempts=0, next_attempt_at=at)
    later = at
    for _ in range(3):
        notify.deliver_due(later)
        later = OwnerMessage.objects.get().next_attempt_at
    assert OwnerMessage.objects.get().gave_up and OwnerMessageAttempt.objects.count() == 5


def test_the_unsubscribe_link_works_without_logging_in(client, dora, mailoutbox):
    user, _, _ = dora
    step(timezone.now() + 25 * HOUR)
    url = re.search(r"To switch them off: \S+?(/accounts/unsubscribe/\S+)", mailoutbox[0].body).group(1)
    client.logout()
    page = client.get(url)
    assert page.status_code == 200 and b'id="unsubscribe"' in page.content
    assert PhoneMailSubscription.objects.get(user=user).active                  # a GET changes nothing
    done = client.post(url)                                                     # no session, no CSRF token
    assert done.status_code == 200 and b'id="unsubscribed"' in done.content
    assert not PhoneMailSubscription.objects.get(user=user).active
    assert client.post(url.replace("unsubscribe/", "unsubscribe/x")).status_code == 400   # not signed here
    forged = notify.unsubscribe_token(user).rsplit(":", 1)[0] + ":AAAAAAAAAAAAAAAAAAAAAAAAAAA"
    assert client.post(f"/accounts/unsubscribe/{forged}/").status_code == 400


def test_the_account_page_switches_the_mails_on_and_off(client, django_user_model):
    user, _ = owner(django_user_model, "gil", email="gil@example.org")
    client.force_login(user)
    assert client.post("/accounts/phone-mail/", {"email": "gil@example.net", "active": "on"}).status_code == 302
    user.refresh_from_db()
    assert user.email == "gil@example.net" and notify.subscribed(user)
    assert b'id="phone-mail-active" checked' in client.get("/accounts/").content
    client.post("/accounts/phone-mail/", {"email": "gil@example.net"})
    assert not notify.subscribed(user)
    client.post("/accounts/phone-mail/", {"email": "", "active": "on"})         # no address, no mail
    assert not notify.subscribed(user)

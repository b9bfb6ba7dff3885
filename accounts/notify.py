"""E-mails to owners about their phones: opt-in per account, at most one per phone per day.

Run by the worker (`manage.py notify_owners`), never on the ingest path. Each round:

- ``queue_due``: for every opted-in account with an e-mail address, every phone it claims is
  looked at through the owner's own uploads only (accounts/pairing.py ``own_uploads``):
  - *silent*: no such upload has arrived for CRAYFIS_NOTIFY_SILENT_HOURS, after at least one had
    (announced once per silence: PhoneWatch.silence_noted_for holds the last upload's receive
    time; a silence that began before the owner opted in is not announced);
  - *newly flagged*: a data-quality flag (crayfis/quality.py) that PhoneWatch.flags does not hold
    yet; flags that clear are dropped from it, so one that comes back is new again.
  Both reasons go into one OwnerMessage per phone per UTC day (a unique constraint); a reason
  that finds the day's message already queued waits for the next day (its watch is not moved).
- ``deliver_due``: each due message is claimed (its next attempt pushed past the longest
  backoff, so two workers never send it twice and a crashed one is retried), sent with
  List-Unsubscribe headers, every attempt recorded (OwnerMessageAttempt), and a failure retried
  with exponential backoff from CRAYFIS_NOTIFY_RETRY_MIN_S up to RETRY_MAX_S, given up after
  CRAYFIS_NOTIFY_MAX_ATTEMPTS.

Messages name a phone as its page does (the end of its Device-id), never by its pseudonym. The
unsubscribe link carries a token signed with SECRET_KEY (``unsubscribe_token``) that switches the
account's e-mails off without a login.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from accounts import pairing, phones
from accounts.models import OwnerMessage, OwnerMessageAttempt, PhoneClaim, PhoneMailSubscription, PhoneWatch
from crayfis import quality

logger = logging.getLogger("crayfis.accounts")

SILENT, FLAGGED = "silent", "flagged"
UNSUBSCRIBE_SALT = "crayfis.accounts.phone-mail.unsubscribe"


@dataclass(frozen=True)
class NotifyConfig:
    silent_hours: float
    from_email: str
    base_url: str
    max_attempts: int
    retry_min_s: float
    retry_max_s: float

    @classmethod
    def from_settings(cls) -> NotifyConfig:
        s = settings
        return cls(silent_hours=s.CRAYFIS_NOTIFY_SILENT_HOURS, from_email=s.CRAYFIS_NOTIFY_FROM_EMAIL,
                   base_url=s.CRAYFIS_NOTIFY_BASE_URL.rstrip("/"), max_attempts=s.CRAYFIS_NOTIFY_MAX_ATTEMPTS,
                   retry_min_s=s.CRAYFIS_NOTIFY_RETRY_MIN_S, retry_max_s=s.CRAYFIS_NOTIFY_RETRY_MAX_S)


# --- opting in and out ---------------------------------------------------------------------------

def subscribed(user) -> bool:
    return PhoneMailSubscription.objects.filter(user=user, active=True).exists()


def set_subscription(user, active: bool, now: dt.datetime | None = None) -> None:
    """Switch the account's e-mails on or off (a no-op when already so)."""
    now = now or timezone.now()
    sub, created = PhoneMailSubscription.objects.get_or_create(user=user, defaults={"active": active,
                                                                                    "changed_at": now})
    if not created and sub.active != active:
        PhoneMailSubscription.objects.filter(pk=sub.pk).update(active=active, changed_at=now)


def unsubscribe_token(user) -> str:
    return signing.dumps({"u": user.pk}, salt=UNSUBSCRIBE_SALT)


def _user_of(token: str):
    """The account a token was signed for here, or None."""
    try:
        user_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)["u"]
    except (signing.BadSignature, KeyError, TypeError):
        return None
    return get_user_model().objects.filter(pk=user_id).first()


def unsubscribe_token_valid(token: str) -> bool:
    return _user_of(token) is not None


def unsubscribe(token: str) -> bool:
    """Switch off the e-mails of the account the token was made for; False for a token that was
    not signed here (or names no account)."""
    user = _user_of(token)
    if user is None:
        return False
    PhoneMailSubscription.objects.filter(user=user, active=True).update(active=False, changed_at=timezone.now())
    return True


# --- deciding what to say ------------------------------------------------------------------------

@dataclass(frozen=True)
class Findings:
    silent: str | None                 # why the phone counts as silent (None: it does not)
    last_upload_at: dt.datetime | None
    flags: list[quality.Flag]          # every flag it has now
    new_flags: list[quality.Flag]      # those the owner has not been told of

    @property
    def worth_a_message(self) -> bool:
        return bool(self.silent or self.new_flags)


def _silence(watch: PhoneWatch, last: dt.datetime | None, since: dt.datetime, now: dt.datetime,
             cfg: NotifyConfig) -> str | None:
    """Why the phone counts as silent now (its last upload at ``last``; the owner opted in at
    ``since``), or None."""
    quiet_for = dt.timedelta(hours=cfg.silent_hours)
    if last is None or now - last < quiet_for or watch.silence_noted_for == last or last + quiet_for < since:
        return None
    hours = (now - last).total_seconds() / 3600.0
    return (f"no upload carrying your app code has arrived from it for {hours:.0f} hours "
            f"(the last one on {last:%Y-%m-%d %H:%M} UTC)")


def findings(claim: PhoneClaim, watch: PhoneWatch, subscribed_since: dt.datetime, now: dt.datetime,
             cfg: NotifyConfig) -> Findings:
    uploads = pairing.own_uploads(claim)
    phones.summarize_missing(uploads)
    last = uploads.aggregate(last=Max("received_at"))["last"]
    found = phones.phone_health(uploads, now).flags
    known = set(watch.flags)
    return Findings(_silence(watch, last, subscribed_since, now, cfg), last, found,
                    [f for f in found if f.code not in known])


def _link(cfg: NotifyConfig, path: str) -> str:
    return cfg.base_url + path


def compose(user, claim: PhoneClaim, found: Findings, cfg: NotifyConfig) -> tuple[str, str, str]:
    """(subject, body, unsubscribe URL) of the message about one phone."""
    label = pairing.label_of(claim.device_id)
    what = [w for w, on in (("has gone silent", found.silent), ("has a new data-quality flag", found.new_flags)) if on]
    subject = f"CRAYFIS: your phone {label} {' and '.join(what)}"
    lines = [f"Hello {user.get_username()},", ""]
    if found.silent:
        lines += [f"Your phone {label} {found.silent}.", "If it is still meant to take data, check that it is "
                  "plugged in, the CRAYFIS app is running and it has a network connection.", ""]
    for flag in found.new_flags:
        lines += [f"Flag: {flag.title}. {flag.reason}.", ""]
    unsubscribe_url = _link(cfg, reverse("accounts:unsubscribe", args=[unsubscribe_token(user)]))
    lines += [f"Your phone's page: {_link(cfg, reverse('accounts:phone', args=[claim.pk]))}", "",
              "You get at most one such e-mail per phone per day, because you switched them on in your account.",
              f"To switch them off: {unsubscribe_url}"]
    return subject, "\n".join(lines), unsubscribe_url


def _queue_one(user, claim: PhoneClaim, watch: PhoneWatch, found: Findings, now: dt.datetime,
               cfg: NotifyConfig) -> OwnerMessage | None:
    """The day's message about this phone, unless one is queued already (then nothing moves)."""
    subject, body, unsubscribe_url = compose(user, claim, found, cfg)
    kinds = [k for k, on in ((SILENT, found.silent), (FLAGGED, found.new_flags)) if on]
    try:
        with transaction.atomic():
            message = OwnerMessage.objects.create(
                user=user, claim=claim, day=now.astimezone(dt.UTC).date(), kinds=kinds, to_email=user.email,
                subject=subject[:200], body=body, unsubscribe_url=unsubscribe_url, created_at=now,
                next_attempt_at=now)
            if found.silent:
                watch.silence_noted_for = found.last_upload_at
            watch.flags = [f.code for f in found.flags]
            watch.save()
    except IntegrityError:
        return None   # one message per phone per day: the news waits for tomorrow
    return message


def queue_due(now: dt.datetime | None = None, cfg: NotifyConfig | None = None) -> list[OwnerMessage]:
    """Queue the messages due now (see the module docstring); returns them."""
    now, cfg = now or timezone.now(), cfg or NotifyConfig.from_settings()
    queued = []
    for sub in PhoneMailSubscription.objects.filter(active=True).select_related("user"):
        user = sub.user
        if not user.email or not user.is_active:
            continue
        for claim in pairing.own_claims(user):
            watch, _ = PhoneWatch.objects.get_or_create(claim=claim)
            found = findings(claim, watch, sub.changed_at, now, cfg)
            if found.worth_a_message:
                message = _queue_one(user, claim, watch, found, now, cfg)
                if message is not None:
                    queued.append(message)
            elif set(watch.flags) != {f.code for f in found.flags}:
                watch.flags = [f.code for f in found.flags]   # cleared flags: one that returns is new
                watch.save(update_fields=["flags"])
    return queued


# --- delivery -----------------------------------------------------------------------------------

def send(message: OwnerMessage) -> None:
    """Send one message (raises on any failure)."""
    EmailMessage(message.subject, message.body, settings.CRAYFIS_NOTIFY_FROM_EMAIL, [message.to_email],
                 headers={"List-Unsubscribe": f"<{message.unsubscribe_url}>",
                          "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}).send(fail_silently=False)


def _claim_message(message: OwnerMessage, now: dt.datetime, cfg: NotifyConfig) -> bool:
    hold = now + dt.timedelta(seconds=cfg.retry_max_s)
    return OwnerMessage.objects.filter(pk=message.pk, next_attempt_at=message.next_attempt_at,
                                       sent_at__isnull=True).update(next_attempt_at=hold) == 1


def deliver_one(message: OwnerMessage, now: dt.datetime, cfg: NotifyConfig) -> str:
    """One attempt at a claimed message; returns sent, retry or gave_up."""
    started = time.monotonic()
    try:
        send(message)
        error = ""
    except Exception as exc:  # SMTP refused, timed out, any backend failure: retried
        error = f"{type(exc).__name__}: {exc}"[:2000]
    OwnerMessageAttempt.objects.create(message=message, at=now, ok=not error, error=error,
                                       duration_ms=int((time.monotonic() - started) * 1000))
    message.attempts += 1
    if not error:
        message.sent_at, message.last_error, outcome = now, "", "sent"
    else:
        message.last_error = error
        if message.attempts >= cfg.max_attempts:
            message.gave_up, outcome = True, "gave_up"
            logger.error("owner message %s given up after %d attempts: %s", message.pk, message.attempts, error)
        else:
            delay = min(cfg.retry_max_s, cfg.retry_min_s * 2 ** (message.attempts - 1))
            message.next_attempt_at, outcome = now + dt.timedelta(seconds=delay), "retry"
            logger.warning("owner message %s failed (attempt %d), retry in %.0f s: %s", message.pk,
                           message.attempts, delay, error)
    message.save(update_fields=["attempts", "sent_at", "last_error", "gave_up", "next_attempt_at"])
    return outcome


def deliver_due(now: dt.datetime | None = None, cfg: NotifyConfig | None = None) -> dict[str, int]:
    """Try every due message once; returns counts (sent, retry, gave_up)."""
    now, cfg = now or timezone.now(), cfg or NotifyConfig.from_settings()
    counts = {"sent": 0, "retry": 0, "gave_up": 0}
    due = OwnerMessage.objects.filter(sent_at__isnull=True, gave_up=False, next_attempt_at__lte=now).order_by(
        "next_attempt_at", "id")
    for message in list(due):
        if _claim_message(message, now, cfg):
            counts[deliver_one(message, now, cfg)] += 1
    return counts

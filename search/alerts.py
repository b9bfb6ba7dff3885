"""Alerts: a public candidate whose false-alarm rate per year falls below a threshold is announced once.

Queueing and delivery are apart, so neither can stall nor lose the other's work:

- ``queue_alerts`` records one Alert row per candidate document (the unique candidate_id makes
  it once; a candidate that absorbed an already announced one, or was absorbed, is not announced
  again under another id). The search loop calls it inside the transaction that marks the pass's
  buckets searched, on the public candidates the pass's region holds: a pass that fails before
  that commit leaves both undone and the next pass queues the alert; one that fails after has
  queued it. Only public candidates (k trusted members, crayfis/es/candidates.py) are queued.
- ``deliver_due`` (the worker, `manage.py deliver_alerts`) sends what is due: a webhook POST of
  the JSON payload (https only, no redirect followed, any 2xx is success; signed with
  ``X-Crayfis-Signature: sha256=<hex HMAC-SHA256 of the body>`` under
  CRAYFIS_ALERT_WEBHOOK_SECRET) and an e-mail through Django's mail backend (EMAIL_TIMEOUT). Each
  attempt on each channel is recorded (AlertAttempt); a failed channel is retried with capped
  exponential backoff until CRAYFIS_ALERT_MAX_ATTEMPTS, then given up and logged.

The payload holds what a public reader may see of the candidate: counts, times, the public cell
of its centroid and its significance; never member pseudonyms, hit ids or positions.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from crayfis.definition import SECOND_MS
from crayfis.es.candidates import ACTIVE
from search.models import Alert, AlertAttempt

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Crayfis-Signature"
WEBHOOK, EMAIL = "webhook", "email"
PUBLIC_FIELDS = ("candidate_id", "revision", "t_start_ms", "t_end_ms", "n_hits", "n_devices",
                 "n_trusted_devices", "multiplicity", "cell", "expected_background", "p_value",
                 "false_alarm_per_year")


@dataclass(frozen=True)
class AlertConfig:
    far_per_year: float
    webhook_url: str
    emails: tuple[str, ...]
    from_email: str
    timeout_s: float
    max_attempts: int
    retry_min_s: float
    retry_max_s: float
    webhook_secret: str = ""

    @classmethod
    def from_settings(cls) -> AlertConfig:
        s = settings
        return cls(far_per_year=s.CRAYFIS_ALERT_FAR_PER_YEAR, webhook_url=s.CRAYFIS_ALERT_WEBHOOK_URL,
                   emails=tuple(s.CRAYFIS_ALERT_EMAILS), from_email=s.CRAYFIS_ALERT_FROM_EMAIL,
                   timeout_s=s.CRAYFIS_ALERT_TIMEOUT_S, max_attempts=s.CRAYFIS_ALERT_MAX_ATTEMPTS,
                   retry_min_s=s.CRAYFIS_ALERT_RETRY_MIN_S, retry_max_s=s.CRAYFIS_ALERT_RETRY_MAX_S,
                   webhook_secret=s.CRAYFIS_ALERT_WEBHOOK_SECRET)

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or self.emails)


def payload(doc: Mapping, dashboard_path: str = "/candidates/") -> dict:
    """What an alert says about a candidate document: its public fields only."""
    out = {"event": "candidate", **{k: doc.get(k) for k in PUBLIC_FIELDS}}
    cell_location = doc.get("cell_location") or {}
    out.update(cell_lat=cell_location.get("lat"), cell_lon=cell_location.get("lon"),
               url_path=f"{dashboard_path}{doc['candidate_id']}")
    return out


def _announces(doc: Mapping, cfg: AlertConfig) -> bool:
    far = doc.get("false_alarm_per_year")
    return (doc.get("status") == ACTIVE and doc.get("public") is True and far is not None
            and math.isfinite(far) and far < cfg.far_per_year)


def queue_alerts(docs: Iterable[Mapping], cfg: AlertConfig, now_ms: int) -> list[str]:
    """Create the Alert rows for these candidate documents that are public, active, significant
    and not announced yet (under their id or any alias); returns the ids queued."""
    if not cfg.enabled:
        return []
    out = []
    for doc in docs:
        if not _announces(doc, cfg):
            continue
        cid = doc["candidate_id"]
        if Alert.objects.filter(candidate_id__in=set(doc.get("aliases") or ()) | {cid}).exists():
            continue  # this shower was announced (under this id or one it absorbed)
        try:
            with transaction.atomic():
                Alert.objects.create(
                    candidate_id=cid, payload=payload(doc), created_ms=now_ms,
                    webhook_url=cfg.webhook_url, webhook_done=not cfg.webhook_url,
                    emails=list(cfg.emails), email_done=not cfg.emails, next_attempt_ms=now_ms)
        except IntegrityError:
            continue
        out.append(cid)
    return out


# --- delivery ----------------------------------------------------------------------------------

class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as an error (urllib raises HTTPError for the 3xx): the alert goes
    only to the configured URL, never where its host points next."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def signature(body: bytes, secret: str) -> str:
    """The value of X-Crayfis-Signature: "sha256=" + hex HMAC-SHA256 of the exact body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(url: str, body: bytes, secret: str, timeout_s: float) -> None:
    """POST the body to an https URL; raises unless the answer is 2xx (a redirect included)."""
    if urllib.parse.urlsplit(url).scheme != "https":
        raise ValueError("the webhook URL must be https (CRAYFIS_ALERT_WEBHOOK_URL)")
    headers = {"Content-Type": "application/json", "User-Agent": "crayfis-search"}
    if secret:
        headers[SIGNATURE_HEADER] = signature(body, secret)
    opener = urllib.request.build_opener(_RefuseRedirects,
                                         urllib.request.HTTPSHandler(context=ssl.create_default_context()))
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    with opener.open(req, timeout=timeout_s) as resp:
        if not 200 <= resp.status < 300:
            raise urllib.error.HTTPError(url, resp.status, "not 2xx", resp.headers, None)


def send_email(alert: Alert, cfg: AlertConfig) -> None:
    p = alert.payload
    far = p.get("false_alarm_per_year")
    subject = (f"CRAYFIS candidate {p['candidate_id']}: {p['n_devices']} phones, "
               f"FAR {far:.3g}/yr" if far is not None else f"CRAYFIS candidate {p['candidate_id']}")
    send_mail(subject, json.dumps(p, indent=2, sort_keys=True), cfg.from_email, list(alert.emails),
              fail_silently=False)


Webhook = Callable[[str, bytes, str, float], None]


def _attempt(alert: Alert, channel: str, send: Callable[[], None], now_ms: int) -> str | None:
    """Run one channel's attempt and record it; returns the error, or None on success."""
    started = time.monotonic()
    try:
        send()
        error = None
    except Exception as exc:  # any failure (refused, timeout, redirect, 5xx, SMTP) is retried
        error = f"{channel}: {type(exc).__name__}: {exc}"[:2000]
    AlertAttempt.objects.create(alert=alert, channel=channel, at_ms=now_ms, ok=error is None,
                                duration_ms=int((time.monotonic() - started) * SECOND_MS), error=error or "")
    return error


def _claim(alert: Alert, now_ms: int, cfg: AlertConfig) -> bool:
    """Take a due alert for this worker: its next attempt moves past the longest backoff, so
    another worker skips it and, if this one dies mid-attempt, it is retried after that."""
    hold = now_ms + int(cfg.retry_max_s * SECOND_MS)
    return Alert.objects.filter(pk=alert.pk, next_attempt_ms=alert.next_attempt_ms).update(
        next_attempt_ms=hold) == 1


def deliver_one(alert: Alert, cfg: AlertConfig, now_ms: int, webhook: Webhook = post_webhook) -> str:
    """One attempt at each unfinished channel of a claimed alert; returns sent, retry or gave_up."""
    errors = []
    if not alert.webhook_done:
        body = json.dumps(alert.payload, sort_keys=True).encode()
        error = _attempt(alert, WEBHOOK, lambda: webhook(alert.webhook_url, body, cfg.webhook_secret,
                                                         cfg.timeout_s), now_ms)
        alert.webhook_done = error is None
        errors += [error] if error else []
    if not alert.email_done:
        error = _attempt(alert, EMAIL, lambda: send_email(alert, cfg), now_ms)
        alert.email_done = error is None
        errors += [error] if error else []
    alert.attempts += 1
    outcome = "sent"
    if alert.done:
        alert.done_ms, alert.last_error = now_ms, ""
    else:
        alert.last_error = "; ".join(errors)[:2000]
        if alert.attempts >= cfg.max_attempts:
            alert.gave_up, outcome = True, "gave_up"
            logger.error("alert %s given up after %d attempts: %s", alert.candidate_id,
                         alert.attempts, alert.last_error)
        else:
            delay = min(cfg.retry_max_s, cfg.retry_min_s * 2 ** (alert.attempts - 1))
            alert.next_attempt_ms, outcome = now_ms + int(delay * SECOND_MS), "retry"
            logger.warning("alert %s failed (attempt %d), retry in %.0f s: %s",
                           alert.candidate_id, alert.attempts, delay, alert.last_error)
    alert.save()
    return outcome


def deliver_due(cfg: AlertConfig, now_ms: int, webhook: Webhook = post_webhook) -> dict:
    """Try every due, unfinished alert once; returns counts (sent, retry, gave_up)."""
    counts = {"sent": 0, "retry": 0, "gave_up": 0}
    due = Alert.objects.filter(gave_up=False, next_attempt_ms__lte=now_ms).exclude(
        webhook_done=True, email_done=True).order_by("next_attempt_ms", "id")
    for alert in list(due):
        if _claim(alert, now_ms, cfg):
            counts[deliver_one(alert, cfg, now_ms, webhook)] += 1
    return counts

"""Alerts: a candidate whose false-alarm rate per year falls below a threshold is announced once.

``queue_alerts`` records one Alert row per candidate (the unique candidate_id makes it once;
a candidate that absorbed an already announced one, or was absorbed, is not announced again
under another id). ``deliver_due`` sends what is due: a webhook POST of the JSON payload (any
2xx is success) and an email through Django's mail backend; a failed channel is retried with
capped exponential backoff until CRAYFIS_ALERT_MAX_ATTEMPTS, then given up and logged.
"""
from __future__ import annotations

import json
import logging
import math
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from crayfis.definition import SECOND_MS
from crayfis.es.candidates import ACTIVE
from crayfis.privacy import public_cell
from search.incremental import StoredCandidate
from search.models import Alert

logger = logging.getLogger(__name__)


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

    @classmethod
    def from_settings(cls) -> AlertConfig:
        s = settings
        return cls(far_per_year=s.CRAYFIS_ALERT_FAR_PER_YEAR, webhook_url=s.CRAYFIS_ALERT_WEBHOOK_URL,
                   emails=tuple(s.CRAYFIS_ALERT_EMAILS), from_email=s.CRAYFIS_ALERT_FROM_EMAIL,
                   timeout_s=s.CRAYFIS_ALERT_TIMEOUT_S, max_attempts=s.CRAYFIS_ALERT_MAX_ATTEMPTS,
                   retry_min_s=s.CRAYFIS_ALERT_RETRY_MIN_S, retry_max_s=s.CRAYFIS_ALERT_RETRY_MAX_S)

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or self.emails)


def payload(c: StoredCandidate, score: dict, dashboard_path: str = "/candidates/") -> dict:
    """What an alert says: no exact position and no hit ids (the public cell only)."""
    comp = c.component
    cell, cell_lat, cell_lon = public_cell(comp.lat, comp.lon)
    return {
        "event": "candidate", "candidate_id": c.candidate_id, "revision": c.revision,
        "t_start_ms": comp.t_start_ms, "t_end_ms": comp.t_end_ms, "n_hits": comp.n_hits,
        "n_devices": comp.n_devices, "multiplicity": comp.multiplicity,
        "cell": cell, "cell_lat": cell_lat, "cell_lon": cell_lon,
        "expected_background": score.get("expected_background"), "p_value": score.get("p_value"),
        "false_alarm_per_year": score.get("false_alarm_per_year"),
        "url_path": f"{dashboard_path}{c.candidate_id}",
    }


def queue_alerts(candidates: Sequence[StoredCandidate], scores: dict[str, dict],
                 cfg: AlertConfig, now_ms: int) -> list[str]:
    """Create the Alert rows for newly significant candidates; returns their ids."""
    if not cfg.enabled:
        return []
    out = []
    for c in candidates:
        score = scores.get(c.candidate_id) or {}
        far = score.get("false_alarm_per_year")
        if c.status != ACTIVE or far is None or not math.isfinite(far) or far >= cfg.far_per_year:
            continue
        if Alert.objects.filter(candidate_id__in=set(c.aliases) | {c.candidate_id}).exists():
            continue  # this shower was announced (under this id or one it absorbed)
        try:
            with transaction.atomic():
                Alert.objects.create(
                    candidate_id=c.candidate_id, payload=payload(c, score), created_ms=now_ms,
                    webhook_url=cfg.webhook_url, webhook_done=not cfg.webhook_url,
                    emails=list(cfg.emails), email_done=not cfg.emails, next_attempt_ms=now_ms)
        except IntegrityError:
            continue
        out.append(c.candidate_id)
    return out


def post_webhook(url: str, body: dict, timeout_s: float) -> None:
    data = json.dumps(body, sort_keys=True).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "User-Agent": "crayfis-search"})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        if not 200 <= resp.status < 300:
            raise urllib.error.HTTPError(url, resp.status, "not 2xx", resp.headers, None)


def send_email(alert: Alert, cfg: AlertConfig) -> None:
    p = alert.payload
    subject = (f"CRAYFIS candidate {p['candidate_id']}: {p['n_devices']} phones, "
               f"FAR {p.get('false_alarm_per_year'):.3g}/yr")
    send_mail(subject, json.dumps(p, indent=2, sort_keys=True), cfg.from_email, list(alert.emails),
              fail_silently=False)


def deliver_due(cfg: AlertConfig, now_ms: int,
                webhook: Callable[[str, dict, float], None] = post_webhook) -> dict:
    """Try every due, unfinished alert once; returns counts."""
    counts = {"sent": 0, "retry": 0, "gave_up": 0}
    due = Alert.objects.filter(gave_up=False, next_attempt_ms__lte=now_ms).exclude(
        webhook_done=True, email_done=True).order_by("next_attempt_ms")
    for alert in due:
        errors = []
        if not alert.webhook_done:
            try:
                webhook(alert.webhook_url, alert.payload, cfg.timeout_s)
                alert.webhook_done = True
            except Exception as exc:  # any failure (refused, timeout, 5xx) is retried
                errors.append(f"webhook: {type(exc).__name__}: {exc}")
        if not alert.email_done:
            try:
                send_email(alert, cfg)
                alert.email_done = True
            except Exception as exc:
                errors.append(f"email: {type(exc).__name__}: {exc}")
        alert.attempts += 1
        if alert.done:
            alert.done_ms, alert.last_error = now_ms, ""
            counts["sent"] += 1
        else:
            alert.last_error = "; ".join(errors)[:2000]
            if alert.attempts >= cfg.max_attempts:
                alert.gave_up = True
                counts["gave_up"] += 1
                logger.error("alert %s given up after %d attempts: %s", alert.candidate_id,
                             alert.attempts, alert.last_error)
            else:
                delay = min(cfg.retry_max_s, cfg.retry_min_s * 2 ** (alert.attempts - 1))
                alert.next_attempt_ms = now_ms + int(delay * SECOND_MS)
                counts["retry"] += 1
                logger.warning("alert %s failed (attempt %d), retry in %.0f s: %s",
                               alert.candidate_id, alert.attempts, delay, alert.last_error)
        alert.save()
    return counts

"""Alerts: once per public candidate, webhook JSON to a real local https server (signed, no
redirects), email, every attempt recorded, retried on failure.

The trust, signature, redirect, https and attempt tests fail on main at d21fe67: it announces any
candidate, posts unsigned over any scheme, follows redirects and keeps no attempts."""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from django.core import mail
from django.core.management import call_command

from crayfis.definition import SearchParams
from search.alerts import SIGNATURE_HEADER, AlertConfig, deliver_due, queue_alerts, signature
from search.checks import alert_webhook
from search.continuous import ContinuousSearch
from search.es_candidates import candidate_source
from search.incremental import HitBatch
from search.live_significance import score_candidates
from search.models import Alert, AlertAttempt
from tests.reference.memory_store import MemoryCandidateStore, MemoryHitStore
from tests.security.receivers import self_signed_certificate

pytestmark = pytest.mark.django_db

PARAMS = SearchParams(window_ms=50, radius_m=2000.0, min_devices=3)


class Receiver:
    """An https webhook endpoint on 127.0.0.1 that fails the first `fail` requests with 500 and
    answers /moved with a redirect to /hook."""

    def __init__(self, fail: int, certificate):
        self.bodies: list[dict] = []
        self.requests: list[tuple[str, dict, bytes]] = []
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, dict(self.headers.items()), raw))
                if self.path == "/moved":
                    self.send_response(307)
                    self.send_header("Location", f"{outer.url}")
                    self.end_headers()
                    return
                outer.bodies.append(json.loads(raw))
                status = 500 if len(outer.bodies) <= outer.fail else 204
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(certificate[0]), str(certificate[1]))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.server.server_port}"
        self.url = f"{self.base}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A throw-away certificate for 127.0.0.1 that this process trusts."""
    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


@pytest.fixture
def receiver(certificate):
    r = Receiver(fail=1, certificate=certificate)
    yield r
    r.close()


def network(seed: int, shower_devices: int) -> HitBatch:
    """10 phones of noise over 10 minutes (20/min each) and one shower at t = 300 s."""
    rng = np.random.default_rng(seed)
    n = 2000
    dev = rng.integers(0, 10, n)
    t = np.sort(rng.integers(0, 600_000, n))
    lat, lon = 46.2 + 0.001 * dev, np.full(n, 6.1)
    s = np.arange(shower_devices)
    t = np.concatenate([t, 300_000 + 3 * s])
    lat, lon = np.concatenate([lat, 46.2 + 0.001 * s]), np.concatenate([lon, np.full(len(s), 6.1)])
    dev = np.concatenate([dev, s])
    return HitBatch([f"h{i}" for i in range(len(t))], [f"d{d}" for d in dev], t, lat, lon)


def run(hits: HitBatch, store=None, hit_store=None):
    hit_store = hit_store or MemoryHitStore(60_000)
    store = store or MemoryCandidateStore()
    search = ContinuousSearch(
        hit_store, store, PARAMS, 60_000,
        scorer=lambda cands, fetched: score_candidates(cands, fetched, PARAMS, 600_000, hit_store.fetch))
    report = search.run_pass(hit_store.add(hits))
    return report, store, hit_store


def config(url: str, far: float, emails=("ops@example.org",), secret: str = "") -> AlertConfig:
    return AlertConfig(far_per_year=far, webhook_url=url, emails=tuple(emails),
                       from_email="search@example.org", timeout_s=5, max_attempts=3,
                       retry_min_s=10, retry_max_s=100, webhook_secret=secret)


def documents(report, trusted=None) -> list[dict]:
    """The candidate documents a pass wrote, as the store writes them; every member trusted
    unless `trusted` names the trusted devices."""
    return [candidate_source(c, PARAMS, report.scores.get(c.candidate_id),
                             c.component.devices if trusted is None else trusted)
            for c in report.written]


def test_a_significant_candidate_is_announced_once_and_a_failed_webhook_is_retried(receiver):
    report, store, hits = run(network(1, shower_devices=9))
    shower = [c for c in report.written if c.component.multiplicity == 9]
    assert len(shower) == 1
    far = report.scores[shower[0].candidate_id]["false_alarm_per_year"]
    cfg = config(receiver.url, far=far * 10)
    # only the shower passes the threshold (noise coincidences of 3 phones are far more frequent)
    assert queue_alerts(documents(report), cfg, now_ms=1000) == [shower[0].candidate_id]

    first = deliver_due(cfg, now_ms=1000)
    assert first == {"sent": 0, "retry": 1, "gave_up": 0}  # webhook answered 500
    assert len(mail.outbox) == 1 and shower[0].candidate_id in mail.outbox[0].subject
    alert = Alert.objects.get()
    assert (alert.webhook_done, alert.email_done, alert.next_attempt_ms) == (False, True, 1000 + 10_000)
    assert deliver_due(cfg, now_ms=5000) == {"sent": 0, "retry": 0, "gave_up": 0}  # not due yet
    assert deliver_due(cfg, now_ms=11_000) == {"sent": 1, "retry": 0, "gave_up": 0}
    assert len(mail.outbox) == 1  # the email is not sent twice
    body = receiver.bodies[-1]
    assert body["candidate_id"] == shower[0].candidate_id and body["n_devices"] == 9
    assert body["false_alarm_per_year"] == pytest.approx(far)
    assert "hit_ids" not in body and body["cell"] == "46.25,6.15"
    assert "devices" not in body and "location" not in body and body["n_trusted_devices"] == 9
    attempts = list(AlertAttempt.objects.values_list("channel", "ok"))
    assert attempts == [("webhook", False), ("email", True), ("webhook", True)]

    # The shower grows (a late phone): same candidate, no second announcement.
    late = HitBatch(["late"], ["d9"], [300_001], [46.2095], [6.1])
    report2, _, _ = run(late, store, hits)
    assert report2.changes == {"grown": 1}
    assert queue_alerts(documents(report2), cfg, now_ms=20_000) == []
    assert deliver_due(cfg, now_ms=20_000) == {"sent": 0, "retry": 0, "gave_up": 0}
    assert len(receiver.bodies) == 2 and Alert.objects.count() == 1


def test_nothing_is_announced_above_the_threshold(receiver):
    report, _, _ = run(network(2, shower_devices=9))
    best = min(s["false_alarm_per_year"] for s in report.scores.values())
    assert queue_alerts(documents(report), config(receiver.url, far=best), now_ms=1) == []
    assert Alert.objects.count() == 0 and receiver.bodies == []


def test_an_unreachable_webhook_is_given_up_after_max_attempts(settings):
    report, _, _ = run(network(3, shower_devices=9))
    cfg = config("https://127.0.0.1:9/closed", far=1e30, emails=())
    queued = queue_alerts(documents(report), cfg, now_ms=0)
    assert len(queued) >= 1
    t = 0
    for _ in range(cfg.max_attempts):
        deliver_due(cfg, now_ms=t)
        t += 10**9
    assert all(a.gave_up and not a.webhook_done and a.attempts == 3 for a in Alert.objects.all())
    assert "webhook" in Alert.objects.first().last_error
    assert AlertAttempt.objects.filter(ok=False).count() == 3 * len(queued)


def test_a_candidate_without_k_trusted_members_is_not_announced(receiver):
    """Only public candidates alert: with k - 1 of the shower's phones trusted nothing is queued;
    with k it is."""
    report, _, _ = run(network(4, shower_devices=9))
    shower = next(c for c in report.written if c.component.multiplicity == 9)
    cfg = config(receiver.url, far=1e30, emails=())
    few = shower.component.devices[:PARAMS.min_devices - 1]
    assert queue_alerts([d for d in documents(report, trusted=few) if d["candidate_id"] == shower.candidate_id],
                        cfg, now_ms=0) == []
    enough = shower.component.devices[:PARAMS.min_devices]
    assert queue_alerts([d for d in documents(report, trusted=enough) if d["candidate_id"] == shower.candidate_id],
                        cfg, now_ms=0) == [shower.candidate_id]


def test_webhook_posts_are_signed_and_redirects_are_failures(receiver):
    report, _, _ = run(network(5, shower_devices=9))
    shower = next(c for c in report.written if c.component.multiplicity == 9)
    doc = next(d for d in documents(report) if d["candidate_id"] == shower.candidate_id)
    receiver.fail = 0
    signed = config(receiver.url, far=1e30, emails=(), secret="s3cret")
    queue_alerts([doc], signed, now_ms=0)
    assert deliver_due(signed, now_ms=0) == {"sent": 1, "retry": 0, "gave_up": 0}
    path, headers, raw = receiver.requests[-1]
    assert path == "/hook" and headers[SIGNATURE_HEADER] == signature(raw, "s3cret")
    assert signature(raw, "s3cret") == "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()

    Alert.objects.all().delete()
    moved = config(f"{receiver.base}/moved", far=1e30, emails=(), secret="s3cret")
    queue_alerts([doc], moved, now_ms=0)
    assert deliver_due(moved, now_ms=0) == {"sent": 0, "retry": 1, "gave_up": 0}
    assert [p for p, _, _ in receiver.requests] == ["/hook", "/moved"], "the redirect was followed"
    assert "307" in Alert.objects.get().last_error


def test_a_plain_http_webhook_is_never_posted(receiver):
    report, _, _ = run(network(6, shower_devices=9))
    cfg = config(receiver.url.replace("https://", "http://"), far=1e30, emails=())
    queue_alerts(documents(report), cfg, now_ms=0)
    counts = deliver_due(cfg, now_ms=0)
    assert counts["retry"] >= 1 and counts["sent"] == 0 and receiver.requests == []
    assert all("https" in a.error for a in AlertAttempt.objects.all())


def test_the_worker_command_delivers_the_queue_once(receiver, settings):
    report, _, _ = run(network(7, shower_devices=9))
    receiver.fail = 0
    settings.CRAYFIS_ALERT_WEBHOOK_URL, settings.CRAYFIS_ALERT_WEBHOOK_SECRET = receiver.url, "s3cret"
    settings.CRAYFIS_ALERT_EMAILS, settings.CRAYFIS_ALERT_FAR_PER_YEAR = ["ops@example.org"], 1e30
    queued = queue_alerts(documents(report), AlertConfig.from_settings(), now_ms=0)
    out = io.StringIO()
    call_command("deliver_alerts", "--once", stdout=out)
    assert json.loads(out.getvalue()) == {"sent": len(queued), "retry": 0, "gave_up": 0}
    assert len(mail.outbox) == len(queued) == len(receiver.bodies)
    assert all(SIGNATURE_HEADER in headers for _, headers, _ in receiver.requests)
    call_command("deliver_alerts", "--once", stdout=io.StringIO())       # nothing is sent twice
    assert len(mail.outbox) == len(queued) == len(receiver.bodies)


def test_the_checks_refuse_a_plain_http_webhook_and_warn_of_an_unsigned_one(settings):
    settings.CRAYFIS_ALERT_WEBHOOK_URL, settings.CRAYFIS_ALERT_WEBHOOK_SECRET = "http://example.org/hook", "s"
    assert [m.id for m in alert_webhook(None)] == ["search.E001"]
    settings.CRAYFIS_ALERT_WEBHOOK_URL, settings.CRAYFIS_ALERT_WEBHOOK_SECRET = "https://example.org/hook", ""
    assert [m.id for m in alert_webhook(None)] == ["search.W001"]
    settings.CRAYFIS_ALERT_WEBHOOK_SECRET = "s"
    assert alert_webhook(None) == []
    settings.CRAYFIS_ALERT_WEBHOOK_URL = ""
    assert alert_webhook(None) == []


def test_operators_see_every_attempt_and_can_retry_a_given_up_alert(admin_client, settings):
    report, _, _ = run(network(8, shower_devices=9))
    cfg = config("https://127.0.0.1:9/closed", far=1e30, emails=())
    (first, *_) = queue_alerts(documents(report), cfg, now_ms=0)
    for t in range(cfg.max_attempts):
        deliver_due(cfg, now_ms=t * 10**9)
    alert = Alert.objects.get(candidate_id=first)
    assert alert.gave_up
    page = admin_client.get(f"/admin/search/alert/{alert.pk}/change/").content.decode()
    assert AlertAttempt.objects.filter(alert=alert).count() == cfg.max_attempts
    assert page.count("webhook: URLError") == cfg.max_attempts + 1   # each attempt, and the last error
    admin_client.post("/admin/search/alert/", {"action": "retry_now", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert not alert.gave_up and alert.attempts == 0

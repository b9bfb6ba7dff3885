"""Finding 11, alerts: EMAIL_TIMEOUT is unset (a mail server that never answers stalls the
search), alerts are sent inline after the buckets are marked searched (a failure in between loses
them), and webhooks follow redirects, accept any scheme and are unsigned.

Trust model: alerts are queued in the same database transaction that marks the buckets
searched and delivered by a worker (`manage.py deliver_alerts`) with timeouts and retries;
webhooks are https only, never follow a redirect, and carry
`X-Crayfis-Signature: sha256=<hex HMAC-SHA256 of the body under CRAYFIS_ALERT_WEBHOOK_SECRET>`.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import threading

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
from django.db import connections

from search.models import Alert
from tests.security.actors import HOUR_MS, command_exists, missing, now_ms, search_pass
from tests.security.receivers import HungMailServer, WebhookReceiver, self_signed_certificate
from tests.security.scenes import trusted_shower

pytestmark = [pytest.mark.security, pytest.mark.django_db(transaction=True)]

SECRET = "webhook-secret-for-the-tests"


def _alerting(settings, *, webhook: str = "", emails=()) -> None:
    settings.CRAYFIS_ALERT_FAR_PER_YEAR = 1e300     # every candidate with a finite score is announced
    settings.CRAYFIS_ALERT_WEBHOOK_URL = webhook
    settings.CRAYFIS_ALERT_EMAILS = list(emails)


def deliver_alerts() -> bool:
    """One round of the alert worker (`manage.py deliver_alerts --once`); False where there is no
    worker (main delivers inline, at the end of each search pass)."""
    if not command_exists("deliver_alerts"):
        return False
    call_command("deliver_alerts", "--once", stdout=io.StringIO())
    return True


def _within(fn, seconds: float) -> tuple[bool, threading.Event]:
    """Run fn in a thread: (finished within `seconds`, the event set when it finishes)."""
    done = threading.Event()

    def run():
        try:
            fn()
        except Exception:  # a failure is the assertions' business, not the thread's
            pass
        finally:
            connections.close_all()
            done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(seconds), done


def test_a_hung_mail_server_stalls_neither_the_search_nor_the_alert_worker(client, es, es_prefix, settings):
    """Attack (or outage): the SMTP server accepts the connection and never answers.

    Property: a search pass that finds an alerting candidate finishes (within 90 s here), and
    the alert worker's round finishes too (EMAIL_TIMEOUT), leaving the alert queued for a retry.

    Fails on main at 8e37016: EMAIL_TIMEOUT is unset, so the pass's inline delivery waits for the
    greeting forever (the test gives up after 90 s); there is no alert worker.
    """
    hung = HungMailServer()
    running = []
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", hung.port
        _alerting(settings, emails=["ops@example.org"])
        trusted_shower(client, now_ms() - 3 * HOUR_MS, django_settings.CRAYFIS_SEARCH_MIN_DEVICES, search=False)
        pass_finished, done = _within(search_pass, 90)
        running.append(done)
        worker_finished = False
        if pass_finished:
            worker_finished, done = _within(deliver_alerts, 60)
            running.append(done)
    finally:
        hung.close()   # a stalled thread now sees the connection drop and ends
        for done in running:
            done.wait(60)
    assert pass_finished, "a search pass stalled on a mail server that never answers"
    assert command_exists("deliver_alerts"), "there is no alert worker (manage.py deliver_alerts)"
    assert worker_finished, "the alert worker stalled on a mail server that never answers"
    alert = Alert.objects.get()
    assert not alert.email_done and not alert.gave_up, "the alert must stay queued for a retry"


def test_an_alert_survives_a_pass_that_fails_after_its_buckets_are_marked(client, es, es_prefix, settings):
    """Attack (or outage): the search pass fails between marking its buckets searched and
    announcing (here: Elasticsearch refuses writes to the search's status index).

    Property: the next pass and the alert worker still announce the candidate (one e-mail).

    Fails on main at 8e37016: the buckets are marked searched before the status write fails, so
    no pass ever looks at them again and the alert is never queued nor sent.
    """
    _alerting(settings, emails=["ops@example.org"])
    search_pass()    # writes the status document, creating its index
    status = [n for n in es.indices.get(index=f"{es_prefix}-*", expand_wildcards="all") if "status" in n]
    assert status, "the continuous search writes a status index (adapt this test if it moved)"
    trusted_shower(client, now_ms() - 3 * HOUR_MS, django_settings.CRAYFIS_SEARCH_MIN_DEVICES, search=False)
    es.indices.put_settings(index=",".join(status), settings={"index.blocks.write": True})
    try:
        try:
            search_pass()
        except Exception:  # the pass is expected to fail; what matters is what comes after
            pass
    finally:
        es.indices.put_settings(index=",".join(status), settings={"index.blocks.write": None})
    search_pass()
    deliver_alerts()
    assert len(mail.outbox) == 1, f"{len(mail.outbox)} e-mails after a failed pass and a good one"


@pytest.fixture
def tls(tmp_path, monkeypatch):
    """An https webhook receiver whose certificate this process trusts."""
    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    receiver = WebhookReceiver(certificate=(cert, key))
    yield receiver
    receiver.close()


def _announce(client, settings, webhook: str) -> None:
    """A public shower, one search pass, one round of the alert worker."""
    _alerting(settings, webhook=webhook)
    trusted_shower(client, now_ms() - 3 * HOUR_MS, django_settings.CRAYFIS_SEARCH_MIN_DEVICES)
    deliver_alerts()


def test_webhooks_do_not_follow_redirects(client, es, es_prefix, settings, tls):
    """Attack: whoever controls the webhook endpoint (or its DNS, or a compromised host there)
    answers with a redirect to a place of his choosing.

    Property: the alert is posted to the configured https URL and the redirect is not
    followed (nothing reaches its target), and the delivery does not count as done.

    Fails on main at 8e37016: urllib follows the 302 (as a GET) to the redirect's target and
    the alert is marked delivered.
    """
    _announce(client, settings, f"{tls.url}/redirect")
    assert "/redirect" in tls.paths(), f"the alert was not posted at all: {tls.paths()}"
    assert "/stolen" not in tls.paths(), f"the webhook followed a redirect: {tls.paths()}"
    assert not Alert.objects.get().webhook_done


def test_webhooks_are_https_only(client, es, es_prefix, settings):
    """Attack: a plain-http webhook sends every alert (and, once signed, its signature) in clear
    to anyone on the path.

    Property: with an http:// webhook URL nothing is ever posted to it.

    Fails on main at 8e37016: the alert is posted over plain http.
    """
    plain = WebhookReceiver()
    try:
        try:
            _announce(client, settings, f"{plain.url}/hook")
        except Exception:  # refusing to run with an http webhook is an acceptable answer too
            pass
    finally:
        plain.close()
    assert plain.requests == [], f"an alert went out over plain http: {plain.paths()}"


def test_webhooks_are_signed_with_an_hmac_header(client, es, es_prefix, settings, tls):
    """Attack: anyone who learns the webhook URL posts forged "shower" alerts to it.

    Property: every webhook POST carries `X-Crayfis-Signature: sha256=<hex>`, the HMAC-SHA256
    of the exact body under CRAYFIS_ALERT_WEBHOOK_SECRET, so the receiver can verify it.

    Fails on main at 8e37016: webhook posts carry no signature.
    """
    note = missing("CRAYFIS_ALERT_WEBHOOK_SECRET")
    settings.CRAYFIS_ALERT_WEBHOOK_SECRET = SECRET
    _announce(client, settings, f"{tls.url}/hook")
    posts = [r for r in tls.requests if r.path == "/hook" and r.method == "POST"]
    assert len(posts) == 1, f"expected one webhook post, got {tls.paths()}"
    headers = {k.lower(): v for k, v in posts[0].headers.items()}
    expected = "sha256=" + hmac.new(SECRET.encode(), posts[0].body, hashlib.sha256).hexdigest()
    got = headers.get("x-crayfis-signature")
    assert got == expected, f"webhook signature {got!r}{note}"

"""Alerts: once per candidate, webhook JSON to a real local HTTP server, email, retried on failure."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from django.core import mail

from crayfis.definition import SearchParams
from search.alerts import AlertConfig, deliver_due, queue_alerts
from search.continuous import ContinuousSearch
from search.incremental import HitBatch
from search.live_significance import score_candidates
from search.models import Alert
from tests.reference.memory_store import MemoryCandidateStore, MemoryHitStore

pytestmark = pytest.mark.django_db

PARAMS = SearchParams(window_ms=50, radius_m=2000.0, min_devices=3)


class Receiver:
    """A webhook endpoint on 127.0.0.1 that fails the first `fail` requests with 500."""

    def __init__(self, fail: int):
        self.bodies: list[dict] = []
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                status = 500 if len(outer.bodies) <= outer.fail else 204
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver(fail=1)
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


def config(url: str, far: float, emails=("ops@example.org",)) -> AlertConfig:
    return AlertConfig(far_per_year=far, webhook_url=url, emails=tuple(emails),
                       from_email="search@example.org", timeout_s=5, max_attempts=3,
                       retry_min_s=10, retry_max_s=100)


def test_a_significant_candidate_is_announced_once_and_a_failed_webhook_is_retried(receiver):
    report, store, hits = run(network(1, shower_devices=9))
    shower = [c for c in report.written if c.component.multiplicity == 9]
    assert len(shower) == 1
    far = report.scores[shower[0].candidate_id]["false_alarm_per_year"]
    cfg = config(receiver.url, far=far * 10)
    # only the shower passes the threshold (noise coincidences of 3 phones are far more frequent)
    assert queue_alerts(report.written, report.scores, cfg, now_ms=1000) == [shower[0].candidate_id]

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

    # The shower grows (a late phone): same candidate, no second announcement.
    late = HitBatch(["late"], ["d9"], [300_001], [46.2095], [6.1])
    report2, _, _ = run(late, store, hits)
    assert report2.changes == {"grown": 1}
    assert queue_alerts(report2.written, report2.scores, cfg, now_ms=20_000) == []
    assert deliver_due(cfg, now_ms=20_000) == {"sent": 0, "retry": 0, "gave_up": 0}
    assert len(receiver.bodies) == 2 and Alert.objects.count() == 1


def test_nothing_is_announced_above_the_threshold(receiver):
    report, _, _ = run(network(2, shower_devices=9))
    best = min(s["false_alarm_per_year"] for s in report.scores.values())
    assert queue_alerts(report.written, report.scores, config(receiver.url, far=best), now_ms=1) == []
    assert Alert.objects.count() == 0 and receiver.bodies == []


def test_an_unreachable_webhook_is_given_up_after_max_attempts(settings):
    report, _, _ = run(network(3, shower_devices=9))
    cfg = config("http://127.0.0.1:9/closed", far=1e30, emails=())
    queued = queue_alerts(report.written, report.scores, cfg, now_ms=0)
    assert len(queued) >= 1
    t = 0
    for _ in range(cfg.max_attempts):
        deliver_due(cfg, now_ms=t)
        t += 10**9
    assert all(a.gave_up and not a.webhook_done and a.attempts == 3 for a in Alert.objects.all())
    assert "webhook" in Alert.objects.first().last_error

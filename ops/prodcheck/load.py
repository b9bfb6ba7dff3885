"""Phones posting through the TLS proxy the way the app does, recording every acknowledgement.

Each upload is resent, byte for byte, until it gets 200/202 with a JSON object (the app keeps
the file and resends at every flush, with no limit); anything else (502 while the web server is
down, 503 while the database is, a timeout) is a retry after a short pause. The record of which
(Device-id, sha256) got acknowledged is what the fault checks compare with PostgreSQL.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import queue
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from crayfis.sim.datachunks import Upload

CONNECT_TIMEOUT_S = 2.0   # the app's
READ_TIMEOUT_S = 5.0      # the app's
RETRY_PAUSE_S = 0.25


def upload_key(up: Upload) -> tuple[str, str]:
    """(Device-id, sha256 of the body): the raw store's unique key."""
    return up.device_id, hashlib.sha256(up.body).hexdigest()


@dataclass
class LoadReport:
    uploads: int = 0
    acked: set = field(default_factory=set)        # upload keys answered 200/202 + JSON object
    statuses: Counter = field(default_factory=Counter)   # per request: status code or "error"
    requests: int = 0
    seconds: float = 0.0
    unfinished: int = 0                            # uploads never acknowledged before the deadline

    def status_summary(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items(), key=lambda kv: str(kv[0])))


class Load:
    """Post uploads from `workers` threads at about `rate_per_s`, each until acknowledged."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, uploads: list[Upload], *,
                 workers: int = 8, rate_per_s: float = 80.0, deadline_s: float = 600.0):
        self.host, self.port, self.context = host, port, context
        self.uploads = uploads
        self.workers, self.rate_per_s, self.deadline_s = workers, rate_per_s, deadline_s
        self.report = LoadReport(uploads=len(uploads))
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._t0 = 0.0

    def acked_fraction(self) -> float:
        with self._lock:
            return len(self.report.acked) / max(1, len(self.uploads))

    def start(self) -> Load:
        self._t0 = time.monotonic()
        for i, up in enumerate(self.uploads):
            self._queue.put((self._t0 + i / self.rate_per_s, up))
        for _ in range(self.workers):
            self._queue.put(None)
            t = threading.Thread(target=self._work, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def wait(self) -> LoadReport:
        for t in self._threads:
            t.join()
        self.report.seconds = time.monotonic() - self._t0
        self.report.unfinished = len(self.uploads) - len(self.report.acked)
        return self.report

    def run_until(self, fraction: float, then: Callable[[], None], timeout_s: float = 300.0) -> None:
        """Call `then` once this share of the uploads is acknowledged (the load goes on meanwhile)."""
        deadline = time.monotonic() + timeout_s
        while self.acked_fraction() < fraction and time.monotonic() < deadline:
            time.sleep(0.05)
        then()

    def _work(self) -> None:
        conn = None
        while True:
            item = self._queue.get()
            if item is None:
                break
            due, up = item
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            conn = self._deliver(up, conn)
        if conn is not None:
            conn.close()

    def _deliver(self, up: Upload, conn):
        key = upload_key(up)
        headers = {**up.headers, "Content-length": str(len(up.body))}
        while time.monotonic() - self._t0 < self.deadline_s:
            status, body = None, b""
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection(self.host, self.port, timeout=CONNECT_TIMEOUT_S,
                                                       context=self.context)
                    conn.connect()
                    conn.sock.settimeout(READ_TIMEOUT_S)
                conn.request("POST", "/submit", body=up.body, headers=headers)
                resp = conn.getresponse()
                status, body = resp.status, resp.read()
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            with self._lock:
                self.report.requests += 1
                self.report.statuses[status if status is not None else "error"] += 1
                if status in (200, 202) and _is_json_object(body):
                    self.report.acked.add(key)
                    return conn
            time.sleep(RETRY_PAUSE_S)
        return conn


def _is_json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False

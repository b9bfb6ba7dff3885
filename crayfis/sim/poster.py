"""POST simulated uploads to a /submit URL concurrently, behaving like the app's uploader.

Per docs/wire-protocol.md sections 1-2: connect timeout 2 s, read timeout 5 s; success is 200/202
with a JSON object body (anything else, including an empty or non-object body, keeps the file
and resends the same bytes); 403 silences that device until "restart" (the end of this
poster); no backoff in the app, so retries here are immediate up to ``max_attempts`` (a
bounded stand-in for "resent at every flush"). Replies that carry commands are handed to
``on_reply`` so a live simulation can apply them. Stdlib only (http.client, threads).
"""
from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from crayfis.sim.datachunks import Upload

SUCCESS = (200, 202)


@dataclass
class PostStats:
    posted: int = 0  # uploads acknowledged (200/202 + JSON object)
    failed: int = 0  # uploads given up after max_attempts
    silenced: int = 0  # uploads not sent because their device got a 403
    attempts: int = 0  # HTTP requests made (including retries)
    bytes_sent: int = 0
    statuses: Counter = field(default_factory=Counter)  # status code (or "error") per request
    commands: Counter = field(default_factory=Counter)  # reply keys seen
    errors: list[str] = field(default_factory=list)  # a few samples


class Poster:
    """A pool of worker threads posting uploads; ``submit`` never blocks for the network."""

    def __init__(self, url: str, *, workers: int = 8, connect_timeout_s: float = 2.0,
                 read_timeout_s: float = 5.0, max_attempts: int = 5, retry_delay_s: float = 0.2,
                 on_reply: Callable[[Upload, dict], None] | None = None,
                 progress: Callable[[int, int], None] | None = None):
        parts = check_url(url)
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._path = parts.path or "/submit"
        if parts.query:
            self._path += "?" + parts.query
        self.connect_timeout_s, self.read_timeout_s = connect_timeout_s, read_timeout_s
        self.max_attempts, self.retry_delay_s = max_attempts, retry_delay_s
        self.on_reply, self.progress = on_reply, progress
        self.stats = PostStats()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._silenced: set[str] = set()
        self._submitted = 0
        self._done = 0
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crayfis-post")
        self._futures = []

    # -- public ---------------------------------------------------------------------------
    def submit(self, upload: Upload) -> None:
        with self._lock:
            self._submitted += 1
            self._futures = [f for f in self._futures if not f.done()]
            self._futures.append(self._pool.submit(self._post, upload))

    def post_all(self, uploads: Iterable[Upload], max_pending: int = 256) -> PostStats:
        """Post every upload (bounded number in flight), wait, return the stats."""
        for up in uploads:
            while True:
                with self._lock:
                    pending = self._submitted - self._done
                if pending < max_pending:
                    break
                time.sleep(0.005)
            self.submit(up)
        self.wait()
        return self.stats

    def wait(self) -> None:
        while True:
            with self._lock:
                futures = list(self._futures)
            for f in futures:
                f.result()
            with self._lock:
                if self._done >= self._submitted:
                    return

    def close(self) -> None:
        self.wait()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Poster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- worker ---------------------------------------------------------------------------
    def _post(self, up: Upload) -> None:
        try:
            self._deliver(up)
        finally:
            with self._lock:
                self._done += 1
                done, total = self._done, self._submitted
            if self.progress:
                self.progress(done, total)

    def _deliver(self, up: Upload) -> None:
        for attempt in range(self.max_attempts):
            with self._lock:
                if up.device_id in self._silenced:
                    self.stats.silenced += 1
                    return
            status, body, error = self._request(up)
            reply = _json_object(body) if status in SUCCESS else None
            with self._lock:
                self.stats.attempts += 1
                self.stats.statuses[status if status is not None else "error"] += 1
                if error and len(self.stats.errors) < 20:
                    self.stats.errors.append(error)
                if reply is not None:
                    self.stats.posted += 1
                    self.stats.bytes_sent += len(up.body)
                    self.stats.commands.update(reply.keys())
                elif status == 403:
                    self._silenced.add(up.device_id)
                    self.stats.silenced += 1
                    return
            if reply is not None:
                if reply and self.on_reply:
                    self.on_reply(up, reply)
                return
            if attempt + 1 < self.max_attempts and self.retry_delay_s:
                time.sleep(self.retry_delay_s)
        with self._lock:
            self.stats.failed += 1

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            kind = (http.client.HTTPSConnection if self._scheme == "https"
                    else http.client.HTTPConnection)
            conn = kind(self._host, self._port, timeout=self.connect_timeout_s)
            self._local.conn = conn
        return conn

    def _request(self, up: Upload) -> tuple[int | None, bytes, str | None]:
        """One POST on this thread's keep-alive connection: (status, body, error text)."""
        conn = self._connection()
        try:
            if conn.sock is None:
                conn.connect()
            conn.sock.settimeout(self.read_timeout_s)
            headers = dict(up.headers)
            headers["Content-length"] = str(len(up.body))
            conn.request("POST", self._path, body=up.body, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.will_close:
                conn.close()
            return resp.status, body, None
        except (TimeoutError, OSError, http.client.HTTPException) as e:
            conn.close()
            return None, b"", f"{type(e).__name__}: {e}"


def check_url(url: str):
    """The split URL, or ValueError unless it is http(s)://host[:port]/path."""
    parts = urlsplit(url)
    try:
        _ = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        raise ValueError(f"bad port in URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return parts


def post_uploads(url: str, uploads: Iterable[Upload], **kwargs) -> PostStats:
    """Post all uploads to url (see Poster for the options) and return the stats."""
    with Poster(url, **kwargs) as poster:
        return poster.post_all(uploads)


def _json_object(body: bytes) -> dict | None:
    """The reply as a dict if it is a JSON object (what the app can apply), else None."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None

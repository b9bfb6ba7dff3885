"""The poster against a real local HTTP server: app-like success, retry and 403 rules."""
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crayfis.sim.datachunks import Upload
from crayfis.sim.poster import Poster, post_uploads


class Server:
    """Records every request; replies follow a per-device script, then 202 {}."""

    def __init__(self):
        self.requests = []
        self.script = {}  # device id -> list of (status, body) for its first requests
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-length"]))
                device = self.headers["Device-id"]
                with outer.lock:
                    outer.requests.append((self.path, dict(self.headers), body))
                    queue = outer.script.get(device, [])
                    status, reply = queue.pop(0) if queue else (202, b"{}")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/submit"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def upload(device, i):
    body = f"{device}-{i}".encode() * 50
    return Upload(device, "00000000-0000-4000-8000-000000000000", body,
                  {"Content-type": "application/octet-stream", "Device-id": device,
                   "Run-id": "00000000-0000-4000-8000-000000000000",
                   "Crayfis-version": "b v1.0.4", "Crayfis-version-code": "256",
                   "Camera-id": "0"}, 0, 1, 1)


def test_all_uploads_arrive_once_with_headers(server):
    ups = [upload(f"{d:016x}", i) for d in range(5) for i in range(20)]
    progress = []
    stats = post_uploads(server.url, ups, workers=4, progress=lambda d, t: progress.append(d))
    assert stats.posted == 100 and stats.failed == 0 and stats.attempts == 100
    got = sorted(hashlib.sha256(b).hexdigest() for _, _, b in server.requests)
    assert got == sorted(hashlib.sha256(u.body).hexdigest() for u in ups)
    path, headers, _ = server.requests[0]
    assert path == "/submit"
    assert headers["Crayfis-version"] == "b v1.0.4" and headers["Camera-id"] == "0"
    assert max(progress) == 100


def test_failures_are_resent_byte_identical_until_accepted(server):
    dev = "00000000000000aa"
    # 500, then a 200 with an empty body (the app cannot apply it: keeps the file), then 202 {}.
    server.script[dev] = [(500, b"oops"), (200, b""), (202, b"{}")]
    stats = post_uploads(server.url, [upload(dev, 0)], retry_delay_s=0)
    bodies = [b for _, h, b in server.requests if h["Device-id"] == dev]
    assert len(bodies) == 3 and len(set(bodies)) == 1
    assert stats.posted == 1 and stats.attempts == 3
    assert stats.statuses[500] == 1 and stats.statuses[200] == 1 and stats.statuses[202] == 1


def test_gives_up_after_max_attempts(server):
    dev = "00000000000000bb"
    server.script[dev] = [(503, b"")] * 10
    stats = post_uploads(server.url, [upload(dev, 0)], max_attempts=3, retry_delay_s=0)
    assert stats.failed == 1 and stats.posted == 0 and stats.attempts == 3


def test_403_silences_the_device_only(server):
    bad, good = "00000000000000cc", "00000000000000dd"
    server.script[bad] = [(403, b"{}")]
    ups = [upload(bad, i) for i in range(5)] + [upload(good, i) for i in range(5)]
    stats = post_uploads(server.url, ups, workers=1)
    assert sum(1 for _, h, _ in server.requests if h["Device-id"] == bad) == 1
    assert stats.silenced == 5 and stats.posted == 5


def test_replies_with_commands_reach_on_reply(server):
    dev = "00000000000000ee"
    server.script[dev] = [(202, json.dumps({"set_datachunk_size": 20000}).encode())]
    seen = []
    with Poster(server.url, on_reply=lambda up, reply: seen.append((up.device_id, reply))) as p:
        p.submit(upload(dev, 0))
        p.submit(upload("00000000000000ef", 0))
    assert seen == [(dev, {"set_datachunk_size": 20000})]
    assert p.stats.commands["set_datachunk_size"] == 1


def test_unreachable_server_counts_failures():
    stats = post_uploads("http://127.0.0.1:9/submit", [upload("0000000000000001", 0)],
                         max_attempts=2, retry_delay_s=0, connect_timeout_s=0.5)
    assert stats.failed == 1 and stats.statuses["error"] == 2 and stats.errors


def test_bad_url_is_refused():
    with pytest.raises(ValueError):
        Poster("ftp://example.org/submit")

"""The door of /submit (issue 16): rates, client address, chunked and empty bodies, Device-ids,
a missing App-code; the same answers from the Django view, ingest.wsgi and ingest.asgi.

On main at d21fe67 every test here but the two "accepted" ones fails: no rate exists, an empty or
chunked body is stored empty with a 202, any Device-id is stored, a missing App-code passes."""
from __future__ import annotations

import asyncio
import io
import json

import pytest

from ingest.asgi import application as asgi_application
from ingest.models import Upload
from ingest.wsgi import application as wsgi_application
from tests.ingest.conftest import B_HEADERS, post_submit, wsgi_headers

pytestmark = pytest.mark.django_db(transaction=True)


def _django(client, body: bytes, headers: dict, addr: str = "127.0.0.1", **extra):
    resp = client.post("/submit", data=body, content_type="application/octet-stream", REMOTE_ADDR=addr,
                       **wsgi_headers(headers), **extra)
    return resp.status_code, resp.get("Retry-After")


def wsgi_call(body: bytes, headers: dict, addr: str = "127.0.0.1", chunked: bool = False,
              **environ) -> tuple[int, dict, bytes]:
    """(status, headers, body) of ingest.wsgi's answer to one POST /submit; `chunked` hands the
    body on as a server hands on a chunked one (no CONTENT_LENGTH)."""
    env = {"REQUEST_METHOD": "POST", "PATH_INFO": "/submit", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
           "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
           "CONTENT_TYPE": "application/octet-stream", "REMOTE_ADDR": addr, **wsgi_headers(headers), **environ}
    if chunked:
        env["HTTP_TRANSFER_ENCODING"] = "chunked"
    else:
        env["CONTENT_LENGTH"] = str(len(body))
    got = {}

    def start_response(status, hdrs):
        got["status"], got["headers"] = int(status.split()[0]), dict(hdrs)

    content = b"".join(wsgi_application(env, start_response))
    return got["status"], got["headers"], content


def _wsgi(client, body: bytes, headers: dict, addr: str = "127.0.0.1", **extra):
    status, hdrs, _ = wsgi_call(body, headers, addr, **extra)
    return status, hdrs.get("Retry-After")


def asgi_call(body: bytes, headers: dict, addr: str = "127.0.0.1") -> tuple[int, dict, bytes]:
    """(status, headers, body) of ingest.asgi's answer to one POST /submit."""
    raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/submit", "raw_path": b"/submit", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode())] + raw,
             "client": (addr, 40000), "server": ("127.0.0.1", 8000)}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()

    async def send(message):
        sent.append(message)

    asyncio.run(asgi_application(scope, receive, send))
    return (sent[0]["status"], {k.decode(): v.decode() for k, v in sent[0]["headers"]},
            b"".join(m.get("body", b"") for m in sent[1:]))


def _asgi(client, body: bytes, headers: dict, addr: str = "127.0.0.1", **extra):
    status, hdrs, _ = asgi_call(body, dict(headers, **extra), addr)
    return status, hdrs.get("retry-after")


ENTRY_POINTS = {"django": _django, "wsgi": _wsgi, "asgi": _asgi}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_past_the_device_rate_a_429_says_when_to_come_back_and_stores_nothing(client, settings, entry):
    settings.CRAYFIS_INGEST_RATE_PER_DEVICE = "2/min"
    post = ENTRY_POINTS[entry]
    answers = [post(client, b"body %d" % i, B_HEADERS, addr=f"192.0.2.{i}") for i in range(4)]
    assert [a[0] for a in answers] == [202, 202, 429, 429]
    assert all(int(a[1]) >= 1 for a in answers[2:]) and answers[0][1] is None
    assert Upload.objects.count() == 2


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_past_the_address_rate_new_device_ids_do_not_help(client, settings, entry):
    settings.CRAYFIS_INGEST_RATE_PER_IP = "2/min"
    post = ENTRY_POINTS[entry]
    statuses = [post(client, b"x", dict(B_HEADERS, **{"Device-id": f"{i:016x}"}), addr="192.0.2.9")[0]
                for i in range(4)]
    assert statuses == [202, 202, 429, 429]
    assert post(client, b"x", dict(B_HEADERS, **{"Device-id": "feed"}), addr="192.0.2.10")[0] == 202


def test_a_forged_forwarded_for_does_not_escape_the_address_rate(client, settings):
    """Without a trusted proxy the header is the client's own words: ignored."""
    settings.CRAYFIS_INGEST_RATE_PER_IP = "2/min"
    settings.CRAYFIS_API_NUM_PROXIES = 0
    statuses = [_django(client, b"x", dict(B_HEADERS, **{"Device-id": f"{i:016x}"}), addr="192.0.2.20",
                        HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")[0] for i in range(3)]
    assert statuses == [202, 202, 429]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_behind_a_trusted_proxy_the_forwarded_client_is_counted_and_stored(client, settings, entry):
    settings.CRAYFIS_INGEST_RATE_PER_IP = "2/min"
    settings.CRAYFIS_API_NUM_PROXIES = 1
    post = ENTRY_POINTS[entry]
    key = "HTTP_X_FORWARDED_FOR" if entry != "asgi" else "X-Forwarded-For"

    def via_proxy(i, client_addr, forged=""):
        forwarded = f"{forged}, {client_addr}" if forged else client_addr
        return post(client, b"x%d" % i, dict(B_HEADERS, **{"Device-id": f"{i:016x}"}), addr="127.0.0.1",
                    **{key: forwarded})[0]

    # the proxy's address is the same for everyone; the forwarded client decides the bucket, and
    # whatever the client wrote left of it does not
    assert [via_proxy(i, "198.51.100.1", forged=f"10.9.9.{i}") for i in range(3)] == [202, 202, 429]
    assert via_proxy(3, "198.51.100.2") == 202
    assert set(Upload.objects.values_list("remote_addr", flat=True)) == {"198.51.100.1", "198.51.100.2"}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_an_empty_body_is_400(client, entry):
    assert ENTRY_POINTS[entry](client, b"", B_HEADERS)[0] == 400
    assert not Upload.objects.exists()


def _chunked(body: bytes, terminated: bool) -> tuple[int, dict, bytes]:
    return wsgi_call(body, B_HEADERS, chunked=True, **({"wsgi.input_terminated": True} if terminated else {}))


def test_a_chunked_body_is_read_to_its_end_when_the_server_marks_it():
    body = bytes(range(256)) * 40
    assert _chunked(body, terminated=True)[0] == 202
    assert bytes(Upload.objects.get().body) == body


def test_a_chunked_body_over_the_cap_is_413(settings):
    settings.CRAYFIS_INGEST_MAX_BODY_BYTES = 1000
    assert _chunked(b"\x01" * 1001, terminated=True)[0] == 413
    assert not Upload.objects.exists()


def test_a_chunked_body_whose_end_the_server_does_not_mark_is_411():
    status, _, content = _chunked(b"\x01" * 10, terminated=False)
    assert status == 411 and "Content-Length" in json.loads(content)["error"]
    assert not Upload.objects.exists()


@pytest.mark.parametrize("device_id", ["3f1a9c0b5e7d2468", "9774d56d682e549c", "phone-7", "api-0a1b", "A" * 128,
                                       "  3f1a9c0b5e7d2468  "])
def test_device_ids_the_app_and_other_clients_send_are_accepted(client, device_id):
    assert post_submit(client, b"x", dict(B_HEADERS, **{"Device-id": device_id})).status_code == 202
    assert Upload.objects.get().device_id == device_id.strip()


@pytest.mark.parametrize("device_id", ["3f1a 9c0b", "3f1a\t9c0b", "caf\u00e9", "A" * 129, "3f1a9c0b\x00"])
def test_device_ids_with_spaces_control_characters_or_beyond_ascii_are_400(client, device_id):
    resp = post_submit(client, b"x", dict(B_HEADERS, **{"Device-id": device_id}))
    assert resp.status_code == 400 and "Device-id" in json.loads(resp.content)["error"]
    assert not Upload.objects.exists()


def test_precal_json_applies_the_same_device_id_rule(client):
    resp = client.post("/precal.json", data=json.dumps({"device_id": "3f1a\x1b[31m", "camera_id": 0, "res": "1x1"}),
                       content_type="application/json")
    assert resp.status_code == 400


def test_without_enforcement_an_upload_without_app_code_is_still_accepted(client, settings):
    settings.CRAYFIS_INGEST_ENFORCE_APP_CODES = False
    assert post_submit(client, b"x").status_code == 202
    assert Upload.objects.get().unlinked is False


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_with_enforcement_a_missing_app_code_is_401_like_an_unknown_one(client, settings, entry):
    settings.CRAYFIS_INGEST_ENFORCE_APP_CODES = True
    post = ENTRY_POINTS[entry]
    assert post(client, b"x", B_HEADERS)[0] == 401
    assert post(client, b"y", dict(B_HEADERS, **{"App-code": "nobody-knows-me"}))[0] == 401
    assert not Upload.objects.exists()

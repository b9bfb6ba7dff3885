"""The people in the attack tests and what they can do, through the product's own doors only.

- a *phone* posts DataChunks to /submit exactly as the v1.0.4 app does (headers, protobuf body
  built by crayfis.wire.build); an attacker's forged phone is the same thing with an invented
  Device-id, any position and any times;
- an *operator* runs management commands (the indexer, the continuous search, trust and
  quarantine commands);
- an *anonymous reader* reads the JSON API, the dashboards' JSON and the pages;
- a *scientist* reads the API with a read key.

Nothing here reaches into a private helper of the product: the interfaces are HTTP, management
commands, settings names and the Elasticsearch documents.
"""
from __future__ import annotations

import io
import json
import re
import time
import uuid
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.management import CommandError, call_command

from crayfis.privacy import pseudonym
from crayfis.wire import build

RES = (1920, 1080)
# A public 0.1-degree cell ("46.25,6.15", spanning 46.2-46.3 N, 6.1-6.2 E) and its centre.
CELL = "46.25,6.15"
CELL_LAT, CELL_LON = 46.25, 6.15
METRES_PER_DEGREE_LAT = 111_195.0
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def north_of(lat: float, metres: float) -> float:
    """The latitude `metres` north of `lat` (along a meridian)."""
    return lat + metres / METRES_PER_DEGREE_LAT


def public_name(device_id: str) -> str:
    """The device's public pseudonym (what its device page is keyed by)."""
    return pseudonym(device_id, settings.CRAYFIS_PSEUDONYM_KEY)


# --- phones --------------------------------------------------------------------------------------

def event(t_ms: int, lat: float, lon: float, *, xbn: int, with_nano: bool = True, pixel=(10, 10)):
    """One v1.0.4 event with one L2 pixel; `with_nano=False` leaves timestamp_nano unset."""
    return build.event(t_ms, xbn=xbn, timestamp_nano=t_ms * 1_000_000 if with_nano else None,
                       hits=[pixel], values=lambda x, y: 200, res=RES, lat=lat, lon=lon, accuracy=5.0)


FRAME_MS = 33


def exposure_block(run, xbn: int, events: Sequence, *, block_ms: int | None = None):
    """A DATA exposure block around `events` (pb.Event objects, at least one).

    Without `block_ms` the block spans the events (+- 1 ms, 100 frames); with it, the block is
    `block_ms` long, centred on the events, with a frame every 33 ms (its live time counts as
    exposure on the dashboards).
    """
    times = [ev.timestamp for ev in events]
    if block_ms is None:
        start, end, frames = min(times) - 1, max(times) + 1, 100
    else:
        start = (min(times) + max(times)) // 2 - block_ms // 2
        end, frames = start + block_ms, block_ms // FRAME_MS
    first = events[0]
    return build.exposure_block(run, xbn=xbn, start_ms=start, end_ms=end, events=events,
                                lat=first.gps_lat, lon=first.gps_lon, res=RES,
                                processed=[frames, frames, frames, len(events)],
                                passed=[1, frames, len(events), len(events)])


def chunk(device_id: str, blocks: Sequence[Sequence], *, precals: Iterable = (), run=None,
          app_code: str | None = None, block_ms: int | None = None) -> tuple[bytes, dict]:
    """(body, headers) of one upload: one exposure block per entry of `blocks`.

    Each block is a list of (t_ms, lat, lon) tuples or ready pb.Event objects; blocks are
    numbered xbn 1, 2, ...
    """
    run = run or uuid.uuid5(uuid.NAMESPACE_URL, f"run:{device_id}")
    xbs, first_t = [], None
    for xbn, block in enumerate(blocks, start=1):
        events = [e if not isinstance(e, tuple) else event(*e, xbn=xbn) for e in block]
        first_t = min([first_t or events[0].timestamp] + [e.timestamp for e in events])
        xbs.append(exposure_block(run, xbn, events, block_ms=block_ms))
    precals = list(precals)
    start = (first_t or now_ms()) - 60_000
    body = build.data_chunk(run_configs=[build.run_config(run, start_ms=start, res=RES)],
                            exposure_blocks=xbs, precalibration_results=precals)
    headers = {k: v for k, v in build.submit_headers(device_id, run).items() if k != "Content-type"}
    if app_code:
        headers["App-code"] = app_code
    return body, headers


def wsgi_headers(headers: dict) -> dict:
    return {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}


def post_submit(client, body: bytes, headers: dict, *, remote_addr: str = "127.0.0.1"):
    """POST /submit as the app does; returns the response (the caller decides what it expects)."""
    return client.post("/submit", data=body, content_type="application/octet-stream",
                       REMOTE_ADDR=remote_addr, **wsgi_headers(headers))


def phone_posts(client, device_id: str, blocks, **kwargs) -> int:
    """Build and post one upload; returns the HTTP status."""
    remote_addr = kwargs.pop("remote_addr", "127.0.0.1")
    body, headers = chunk(device_id, blocks, **kwargs)
    return post_submit(client, body, headers, remote_addr=remote_addr).status_code


# --- operator ----------------------------------------------------------------------------------

def refresh_indices() -> None:
    """Make every acknowledged document searchable now (instead of within the refresh interval)."""
    from elasticsearch import Elasticsearch

    with Elasticsearch(settings.CRAYFIS_ES_URL, request_timeout=30) as es:
        es.indices.refresh(index=f"{settings.CRAYFIS_ES_PREFIX}-*", ignore_unavailable=True,
                           allow_no_indices=True)


def index_uploads() -> dict:
    """manage.py index_uploads --once, then a refresh; returns the command's JSON summary."""
    out = io.StringIO()
    call_command("index_uploads", "--once", stdout=out, verbosity=0)
    refresh_indices()
    lines = [line for line in out.getvalue().splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def search_pass() -> None:
    """manage.py search_continuously --once: one pass of the continuous search (settings' tau, R, k)."""
    call_command("search_continuously", "--once", stdout=io.StringIO(), verbosity=0)


def command_exists(name: str) -> bool:
    from django.core.management import get_commands

    return name in get_commands()


def operator_approves(*device_ids: str) -> bool:
    """`manage.py trust_device <Device-id>...`: operator approval. False where the command is
    missing (the caller asserts it existed only after its own property, so a test fails on main
    for the attack it shows)."""
    if not command_exists("trust_device"):
        return False
    call_command("trust_device", *device_ids, stdout=io.StringIO())
    return True


def operator_releases(*upload_ids: int) -> bool:
    """`manage.py release_quarantine <upload id>...`; False where the command is missing."""
    if not command_exists("release_quarantine"):
        return False
    try:
        call_command("release_quarantine", *[str(i) for i in upload_ids], stdout=io.StringIO())
    except CommandError:
        return True   # e.g. "not quarantined": refused, which is what a second release should be
    return True


def missing(*names: str) -> str:
    """' (missing: X, Y)' for settings names not defined yet, for assertion messages."""
    absent = [n for n in names if not hasattr(settings, n)]
    return f" (settings not defined yet: {', '.join(absent)})" if absent else ""


# --- readers ---------------------------------------------------------------------------------------

def get_json(client, url: str, **extra):
    """(status, parsed JSON or None) of a GET."""
    resp = client.get(url, **extra)
    content = b"".join(resp.streaming_content) if resp.streaming else resp.content
    try:
        return resp.status_code, json.loads(content)
    except ValueError:
        return resp.status_code, None


_JSON_SCRIPT = re.compile(r'<script id="([^"]+)" type="application/json">(.*?)</script>', re.S)


def page_data(client, url: str) -> tuple[int, dict]:
    """(status, {script id: data}) of a page: the JSON a page embeds for its first paint."""
    resp = client.get(url)
    html = resp.content.decode()
    return resp.status_code, {m.group(1): json.loads(m.group(2)) for m in _JSON_SCRIPT.finditer(html)}


def walk(obj, path: str = ""):
    """Every (path, key or index, value) in a JSON document, depth first."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path, k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield path, i, v
            yield from walk(v, f"{path}[{i}]")


def strings_in(obj) -> set[str]:
    """Every string anywhere in a JSON document (keys and values)."""
    out: set[str] = set()
    for _, k, v in walk(obj):
        if isinstance(k, str):
            out.add(k)
        if isinstance(v, str):
            out.add(v)
    if isinstance(obj, str):
        out.add(obj)
    return out

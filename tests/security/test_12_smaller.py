"""Finding 12, the smaller items: malformed JSON answered with an HTML 500, a pseudonym key that
silently derives from SECRET_KEY, Device-ids with control characters, a new-key page that
browsers and proxies may cache, and dependency floors that allow Django releases with known SQL
injection flaws."""
from __future__ import annotations

import re
import tomllib

import pytest
from django.test import Client

from ingest.models import Upload
from tests.security.actors import CELL_LAT, CELL_LON, HOUR_MS, chunk, now_ms, post_submit
from tests.security.asgi_client import asgi_post
from tests.security.conftest import key_auth
from tests.security.production import REPO, manage, production_env

pytestmark = [pytest.mark.security]

# Django 5.2 releases that fixed SQL injection flaws (Django's security archive): the floor must
# be at least the newest of them.
DJANGO_SQL_INJECTION_FIXES = {
    "CVE-2025-57833": (5, 2, 6),    # FilteredRelation column aliases
    "CVE-2025-59681": (5, 2, 7),    # annotate/alias/aggregate/extra column aliases (MySQL, MariaDB)
    "CVE-2025-64459": (5, 2, 8),    # the _connector argument of QuerySet and Q
    "CVE-2025-13372": (5, 2, 9),    # FilteredRelation column aliases (PostgreSQL)
    "CVE-2026-1207": (5, 2, 11),    # raster lookups (PostGIS)
    "CVE-2026-1287": (5, 2, 11),    # column aliases via control characters
    "CVE-2026-1312": (5, 2, 11),    # QuerySet.order_by and FilteredRelation
}


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"upload_id": 1e999}'], ids=["deep", "1e999"])
def test_malformed_json_uploads_get_a_json_400(body, django_user_model):
    """Attack: POST /api/v1/uploads with JSON nested 100,000 deep, or a number that overflows to
    infinity.

    Property: 400 with a JSON error body (application/json), nothing stored.

    Fails on main at 8e37016: both end in an HTML 500 (a RecursionError, and msgspec's "Number
    out of range" escaping the error handling).
    """
    from accounts.services import register_device

    user = django_user_model.objects.create_user("pi-owner", password="Raspberry-Pi-Owner-2026")
    _, key = register_device(user, "roof camera", "camera")
    client = Client(raise_request_exception=False)
    resp = client.generic("POST", "/api/v1/uploads", body, content_type="application/json", **key_auth(key))
    assert resp.status_code == 400 and resp["Content-Type"].startswith("application/json"), \
        (resp.status_code, resp["Content-Type"], resp.content[:200])
    assert not Upload.objects.exists()


def test_the_pseudonym_key_is_required_outside_debug(tmp_path):
    """Attack: the pseudonym key silently derives from SECRET_KEY, so whoever learns SECRET_KEY
    (or an operator who rotates it) can recompute (or silently changes) every public pseudonym.

    Property: outside debug, without CRAYFIS_PSEUDONYM_KEY, management commands stop with one
    clear line naming CRAYFIS_PSEUDONYM_KEY (no traceback) and a non-zero exit.

    Fails on main at 8e37016: `manage.py check` passes and the key is derived from SECRET_KEY.
    """
    proc = manage(production_env(tmp_path, CRAYFIS_PSEUDONYM_KEY=None), "check")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "CRAYFIS_PSEUDONYM_KEY" in output and "Traceback" not in output, \
        f"exit {proc.returncode}: {output[-1500:]}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("device_id", ["3f1a9c0b\x005e7d2468", "3f1a9c0b\x1b[31m", "3f1a9c0b\r\nX-Forged: 1",
                                       "3f1a9c0b\x7f"], ids=["nul", "escape", "crlf", "del"])
def test_device_ids_with_control_characters_are_refused(client, device_id):
    """Attack: a Device-id holding NUL, terminal escapes or CR/LF poisons logs, the admin and
    any export that prints it (and NUL breaks PostgreSQL text columns).

    Property: /submit answers 400 (the Django view and ingest.asgi alike) and stores nothing.

    Fails on main at 8e37016: such Device-ids are stored and answered 202.
    """
    body, headers = chunk("3f1a9c0b5e7d2468", [[(now_ms() - HOUR_MS, CELL_LAT, CELL_LON)]])
    headers["Device-id"] = device_id
    statuses = {"django": post_submit(client, body, headers).status_code,
                "asgi": asgi_post("/submit", body + b"\x00", headers)[0]}
    assert statuses == {"django": 400, "asgi": 400} and not Upload.objects.exists(), \
        f"{device_id!r}: {statuses}, stored {Upload.objects.count()}"
    assert post_submit(client, body, chunk("3f1a9c0b5e7d2468", [])[1]).status_code == 202


@pytest.mark.django_db
def test_pages_showing_a_new_key_are_not_cached(client, django_user_model):
    """Attack: the page that shows a new API key once may be kept by the browser's cache or a
    shared proxy, and read back by the next person at that computer.

    Property: every reply that shows a new key (device key on registration, a new device key, a
    new read key) says `Cache-Control: no-store`.

    Fails on main at 8e37016: those replies carry no Cache-Control header.
    """
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("vol", password="Volunteer-Keys-2026")
    user.user_permissions.add(Permission.objects.get(codename="read_exact_hits"))
    client.force_login(user)
    replies = {"register": client.post("/accounts/devices/", {"name": "roof camera", "kind": "camera"})}
    from accounts.models import RegisteredDevice

    reg = RegisteredDevice.objects.get(user=user)
    replies["new_device_key"] = client.post(f"/accounts/devices/{reg.pk}/keys/")
    replies["new_read_key"] = client.post("/accounts/read-keys/", {"name": "analysis"})
    assert {name: r.status_code for name, r in replies.items()} == dict.fromkeys(replies, 201)
    cache = {name: r.get("Cache-Control", "") for name, r in replies.items()}
    assert all("no-store" in c for c in cache.values()), f"Cache-Control of key pages: {cache}"


def _floor(requirement: str) -> tuple[int, ...]:
    match = re.search(r">=\s*([0-9][0-9.]*)", requirement)
    return tuple(int(p) for p in match.group(1).split(".")) if match else (0,)


def test_dependency_floors_exclude_django_releases_with_sql_injection_fixes():
    """Attack: an install that resolves to an old Django 5.2.x inherits its published SQL
    injection flaws (pip keeps whatever satisfies the floor).

    Property: pyproject.toml's Django floor is at least the newest 5.2 release that fixed a
    published SQL injection (DJANGO_SQL_INJECTION_FIXES above).

    Fails on main at 8e37016: the floor is 5.2, below all seven fixes.
    """
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (django,) = [d for d in project["dependencies"] if re.match(r"django\s*[<>=!~ ]", d, re.I)]
    need = max(DJANGO_SQL_INJECTION_FIXES.values())
    missed = sorted(cve for cve, fixed in DJANGO_SQL_INJECTION_FIXES.items() if _floor(django) < fixed)
    assert _floor(django) >= need, f"{django!r} admits releases without the fixes for {missed}"

"""Check 2: Chromium signs up, logs out, logs in and makes a device key, all through https; the
key then uploads through https; the public candidates page renders.

Chromium (Debian's, driven by Playwright as tests/dashboards/test_browser.py drives it) trusts
exactly this run's certificate, by the pin of its public key: a form that fails Django's CSRF
origin check behind the proxy (no SECURE_PROXY_SSL_HEADER) shows up here as a 403.
"""
from __future__ import annotations

import json
import secrets
import time
import uuid
from urllib.parse import urlparse

from playwright import sync_api

from ops.prodcheck.errors import CheckFailed
from ops.prodcheck.ports import HOST
from ops.prodcheck.topology import Topology

ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 30_000


def run(topo: Topology, context: dict, progress) -> None:
    user, password = f"prodcheck-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    shots = topo.root / "screenshots"
    shots.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=topo.tools.chromium,
                                    args=[*ARGS, f"--ignore-certificate-errors-spki-list={topo.cert.spki_sha256}"])
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            errors, hosts, statuses = [], set(), []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda req: hosts.add(urlparse(req.url).hostname))
            page.on("response", lambda r: statuses.append((r.status, r.url)) if r.status >= 400 else None)
            key = _account_flow(page, topo.base_url, user, password, progress)
            page.screenshot(path=str(shots / "account.png"), full_page=True)
            n_rows = _candidates_page(page, topo.base_url, context)
            page.screenshot(path=str(shots / "candidates.png"), full_page=True)
        finally:
            browser.close()
    if errors or statuses:
        raise CheckFailed(f"the browser saw errors: {errors[:2]} {statuses[:3]}")
    if hosts != {HOST}:
        raise CheckFailed(f"pages loaded from other hosts: {sorted(h for h in hosts if h != HOST)}")
    progress(f"browser: candidates page lists {n_rows} candidates, every request to {HOST} over https")
    _upload_with_key(topo, key)
    counters = topo.redis_keys("*throttle*")
    if not counters:
        raise CheckFailed("the upload's throttle counter is not in the shared Redis cache")
    progress(f"api: the new device key uploads through https (202 accepted); throttle counters in "
             f"Redis: {len(counters)}")


def _account_flow(page, base: str, user: str, password: str, progress) -> str:
    page.goto(f"{base}/accounts/signup/")
    page.fill("#id_username", user)
    page.fill("#id_password1", password)
    page.fill("#id_password2", password)
    page.click("form button[type=submit]")
    _expect_page(page, f"{base}/accounts/", "#app-code", "sign-up")
    progress(f"browser: signed up as {user} (app code {page.inner_text('#app-code')})")
    page.click("text=Log out")
    _expect_page(page, f"{base}/accounts/login/", "#id_username", "log-out")
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    page.click("form button[type=submit]")
    _expect_page(page, f"{base}/accounts/", "#app-code", "log-in")
    page.fill("#id_name", "prod-check detector")
    page.click("text=Register and make a key")
    page.wait_for_selector("#new-key", timeout=TIMEOUT_MS)
    first = page.inner_text("#new-key").strip()
    page.click("text=New key")
    _wait_until(page, "k => !!document.querySelector('#new-key') && "
                      "document.querySelector('#new-key').innerText.trim() !== k", first, "a second key")
    key = page.inner_text("#new-key").strip()
    progress(f"browser: logged out and in, registered a detector and made a second key ({key[:8]}...)")
    return key


def _wait_until(page, predicate: str, arg, what: str) -> None:
    """Poll ``predicate(arg)`` in the page until it holds. Evaluated from here (Playwright's
    evaluate is not subject to the page's CSP); ``wait_for_function`` compiles its string inside
    the page, which the site's Content-Security-Policy (no 'unsafe-eval') forbids."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not page.evaluate(predicate, arg):
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out waiting for {what} on {page.url}")
        time.sleep(0.2)


def _expect_page(page, url: str, selector: str, step: str) -> None:
    try:
        page.wait_for_url(url, timeout=TIMEOUT_MS)
        page.wait_for_selector(selector, timeout=TIMEOUT_MS)
    except Exception as exc:  # Playwright's TimeoutError: say which step and where the browser is
        text = page.inner_text("body")[:200].replace("\n", " ")
        raise CheckFailed(f"{step}: expected {url}, the browser shows {page.url}: {text!r}") from exc


def _candidates_page(page, base: str, context: dict) -> int:
    page.goto(f"{base}/candidates/")
    expected = len(context.get("truth", {}).get("showers", []))
    if expected:
        _wait_until(page, "n => document.querySelectorAll('table tbody tr').length >= n", expected,
                    f"{expected} candidates listed")
    return page.locator("table tbody tr").count()


def _upload_with_key(topo: Topology, key: str) -> None:
    now = int(time.time() * 1000)
    body = {"upload_id": str(uuid.uuid4()),
            "detector": {"kind": "other", "model": "prod-check", "build": "1"},
            "blocks": [{"start_ms": now - 60_000, "end_ms": now,
                        "location": {"lat": 46.2, "lon": 6.1, "accuracy": 20.0},
                        "hits": [{"t_ms": now - 30_000, "amplitude": 100}]}]}
    status, reply = topo.request("POST", "/api/v1/uploads", json.dumps(body).encode(),
                                 {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"})
    if status != 202 or json.loads(reply).get("status") != "accepted":
        raise CheckFailed(f"an upload with the new key answered {status}: {reply[:200]!r}")

"""The owner's phone pages in real headless Chromium: logging in through the form, a paired phone
whose quarantined upload shows its reason, charts drawn, the gallery's images loaded, anonymous
visitors sent to log in, another account's phone not found; every request to this server only."""
from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest

from tests.accounts.owners import PASSWORD, claim_of, index_uploads, owner, post_garbage, post_phone, recent_network
from tests.browser import SHOTS, local_url
from tests.core.quality import phones as sim

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_path}")


@pytest.fixture
def scene(client, django_user_model, es, es_prefix):
    """Hana's phone (camera not covered) with an unreadable upload among its own, indexed; Ivan
    has an account and no phone. Set up before the browser starts (Playwright's event loop and
    Django's database calls do not share a thread)."""
    hana, code = owner(django_user_model, "hana")
    owner(django_user_model, "ivan")
    result, phones = recent_network()
    phone = sim.uncovered(sim.well_behaved(result, phones)[0])
    post_phone(client, phone, code)
    post_garbage(client, phone.device_id, code)
    index_uploads()
    return phone, claim_of(hana, phone.device_id).pk


def test_owner_pages_in_a_browser(scene, browser, live_server, settings):
    base = local_url(live_server, settings)
    settings.CRAYFIS_OWNER_GALLERY_PAGE = 8
    phone, claim_id = scene
    phone_path, gallery_path = f"/accounts/phones/{claim_id}/", f"/accounts/phones/{claim_id}/events/"
    SHOTS.mkdir(parents=True, exist_ok=True)

    context = browser.new_context(viewport={"width": 1100, "height": 900})
    hosts, errors = [], []
    context.on("request", lambda req: hosts.append(urlparse(req.url).hostname))
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # anonymous: sent to the login page, then back to the phone once logged in
    page.goto(base + phone_path)
    assert urlparse(page.url).path == "/accounts/login/"
    log_in(page, base, "hana", phone_path)
    assert page.inner_text("h1") == f"Your phone …{phone.device_id[-4:]}"
    assert "the server could not read it" in page.inner_text("#uploads")         # the quarantine's reason
    assert "quarantined" in page.inner_text("#fate-counts")
    assert "camera not covered" in page.inner_text("#quality")
    page.wait_for_selector("#rate-chart[data-rendered='1'] .scatterlayer .trace", state="attached", timeout=30_000)
    page.wait_for_selector("#exposure-chart[data-rendered='1'] .barlayer .trace", state="attached", timeout=30_000)
    page.screenshot(path=str(SHOTS / "owner-phone.png"), full_page=True)

    page.click("#gallery-link")
    page.wait_for_url(base + gallery_path)
    images = page.locator(".gallery img")
    assert images.count() == 8
    # polled from here: wait_for_function compiles its string in the page, which the CSP forbids
    deadline = time.monotonic() + 30
    while not images.evaluate_all("imgs => imgs.every(img => img.complete && img.naturalWidth > 0)"):
        assert time.monotonic() < deadline, "gallery images did not load"
        time.sleep(0.2)
    assert page.locator(".gallery figcaption b").first.inner_text() in {"spot", "track", "worm", "noise"}
    page.screenshot(path=str(SHOTS / "owner-gallery.png"), full_page=True)
    context.close()

    # someone else's phone: not found, images included
    context = browser.new_context()
    context.on("request", lambda req: hosts.append(urlparse(req.url).hostname))
    page = context.new_page()
    log_in(page, base, "ivan", "/accounts/")
    for path in (phone_path, gallery_path):
        assert page.goto(base + path).status == 404
    assert page.goto(base + "/accounts/phones/").status == 200 and "…" + phone.device_id[-4:] not in page.content()
    context.close()
    assert not errors
    assert set(hosts) == {"127.0.0.1"}

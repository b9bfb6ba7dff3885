"""End to end in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
the home page draws its map and charts from this server alone and keeps polling."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser import SHOTS
from tests.browser import local_url as _local

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def _open(browser, viewport):
    context = browser.new_context(viewport=viewport)
    hosts = []
    context.on("request", lambda req: hosts.append(urlparse(req.url).hostname))
    return context, context.new_page(), hosts


def test_home_draws_map_and_charts_from_this_server_only(browser, live_server, dash, settings):
    settings.CRAYFIS_DASH_POLL_S = 1.0
    base = _local(live_server, settings)
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page, hosts = _open(browser, {"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base + "/")
    # the map: outlines from the vendored topojson, one marker per occupied tile
    page.wait_for_selector("#map[data-rendered='1'] .geo path.land, #map[data-rendered='1'] .land",
                           state="attached", timeout=30_000)
    assert page.locator("#map .countries path, #map path.countries").count() > 0
    # it opens on where the phones are (a network of 0.4 km), not on a continent
    lat0, lat1 = page.evaluate("document.getElementById('map')._fullLayout.geo.lataxis.range")
    lon0, lon1 = page.evaluate("document.getElementById('map')._fullLayout.geo.lonaxis.range")
    assert lat1 - lat0 <= 2.0 and lon1 - lon0 <= 4.0
    assert all(lat0 < x["cell_location"]["lat"] < lat1 and lon0 < x["cell_location"]["lon"] < lon1
               for x in dash.exposures if x["cell_location"])
    n_tiles = len({(x["cell_location"]["lat"], x["cell_location"]["lon"]) for x in dash.exposures
                   if x["end_ms"] >= dash.now_ms - 600_000})
    assert page.locator("#map .scattergeo .point, #map .scattergeo path.point").count() == n_tiles
    page.wait_for_selector("#rates[data-rendered='1'] .scatterlayer .trace", state="attached", timeout=30_000)
    assert page.inner_text("#ov-active10") == str(len(dash.raw_ids))
    assert page.inner_text("#cls-noise") == f"{dash.hits_by_class['noise']:,}"
    assert page.locator("#latest-table tbody tr").count() == len(dash.candidates)
    # it keeps itself live: a poll of the JSON endpoints arrives after the first paint
    with page.expect_response(lambda r: "/api/dash/overview" in r.url and r.status == 200, timeout=10_000):
        pass
    page.screenshot(path=str(SHOTS / "dashboard-home.png"), full_page=True)

    cand = dash.candidates[0]["candidate_id"]
    page.goto(f"{base}/candidates/{cand}/")
    page.wait_for_selector("#cand-mult[data-rendered='1'] .barlayer .trace", state="attached",
                           timeout=30_000)
    # multiplicity against the background: observed candidates beside the expected accidental windows
    names = page.evaluate("document.getElementById('cand-mult').data.map(t => t.name)")
    assert names == ["observed candidates", "expected by accident"]
    page.wait_for_selector("#cand-map[data-rendered='1'] .land", state="attached", timeout=30_000)
    page.screenshot(path=str(SHOTS / "dashboard-candidate.png"), full_page=True)

    page.goto(f"{base}/device/{dash.candidates[0]['devices'][0]}/")
    page.wait_for_selector("#dev-rate[data-rendered='1'] .scatterlayer .trace", state="attached", timeout=30_000)
    page.screenshot(path=str(SHOTS / "dashboard-device.png"), full_page=True)
    page.goto(f"{base}/leaderboard/")
    page.wait_for_selector("#lb-table tbody tr", timeout=30_000)
    page.screenshot(path=str(SHOTS / "dashboard-leaderboard.png"), full_page=True)
    context.close()

    assert not errors
    assert hosts and set(hosts) == {"127.0.0.1"}, set(hosts)


def test_home_fits_a_phone_screen(browser, live_server, dash, settings):
    base = _local(live_server, settings)
    context, page, hosts = _open(browser, {"width": 390, "height": 844})
    page.goto(base + "/")
    page.wait_for_selector("#map[data-rendered='1'] .land", state="attached", timeout=30_000)
    page.wait_for_selector("#rates[data-rendered='1'] .scatterlayer .trace", state="attached", timeout=30_000)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.screenshot(path=str(SHOTS / "dashboard-home-phone.png"), full_page=True)
    context.close()
    assert set(hosts) == {"127.0.0.1"}


def test_a_page_over_its_budget_waits_for_retry_after(browser, live_server, dash, settings):
    """The candidates page polls two endpoints a second here; past the client's budget the
    answers are 429 and the page holds its polls back for Retry-After instead of polling on."""
    settings.CRAYFIS_DASH_POLL_S = 1.0
    settings.CRAYFIS_DASH_CACHE_S = 0       # every poll reaches the server (max-age=0)
    settings.CRAYFIS_DASH_RATE = "5/min"    # the page, then two polls of two endpoints
    base = _local(live_server, settings)
    context, page, _ = _open(browser, {"width": 1280, "height": 900})
    polls, sent = [], []
    page.on("request", lambda r: sent.append(r.url) if "/api/dash/" in r.url else None)
    page.on("response", lambda r: polls.append((r.status, r.url)) if "/api/dash/" in r.url else None)
    page.goto(base + "/candidates/")
    deadline = 20
    while not any(status == 429 for status, _ in polls) and deadline:
        page.wait_for_timeout(500)
        deadline -= 1
    assert [s for s, _ in polls].count(429) >= 1, polls
    # A poll round fetches its endpoints together, so the round that met the first 429 may
    # still have answers in flight; what must stop is new requests.
    asked = len(sent)
    page.wait_for_timeout(4_000)                                # four poll periods
    context.close()
    assert len(sent) == asked, sent[asked:]

"""No page or endpoint shows a raw device id or an exact position of the indexed data."""
from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.django_db


def _urls(net) -> list[str]:
    urls = ["/", "/candidates/", "/leaderboard/", "/api/dash/overview", "/api/dash/rates?span=24h",
            "/api/dash/rates?span=7d", "/api/dash/map?window=10m", "/api/dash/map?window=24h",
            "/api/dash/candidates?retracted=1&limit=100", "/api/dash/leaderboard", "/api/dash/status"]
    for cand in net.candidates + [{"candidate_id": net.retracted_id}]:
        urls += [f"/candidates/{cand['candidate_id']}/", f"/api/dash/candidates/{cand['candidate_id']}"]
    for pseud in net.pseudonyms.values():
        urls += [f"/device/{pseud}/", f"/api/dash/device/{pseud}"]
    return urls


def _truncated(value: float, decimals: int = 4) -> str:
    """The exact coordinate's first digits, as any rendering of it would start."""
    scale = 10 ** decimals
    return f"{math.trunc(value * scale) / scale:.{decimals}f}"


def test_no_raw_device_id_or_exact_position_anywhere(client, dash):
    exact = set()
    for lat, lon in dash.exact_points:
        exact.add(_truncated(lat))
        exact.add(_truncated(lon))
    for cand in dash.candidates:  # exact candidate centroids too
        exact.add(_truncated(cand["lat"]))
        exact.add(_truncated(cand["lon"]))
    assert len(exact) >= 50  # the scan has real data to look for (a 0.4 km network)
    pages = 0
    for url in _urls(dash):
        resp = client.get(url)
        assert resp.status_code == 200, url
        text = resp.content.decode()
        pages += 1
        leaked_ids = [raw for raw in dash.raw_ids if raw in text]
        assert not leaked_ids, (url, leaked_ids[:3])
        leaked_points = [v for v in exact if v in text]
        assert not leaked_points, (url, leaked_points[:3])
        assert '"location"' not in text and '"hit_ids"' not in text, url
        assert '"offset_ms"' not in text and '"devices": [' not in text, url   # no member lists
    assert pages == len(_urls(dash))


def test_the_scan_would_catch_a_leak(dash):
    """Guard against a scan that cannot fail: an exact value and a raw id are found when present."""
    lat, lon = dash.exact_points[0]
    text = f'{{"lat": {lat}, "lon": {lon}, "id": "{dash.raw_ids[0]}"}}'
    assert _truncated(lat) in text and dash.raw_ids[0] in text

"""Finding 6, the passive leak at cell edges: a candidate whose members straddle two public cells
places every member within about 2R of the shared edge, when per-hit cells are listed.

No attacker action is needed: a real shower next to a cell edge, read anonymously.
"""
from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from crayfis.privacy import public_cell
from tests.security.actors import HOUR_MS, get_json, now_ms, page_data, walk
from tests.security.conftest import key_auth
from tests.security.scenes import trusted_shower

pytestmark = [pytest.mark.security, pytest.mark.django_db(transaction=True)]


def cells_named(data) -> set[str]:
    """Every public cell a reply names: `cell` values and any (lat, lon) / (cell_lat, cell_lon) pair."""
    out = {v for _, k, v in walk(data) if k == "cell" and isinstance(v, str)}
    for _, _, v in walk(data):
        if isinstance(v, dict):
            for la, lo in (("lat", "lon"), ("cell_lat", "cell_lon")):
                if isinstance(v.get(la), (int, float)) and isinstance(v.get(lo), (int, float)):
                    out.add(public_cell(float(v[la]), float(v[lo]))[0])
    return out


def test_a_candidate_across_a_cell_edge_names_one_cell(client, es, es_prefix, scientist):
    """Attack: read a public candidate whose members lie on both sides of a cell edge; the
    per-hit cells say that each member is within ~2R of that edge.

    Property: every anonymous view of the candidate (API v1, dashboards list and detail, the
    candidate page) names exactly one public cell, the one of its centroid.

    Fails on main at 8e37016: /api/dash/candidates/<id> (and the page) list each hit's cell and
    a per-cell breakdown, naming both cells.
    """
    k = django_settings.CRAYFIS_SEARCH_MIN_DEVICES
    shower = trusted_shower(client, now_ms() - 5 * HOUR_MS, k)
    member_cells = {public_cell(lat, lon)[0] for lat, lon in shower.positions.values()}
    assert len(member_cells) == 2, "the scene must straddle a cell edge"
    status, keyed = get_json(client, f"/api/v1/candidates?{shower.span}", **key_auth(scientist[1]))
    assert status == 200 and keyed["results"]
    cid, centroid_cell = keyed["results"][0]["candidate_id"], keyed["results"][0]["cell"]

    views = {"api_v1": get_json(client, f"/api/v1/candidates?{shower.span}")[1],
             "dash_list": get_json(client, "/api/dash/candidates")[1],
             "dash_detail": get_json(client, f"/api/dash/candidates/{cid}")[1],
             "page": page_data(client, f"/candidates/{cid}/")[1].get("dash-initial", {}).get("candidate")}
    named = {name: sorted(cells_named(data)) for name, data in views.items()}
    assert all(cells == [centroid_cell] for cells in named.values()), \
        f"anonymous views name more than the centroid's cell {centroid_cell}: {named}"
    assert shower.approved, "manage.py trust_device (operator approval) does not exist"

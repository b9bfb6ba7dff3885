"""Finding 1, the coincidence oracle: public hit times, public pseudonyms, forgeable phones and
public candidate member lists together locate a phone far more finely than its public cell.

The end-to-end test runs the attack twice, in two worlds that differ only in where the victim's
phone lies inside one public cell (within R of the attacker's probe point, or well outside), and
asserts that everything an anonymous reader can fetch is the same in both: then no inference
the attacker can draw says more than "somewhere in this cell". The other tests pin the public
view the trust model allows (docs/security.md): hit reads without device identity and with whole
seconds, device pages with hourly counts and no candidates, public candidates with counts only.
"""
from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.management import call_command

from crayfis.privacy import public_cell
from tests.security.actors import (
    CELL,
    CELL_LAT,
    CELL_LON,
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    get_json,
    index_uploads,
    north_of,
    now_ms,
    operator_approves,
    page_data,
    phone_posts,
    public_name,
    search_pass,
    strings_in,
    walk,
)
from tests.security.conftest import key_auth
from tests.security.scenes import trusted_shower

pytestmark = [pytest.mark.security, pytest.mark.django_db(transaction=True)]

VICTIM = "7a11e7000000c0de"
PROBE = (CELL_LAT, CELL_LON)                      # where the attacker puts his forged phones
INSIDE_M, OUTSIDE_M = 40.0, 450.0                 # victim's distance north of the probe, same cell
# Keys whose values depend on the wall clock of the read, not on the data.
VOLATILE = {"now_ms", "since_ms", "updated_at", "created_ms", "last_pass_ms"}


def _victim_times(base: int) -> list[int]:
    """Three hits 50 minutes apart, at odd milliseconds."""
    return [base + i * 50 * MINUTE_MS + 437 + 101 * i for i in range(3)]


def _normal(obj):
    """The data of a reply without what depends only on when it was read."""
    if isinstance(obj, dict):
        if isinstance(obj.get("t_ms"), list) and isinstance(obj.get("hits_per_min"), list):
            return {"nonzero": {t: v for t, v in zip(obj["t_ms"], obj["hits_per_min"]) if v}}
        return {k: _normal(v) for k, v in obj.items()
                if k not in VOLATILE and not (k == "status" and isinstance(v, dict))}
    if isinstance(obj, (list, tuple)):
        return [_normal(v) for v in obj]
    return obj


def attacker_view(client, victim: str, span: str) -> dict:
    """Everything an anonymous client can read about the network and the victim's device page."""
    for cache in caches.all():   # the attacker waits out every cache and throttle window
        cache.clear()
    urls = {"hits": f"/api/v1/hits?{span}&limit=5000",
            "hits_of_victim": f"/api/v1/hits?{span}&limit=5000&device={victim}",
            "candidates": f"/api/v1/candidates?{span}&limit=5000",
            "candidates_of_victim": f"/api/v1/candidates?{span}&device={victim}",
            "network_stats": f"/api/v1/network/stats?{span}",
            "dash_overview": "/api/dash/overview",
            "dash_candidates": "/api/dash/candidates?limit=100",
            "dash_device": f"/api/dash/device/{victim}",
            "dash_leaderboard": "/api/dash/leaderboard"}
    view = {name: get_json(client, url) for name, url in urls.items()}
    for name, url in {"page_device": f"/device/{victim}/", "page_candidates": "/candidates/",
                      "page_leaderboard": "/leaderboard/", "page_home": "/"}.items():
        view[name] = page_data(client, url)
    ids = sorted({v for _, k, v in walk(view) if k == "candidate_id" and isinstance(v, str)})
    for cid in ids:
        view[f"dash_candidate {cid}"] = get_json(client, f"/api/dash/candidates/{cid}")
        view[f"page_candidate {cid}"] = page_data(client, f"/candidates/{cid}/")
    return _normal(view)


def _times_the_attacker_uses(view: dict, victim: str, true_times: list[int], tau: int) -> list[int]:
    """The victim's hit times as the public reads give them; if they give none, the true times
    (the worst case: learned elsewhere). Whole seconds are blanketed every tau ms, which
    catches the victim's hit just as well."""
    status, page = view["hits_of_victim"]
    rows = page["results"] if status == 200 and page else []
    if not rows:
        status, page = view["hits"]
        rows = [r for r in (page or {}).get("results", []) if r.get("device") == victim]
    times = sorted({int(r["t_ms"]) for r in rows}) or true_times
    if all(t % 1000 == 0 for t in times):
        times = [s + j for s in times for j in range(0, 1000, max(tau, 1))]
    return times


def _world(client, victim_lat: float, times: list[int]) -> list[dict]:
    """One run of the attack: the victim's history, a read, the forged probe, a read."""
    k, tau = django_settings.CRAYFIS_SEARCH_MIN_DEVICES, django_settings.CRAYFIS_SEARCH_WINDOW_MS
    span = f"from_ms={times[0] - DAY_MS}&to_ms={times[-1] + DAY_MS}"
    assert phone_posts(client, VICTIM, [[(t, victim_lat, CELL_LON)] for t in times],
                       block_ms=40 * MINUTE_MS, remote_addr="192.0.2.200") == 202
    index_uploads()
    operator_approves(VICTIM)
    search_pass()
    pseudonym = public_name(VICTIM)
    before = attacker_view(client, pseudonym, span)
    probe_times = _times_the_attacker_uses(before, pseudonym, times, tau)
    for i in range(k - 1):   # forged phones at the probe point, one hit at each victim time
        phone_posts(client, f"0f0f{i:012x}", [[(t, *PROBE) for t in probe_times]],
                    remote_addr=f"198.51.100.{i + 1}")
    index_uploads()
    search_pass()
    return [before, attacker_view(client, pseudonym, span)]


def _differences(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                out.append(f"{path}.{key}: only {'inside' if key in a else 'outside'}")
            else:
                out += _differences(a[key], b[key], f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: inside {str(a)[:150]} / outside {str(b)[:150]}"]


def test_coincidence_oracle_locates_no_phone_finer_than_its_public_cell(client, es, es_prefix, other_prefix,
                                                                         settings):
    """Attack (finding 1): the victim's phone (trusted: operator-approved) has a history of
    hits. The attacker reads the victim's hit times from the anonymous API (or, where they are
    whole seconds, blankets each second every tau ms; where they are not public at all, he is
    given them: the worst case), places k-1 forged phones at a probe point P with one hit at
    each of those times through /submit, waits for the continuous search, and reads everything
    anonymous again: candidates, counts, device page, leaderboard, pages.

    Property: the attacker's whole anonymous view, before and after the probe, is the same
    whether the victim lies 40 m or 450 m from P (R = 150 m by default), in the same public
    cell: what he can conclude about the victim's position is no finer than the cell.

    Fails on main at 8e37016: with the victim within R of P the probe makes a public candidate
    listing the victim's pseudonym (API, dashboards, pages), the victim's device page lists it
    and the counts (overview, network stats, leaderboard) go up; 450 m away nothing happens.
    """
    base = now_ms() - 3 * DAY_MS
    times = _victim_times(base)
    inside_lat, outside_lat = north_of(PROBE[0], INSIDE_M), north_of(PROBE[0], OUTSIDE_M)
    assert all(public_cell(lat, CELL_LON)[0] == CELL for lat in (inside_lat, outside_lat, PROBE[0]))
    inside = _world(client, inside_lat, times)

    call_command("flush", interactive=False, verbosity=0)   # the same database, but empty again
    settings.CRAYFIS_ES_PREFIX = other_prefix
    outside = _world(client, outside_lat, times)

    hits_status, hits_page = inside[0]["hits"]
    assert hits_status == 200 and len(hits_page["results"]) == len(times), "anonymous hit reads must still work"
    assert inside[0]["dash_device"][0] == 200, "the victim's device page must still be public"
    for phase, a, b in (("before the probe", inside[0], outside[0]), ("after the probe", inside[1], outside[1])):
        diff = _differences(a, b)
        assert not diff, (f"{phase}, anonymous readers can tell whether the victim is within R of the "
                          f"probe ({len(diff)} differences):\n" + "\n".join(diff[:25]))
    assert operator_approves(VICTIM), "manage.py trust_device (operator approval) does not exist"


def test_anonymous_hit_reads_carry_no_device_identity_and_whole_seconds(client, es, es_prefix, scientist):
    """Attack: the per-device hit times that drive the oracle are read anonymously from
    /api/v1/hits (device pseudonym on every hit, a `device` filter, millisecond times).

    Property: anonymous hit reads (JSON pages and, where allowed, NDJSON) carry no device
    identity (no pseudonym anywhere in the reply) and times in whole seconds; the `device` filter
    is refused to anonymous readers on hits and on candidates (4xx). A scientist's key still
    reads each hit's device and its exact millisecond time.

    Fails on main at 8e37016: every anonymous hit carries its device pseudonym and its exact
    t_ms, and `?device=<pseudonym>` filters hits and candidates for anyone.
    """
    times = _victim_times(now_ms() - 3 * DAY_MS)
    assert phone_posts(client, VICTIM, [[(t, CELL_LAT, CELL_LON)] for t in times]) == 202
    index_uploads()
    pseudonym = public_name(VICTIM)
    span = f"from_ms={times[0] - HOUR_MS}&to_ms={times[-1] + HOUR_MS}"

    status, page = get_json(client, f"/api/v1/hits?{span}")
    assert status == 200 and len(page["results"]) == len(times)
    leaks = {"pseudonym": pseudonym in strings_in(page),
             "device_field": [r.get("device") for r in page["results"] if r.get("device")],
             "sub_second_times": [r["t_ms"] for r in page["results"] if r["t_ms"] % 1000]}
    assert leaks == {"pseudonym": False, "device_field": [], "sub_second_times": []}, \
        f"anonymous hit reads identify the device and its exact times: {leaks}"
    stream = client.get(f"/api/v1/hits?{span}&format=ndjson")
    if stream.status_code == 200:
        body = b"".join(stream.streaming_content).decode()
        assert pseudonym not in body and '"device"' not in body
    filtered = {name: get_json(client, f"/api/v1/{name}?{span}&device={pseudonym}")[0]
                for name in ("hits", "candidates")}
    assert all(400 <= s < 500 for s in filtered.values()), f"anonymous device filters answered {filtered}"

    status, keyed = get_json(client, f"/api/v1/hits?{span}", **key_auth(scientist[1]))
    assert status == 200
    assert sorted((r["device"], r["t_ms"]) for r in keyed["results"]) == [(pseudonym, t) for t in times]


def test_device_page_shows_hourly_counts_and_no_candidates(client, es, es_prefix, scientist):
    """Attack: the public device page joins a pseudonym to its exact first/last hit times and to
    the candidates it is in, which is the oracle's read-out.

    Property: a device page (JSON and HTML) shows times no finer than the hour and names no
    candidate, even when the device is a member of a public candidate.

    Fails on main at 8e37016: /api/dash/device/<pseudonym> gives first_hit_ms/last_hit_ms to the
    millisecond and lists the device's candidates with their ids and times.
    """
    k = django_settings.CRAYFIS_SEARCH_MIN_DEVICES
    shower = trusted_shower(client, now_ms() - 5 * HOUR_MS, k)
    status, keyed = get_json(client, f"/api/v1/candidates?{shower.span}", **key_auth(scientist[1]))
    assert status == 200 and keyed["results"], "the shower must be found"
    cid = keyed["results"][0]["candidate_id"]
    member = public_name(shower.trusted[0])

    status, device = get_json(client, f"/api/dash/device/{member}")
    assert status == 200
    _, page = page_data(client, f"/device/{member}/")
    for name, data in (("JSON", device), ("page", page["dash-initial"]["device"])):
        fine = sorted({(p, k_, v) for p, k_, v in walk(data)
                       if isinstance(k_, str) and k_.endswith("_ms") and k_ != "bucket_ms"
                       and isinstance(v, int) and v % HOUR_MS})
        named = [k_ for _, k_, _ in walk(data) if isinstance(k_, str) and "candidate" in k_.lower()]
        assert not fine and cid not in strings_in(data) and not named, \
            (f"device page ({name}) has sub-hour times {fine[:5]} or names candidates "
             f"(id listed: {cid in strings_in(data)}, keys {sorted(set(named))[:5]})")
    assert shower.approved, "manage.py trust_device (operator approval) does not exist"


def test_public_candidates_show_counts_not_members(client, es, es_prefix, scientist):
    """Attack: public candidates list member pseudonyms, hit ids, per-hit cells and member time
    offsets: the oracle's answer and a locator of their own.

    Property: a public candidate (k trusted phones and one untrusted) shows, anonymously, its
    counts (n_devices, n_trusted_devices, multiplicity), times, public cell and significance,
    and no member pseudonym, hit id or member offset anywhere (API v1, dashboards JSON, the
    candidate page). A scientist's key sees every member and which of them are trusted
    (`devices`, `trusted_devices`).

    Fails on main at 8e37016: /api/v1/candidates lists `devices` and `hit_ids`, and the
    candidate detail lists each hit's device, offset_ms and cell.
    """
    k = django_settings.CRAYFIS_SEARCH_MIN_DEVICES
    shower = trusted_shower(client, now_ms() - 5 * HOUR_MS, k, untrusted=1)
    status, keyed = get_json(client, f"/api/v1/candidates?{shower.span}", **key_auth(scientist[1]))
    assert status == 200 and keyed["results"]
    cid = keyed["results"][0]["candidate_id"]

    views = {"api_v1": get_json(client, f"/api/v1/candidates?{shower.span}")[1],
             "dash_list": get_json(client, "/api/dash/candidates")[1],
             "dash_detail": get_json(client, f"/api/dash/candidates/{cid}")[1],
             "page": page_data(client, f"/candidates/{cid}/")[1]}
    html = client.get(f"/candidates/{cid}/").content.decode()
    for name, data in views.items():
        leaked = sorted(shower.pseudonyms & strings_in(data))
        offsets = [f"{p}.{k_}" for p, k_, _ in walk(data) if k_ in ("offset_ms", "hit_ids", "hit_id")]
        assert not leaked and not offsets, f"{name} shows members: pseudonyms {leaked[:3]}, fields {offsets[:3]}"
    assert not [p for p in shower.pseudonyms if p in html]
    (public,) = [c for c in views["api_v1"]["results"] if c["candidate_id"] == cid]
    assert public["n_devices"] == k + 1 and public.get("n_trusted_devices") == k
    assert public["multiplicity"] == k + 1 and public["cell"] is not None and public["t_start_ms"] is not None

    (sci,) = [c for c in keyed["results"] if c["candidate_id"] == cid]
    assert sorted(sci["devices"]) == sorted(shower.pseudonyms)
    assert sorted(sci.get("trusted_devices") or []) == sorted(public_name(d) for d in shower.trusted)
    assert shower.approved, "manage.py trust_device (operator approval) does not exist"

"""Every reader answers the same on hit schema 1 and hit schema 2, and on a mix of both.

The same simulated uploads (a network that runs across a month boundary, so two monthly hit
indices) are indexed three times: under schema 1 (crayfis/es/legacy.py: the mapping and the
documents hit indices created before schema 2 hold), under schema 2 (today's), and mixed (the
first month's index in schema 1, the second in schema 2, as a cluster holds them after the
upgrade). Then the JSON of every dashboard endpoint and of the read API (pages, cursors, boxes
with edges on hit positions and on public cell centres, NDJSON, Parquet, network stats) and
the continuous search's hit reads are compared across the three.
"""
from __future__ import annotations

import numpy as np
import pytest
from django.core.cache import caches
from elasticsearch import helpers

from crayfis.es.documents import build_actions
from crayfis.es.legacy import HITS_V1, hit_actions_v1
from crayfis.es.templates import ensure_templates
from crayfis.privacy import pseudonym
from crayfis.sim.config import FleetConfig, ShowerConfig, SimConfig
from crayfis.sim.datachunks import iter_uploads
from crayfis.sim.network import simulate_network
from crayfis.wire.decode import decode_submit
from search.es_hits import EsHitSource
from tests.api.conftest import auth, scientist  # noqa: F401  (fixture, used by name)
from tests.dashboards.netdata import _shower_candidates

pytestmark = pytest.mark.django_db

START_MS = 1_769_903_100_000  # 2026-01-31T23:45Z: the hits span two monthly indices
HOURS = 0.5
NOW_MS = START_MS + int(HOURS * 3_600_000) + 120_000


def _v1_hit_template(es, name: str, pattern: str) -> None:
    """Hit indices matching `pattern` are created with schema 1 (stored _source, its mapping)."""
    es.indices.put_index_template(name=name, index_patterns=[pattern], priority=900, template={
        "settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": HITS_V1})


@pytest.fixture(scope="module")
def uploads():
    cfg = SimConfig(start_ms=START_MS, hours=HOURS,
                    fleet=FleetConfig(n_phones=15, area_km=0.4, center_lat=46.2, center_lon=6.1,
                                      duty_cycle="always", rate_per_min=6.0, hot_fraction=0.1,
                                      hot_factor=(6.0, 8.0)),
                    showers=ShowerConfig(natural=False, forced=4, forced_energy_min_eV=3e20,
                                         response="optimistic"))
    result = simulate_network(cfg, 3)
    return result, list(iter_uploads(result, 3))


@pytest.fixture
def three_indexings(es, es_prefix, settings, uploads):
    """{"v1": prefix, "v2": prefix, "mixed": prefix}, the same uploads indexed under each."""
    result, ups = uploads
    key = settings.CRAYFIS_PSEUDONYM_KEY
    prefixes = {name: f"{es_prefix}-{name}" for name in ("v1", "v2", "mixed")}
    _v1_hit_template(es, f"{prefixes['v1']}-hitsv1", f"{prefixes['v1']}-hits-*")
    _v1_hit_template(es, f"{prefixes['mixed']}-hitsv1", f"{prefixes['mixed']}-hits-2026.01")
    base, v1_hits = [], []
    for up in ups:
        chunk = decode_submit(up.body, up.headers, with_pixels=False)
        base += build_actions(chunk, prefix="P", key=key, device_id=up.device_id, received_ms=up.send_ms)
        v1_hits += hit_actions_v1(chunk, prefix="P", key=key, device_id=up.device_id, received_ms=up.send_ms)
    v2_hits = [a for a in base if a["_index"].startswith("P-hits-")]
    others = [a for a in base if not a["_index"].startswith("P-hits-")]
    assert [a["_id"] for a in v1_hits] == [a["_id"] for a in v2_hits]
    assert {a["_index"] for a in v2_hits} == {"P-hits-2026.01", "P-hits-2026.02"}
    candidates = _shower_candidates(result, [a["_source"] for a in v2_hits],
                                    {d: pseudonym(d, key) for d in map(str, result.fleet.device_id)}, NOW_MS)
    assert len(candidates) >= 2
    for name, prefix in prefixes.items():
        ensure_templates(es, prefix)
        hits = {"v1": v1_hits, "v2": v2_hits}.get(name)
        if hits is None:  # mixed: January as schema 1 wrote it, February as schema 2 does
            hits = [a for a in v1_hits if a["_index"] == "P-hits-2026.01"] + [
                a for a in v2_hits if a["_index"] == "P-hits-2026.02"]
        actions = [dict(a, _index=prefix + a["_index"][1:]) for a in others + hits]
        actions += [{"_index": f"{prefix}-candidates", "_id": c["candidate_id"],
                     "_source": {k: v for k, v in c.items() if k not in ("lat", "lon")}}  # truth, not document
                    for c in candidates]
        ok, errors = helpers.bulk(es, actions, refresh="wait_for", chunk_size=5000, raise_on_error=False)
        assert not errors and ok == len(actions)
    mappings = es.indices.get_mapping(index=f"{prefixes['mixed']}-hits-*")
    kinds = {i.rsplit("-", 1)[1]: m["mappings"]["properties"]["t_ms"]["type"] for i, m in mappings.items()}
    assert kinds == {"2026.01": "date", "2026.02": "long"}
    return prefixes, candidates, sorted({a["_source"]["device"] for a in v2_hits}), v2_hits


def _answers(client, settings, monkeypatch, prefix, candidates, devices, hits, sci_key) -> dict:
    """Every reader's answer for one prefix, by URL."""
    settings.CRAYFIS_ES_PREFIX = prefix
    settings.CRAYFIS_DASH_CACHE_S = 0
    settings.CRAYFIS_DASH_LEADERBOARD_MIN_HOURS = 0.25
    monkeypatch.setattr("dashboards.data.now_ms", lambda: NOW_MS)
    located = [h["_source"] for h in hits if "location" in h["_source"]]
    edge = located[len(located) // 2]  # a box edge exactly on a hit's position
    lat, lon = edge["location"]["lat"], edge["location"]["lon"]
    rng = f"from_ms={START_MS - 60_000}&to_ms={NOW_MS}"
    urls = ["/api/dash/overview", "/api/dash/rates?span=24h", "/api/dash/rates?span=7d",
            "/api/dash/map?window=24h", "/api/dash/map?window=10m", "/api/dash/candidates",
            "/api/dash/leaderboard"]
    urls += [f"/api/dash/candidates/{c['candidate_id']}" for c in candidates]
    urls += [f"/api/dash/device/{d}" for d in devices]
    by_device = f"/api/v1/hits?{rng}&device={devices[0]}"   # a scientist's filter only
    api = [f"/api/v1/hits?{rng}", f"/api/v1/hits?{rng}&limit=7", by_device,
           f"/api/v1/hits?{rng}&bbox=6.05,46.15,6.15,46.25", f"/api/v1/hits?{rng}&bbox=6.15,46.15,6.25,46.25",
           f"/api/v1/hits?{rng}&bbox={lon!r},{lat!r},6.2,46.3", f"/api/v1/hits?{rng}&bbox=6.0,46.1,{lon!r},{lat!r}",
           f"/api/v1/hits?{rng}&bbox=6.1,46.2,6.0,46.1", f"/api/v1/network/stats?{rng}",
           f"/api/v1/candidates?{rng}"]
    out = {}
    for who, headers in (("public", {}), ("scientist", auth(sci_key))):
        for url in urls + api:
            if who == "public" and url == by_device:
                continue
            for cache in caches.all():
                cache.clear()   # no cached answer, no throttle between the three runs
            page = client.get(url, **headers)
            assert page.status_code == 200, (url, page.status_code, page.content[:300])
            out[(who, url)] = page.json()
            if "next_cursor" in out[(who, url)]:  # walk every page: cursors must match too
                cursor, n = out[(who, url)]["next_cursor"], 0
                while cursor and n < 50:
                    nxt = client.get(f"{url}&cursor={cursor}", **headers).json()
                    out[(who, url, n)] = nxt
                    cursor, n = nxt["next_cursor"], n + 1
        for fmt in ("ndjson", "parquet"):
            resp = client.get(f"/api/v1/hits?{rng}&format={fmt}", **headers)
            out[(who, fmt)] = b"".join(resp.streaming_content)
    return out


def test_dashboards_and_read_api_answer_the_same_on_both_schemas(client, settings, monkeypatch, request,
                                                                  three_indexings):
    prefixes, candidates, devices, hits = three_indexings
    sci_key = request.getfixturevalue("scientist")[1]
    answers = {name: _answers(client, settings, monkeypatch, prefix, candidates, devices, hits, sci_key)
               for name, prefix in prefixes.items()}
    v1 = answers["v1"]
    # the comparison has something to compare: hits, candidate members, pages, boxes that select
    assert v1[("public", "/api/dash/overview")]["hits_total"] == len(hits)
    assert all(v1[("public", f"/api/dash/candidates/{c['candidate_id']}")]["candidate_id"] == c["candidate_id"]
               for c in candidates)
    boxes = [k for k in v1 if k[0] == "scientist" and len(k) == 2 and "bbox=" in k[1]]
    selected = [sum(len(v1[p]["results"]) for p in v1 if p[:2] == k) for k in boxes]
    everything = v1[("scientist", [k[1] for k in v1 if k[1].startswith("/api/v1/network")][0])]["hits"]
    assert selected[0] > 0 and 0 < selected[2] < everything and 0 < selected[3] < everything
    for name in ("v2", "mixed"):
        assert answers[name].keys() == v1.keys()
        differ = [k for k in v1 if answers[name][k] != v1[k]]
        assert differ == [], (name, differ[:5])


def test_the_continuous_search_reads_the_same_hits_on_both_schemas(es, three_indexings):
    prefixes = three_indexings[0]
    ranges = [(START_MS, START_MS + 10 * 60_000), (START_MS + 14 * 60_000, NOW_MS)]
    got = {}
    for name, prefix in prefixes.items():
        source = EsHitSource(es, prefix, page_size=500)
        source.refresh()
        batch = source.fetch(ranges)
        order = np.lexsort((np.asarray(batch.hit_id), batch.t_ms))
        got[name] = (source.count(ranges), source.newest_hit_ms(NOW_MS), list(np.asarray(batch.hit_id)[order]),
                     list(np.asarray(batch.device)[order]), batch.t_ms[order].tolist(), batch.lat[order].tolist(),
                     batch.lon[order].tolist())
    assert got["v1"][0] > 0 and len(got["v1"][2]) == got["v1"][0]
    assert got["v2"] == got["v1"] and got["mixed"] == got["v1"]


def test_hit_indices_from_before_the_morphology_field_take_it_on_start(es, es_prefix, settings, uploads):
    """A month index created under schema 1 (strict, no `morphology`) would refuse every labelled
    hit the indexer writes to it; ensure_templates adds the field to hit indices that exist."""
    _, ups = uploads
    key = settings.CRAYFIS_PSEUDONYM_KEY
    _v1_hit_template(es, f"{es_prefix}-hitsv1", f"{es_prefix}-hits-*")
    up = ups[0]
    chunk = decode_submit(up.body, up.headers, with_pixels=False)
    old = hit_actions_v1(chunk, prefix=es_prefix, key=key, device_id=up.device_id, received_ms=up.send_ms)[0]
    es.index(index=old["_index"], id=old["_id"], document=old["_source"], refresh=True)
    es.indices.delete_index_template(name=f"{es_prefix}-hitsv1")

    ensure_templates(es, es_prefix)

    new = next(a for a in build_actions(chunk, prefix=es_prefix, key=key, device_id=up.device_id,
                                        received_ms=up.send_ms) if a["_index"] == old["_index"])
    es.index(index=new["_index"], id="labelled", document={**new["_source"], "morphology": "spot"}, refresh=True)
    assert es.get(index=new["_index"], id="labelled")["_source"]["morphology"] == "spot"

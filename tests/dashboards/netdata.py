"""A small simulated network indexed into the real Elasticsearch, the way production does it.

simulator (crayfis.sim) -> the app's DataChunk uploads -> wire decoding -> crayfis.es document
builder -> bulk index through the project's templates. Candidates come from the simulator's
truth (showers seen by >= 2 phones) as the coincidence search would write them, with the real
hit ids of the indexed hits and the background curve the continuous search's scorer computes
from the indexed hits (search/live_significance.py, k = 2), plus one retracted candidate. The
truth (raw device ids, exact positions, hot phones) stays here so tests can check the pages
against it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
from elasticsearch import helpers

from crayfis.definition import HOUR_MS, SearchParams
from crayfis.es.documents import build_actions
from crayfis.es.templates import ensure_templates
from crayfis.privacy import pseudonym, public_cell
from crayfis.sim.config import FleetConfig, ShowerConfig, SimConfig
from crayfis.sim.datachunks import iter_uploads
from crayfis.sim.network import simulate_network
from crayfis.wire.decode import decode_submit
from indexer.morphology import hit_classes, label_hits
from search.incremental import HitBatch
from search.live_significance import score_components

PARAMS = SearchParams(window_ms=30, radius_m=150.0, min_devices=2)   # the candidates' search


@dataclass
class Network:
    prefix: str
    now_ms: int
    raw_ids: list[str]
    pseudonyms: dict[str, str]  # raw id -> pseudonym
    hot: set[str]  # pseudonyms of hot (noisy) phones
    exact_points: np.ndarray  # (n, 2) lat, lon of every indexed exact location
    n_hits: int
    n_exposures: int  # data-taking blocks
    live_s: float
    hits_by_device: dict[str, int]
    live_s_by_device: dict[str, float]
    hit_times: np.ndarray  # t_ms of every indexed hit
    hit_devices: np.ndarray  # pseudonym of every indexed hit (same order)
    exposures: list[dict]  # (device, start_ms, end_ms, cell, cell_location) of every block
    hits_by_class: dict[str, int] = field(default_factory=dict)  # morphology class -> hits
    candidates: list[dict] = field(default_factory=list)  # as indexed (active ones)
    retracted_id: str = ""
    hidden: dict = field(default_factory=dict)   # a candidate without k trusted members (not public)


def _background(hit_docs: list[dict], multiplicity: int) -> dict:
    """The scorer's background fields for a candidate of this multiplicity, over every indexed hit."""
    located = [d for d in hit_docs if d.get("location")]
    hits = HitBatch([d["hit_id"] for d in located], [d["device"] for d in located], [d["t_ms"] for d in located],
                    [d["location"]["lat"] for d in located], [d["location"]["lon"] for d in located])
    (scores,) = score_components(hits, [SimpleNamespace(multiplicity=multiplicity)], PARAMS)
    return {k: scores[k] for k in ("expected_by_multiplicity", "background_from_ms", "background_to_ms")}


def _shower_candidates(result, hit_docs: list[dict], pseudonyms: dict[str, str], now_ms: int) -> list[dict]:
    """One candidate per simulated shower that reached >= 2 phones, from the indexed hit ids."""
    by_key = {(d["device"], int(d["t_ms"])): d for d in hit_docs}
    table = result.hits
    shower = table.column("shower_id").to_numpy()
    dev_ids = table.column("device_id").to_pylist()
    t_ms = table.column("t_ms").to_numpy()
    out = []
    for sid in np.unique(shower[shower >= 0]):
        rows = np.flatnonzero(shower == sid)
        docs = [by_key.get((pseudonyms[dev_ids[i]], int(t_ms[i]))) for i in rows]
        docs = [d for d in docs if d is not None]
        devices = sorted({d["device"] for d in docs})
        if len(devices) < 2:
            continue
        lat = float(np.mean([d["location"]["lat"] for d in docs]))
        lon = float(np.mean([d["location"]["lon"] for d in docs]))
        cell, clat, clon = public_cell(lat, lon)
        times = [int(d["t_ms"]) for d in docs]
        out.append({
            "candidate_id": f"c{int(sid)}-{min(times)}", "hit_ids": [d["hit_id"] for d in docs],
            "devices": devices, "n_hits": len(docs), "n_devices": len(devices),
            "t_start_ms": min(times), "t_end_ms": max(times),
            "location": {"lat": lat, "lon": lon},  # exact centroid: must never be published
            "lat": lat, "lon": lon, "cell": cell, "cell_location": {"lat": clat, "lon": clon},
            "source": "continuous",
            "n_triggered_anchors": len(docs), "expected_background": 1.5e-4 * (1 + int(sid)),
            "p_value": 2e-7 * (1 + int(sid)), "false_alarm_per_year": 0.01 * (1 + int(sid)),
            "multiplicity": len(devices), "revision": 1, "updated_at": now_ms, "status": "active",
            "k": PARAMS.min_devices, "tau_ms": PARAMS.window_ms, "radius_m": PARAMS.radius_m,
            **_background(hit_docs, len(devices)),
            # every member trusted, so the candidate is public (docs/security.md)
            "trusted_devices": devices, "n_trusted_devices": len(devices), "public": True,
        })
    return out


def index_network(es, prefix: str, key: str, now_ms: int, *, n_phones: int = 15, hours: float = 0.5,
                  seed: int = 1) -> Network:
    """15 phones for 30 min around a corner of four public cells; seed 1 gives one hot phone and
    three showers seen by 3-4 phones (checked by the tests, not assumed)."""
    cfg = SimConfig(
        start_ms=now_ms - int(hours * HOUR_MS), hours=hours,
        fleet=FleetConfig(n_phones=n_phones, area_km=0.4, center_lat=46.2, center_lon=6.1,
                          duty_cycle="always", rate_per_min=6.0, hot_fraction=0.1, hot_factor=(6.0, 8.0)),
        showers=ShowerConfig(natural=False, forced=4, forced_energy_min_eV=3e20, response="optimistic"),
    )
    result = simulate_network(cfg, seed)
    raw_ids = [str(d) for d in result.fleet.device_id]
    pseudonyms = {d: pseudonym(d, key) for d in raw_ids}
    ensure_templates(es, prefix)
    actions = []
    for up in iter_uploads(result, seed):
        chunk = decode_submit(up.body, up.headers, with_pixels=False)
        built = build_actions(chunk, prefix=prefix, key=key, device_id=up.device_id, received_ms=up.send_ms)
        label_hits(built, hit_classes(up.body, chunk, "protobuf"), f"{prefix}-hits-")   # as the indexer does
        actions += built
    helpers.bulk(es, actions, refresh="wait_for", chunk_size=5000)

    hit_docs = [a["_source"] for a in actions if a["_index"].startswith(f"{prefix}-hits-")]
    expo_docs = [a["_source"] for a in actions if a["_index"].startswith(f"{prefix}-exposures-")]
    located = [d["location"] for d in hit_docs + expo_docs if d.get("location")]
    hits_by_device: dict[str, int] = {}
    for d in hit_docs:
        hits_by_device[d["device"]] = hits_by_device.get(d["device"], 0) + 1
    live_by_device: dict[str, float] = {}
    for d in expo_docs:  # exposure = live time of data-taking blocks (not calibration)
        if d["state"] not in ("CALIBRATION", "PRECALIBRATION"):
            live_by_device[d["device"]] = live_by_device.get(d["device"], 0.0) + float(d["live_s"] or 0.0)
    net = Network(
        prefix=prefix, now_ms=now_ms, raw_ids=raw_ids, pseudonyms=pseudonyms,
        hot={pseudonyms[raw_ids[i]] for i in np.flatnonzero(result.fleet.hot)},
        exact_points=np.array([[p["lat"], p["lon"]] for p in located]),
        n_hits=len(hit_docs), n_exposures=sum(d["state"] not in ("CALIBRATION", "PRECALIBRATION")
                                              for d in expo_docs),
        live_s=sum(live_by_device.values()), hits_by_device=hits_by_device,
        live_s_by_device=live_by_device,
        hit_times=np.array([int(d["t_ms"]) for d in hit_docs], dtype=np.int64),
        hit_devices=np.array([d["device"] for d in hit_docs], dtype=object),
        exposures=[{k: d.get(k) for k in ("device", "start_ms", "end_ms", "cell", "cell_location",
                                          "n_events", "live_s", "state")}
                   for d in expo_docs],
    )
    for d in hit_docs:
        if d.get("morphology"):
            net.hits_by_class[d["morphology"]] = net.hits_by_class.get(d["morphology"], 0) + 1
    net.candidates = _shower_candidates(result, hit_docs, pseudonyms, now_ms)
    retracted = dict(net.candidates[0]) if net.candidates else None
    if retracted is not None:
        retracted.update(candidate_id="retracted-1", status="retracted", revision=3, retraction="merged",
                         merged_into=net.candidates[0]["candidate_id"])
        net.retracted_id = "retracted-1"
    if net.candidates:   # the same phones again, untrusted: shown and counted nowhere public
        net.hidden = {**net.candidates[-1], "candidate_id": "hidden-1", "trusted_devices": [],
                      "n_trusted_devices": 0, "public": False}
    # lat/lon are the truth the tests compare with; the document holds the centroid as `location`
    bulk = [{"_index": f"{prefix}-candidates", "_id": c["candidate_id"],
             "_source": {k: v for k, v in c.items() if k not in ("lat", "lon")}}
            for c in net.candidates + ([retracted] if retracted is not None else [])
            + ([net.hidden] if net.hidden else [])]
    helpers.bulk(es, bulk, refresh="wait_for")
    return net


def delete_prefix(es, prefix: str) -> None:
    names = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all", ignore_unavailable=True))
    for start in range(0, len(names), 50):
        es.indices.delete(index=",".join(names[start:start + 50]), ignore_unavailable=True)
    quiet = es.options(ignore_status=404)
    for tmpl in quiet.indices.get_index_template(name=f"{prefix}-*").get("index_templates", []):
        quiet.indices.delete_index_template(name=tmpl["name"])

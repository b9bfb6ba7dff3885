"""What the Spark job must output: the kernel run on all hits at once, as candidate rows."""
from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

from crayfis.coincidence.distance import centroid_lat_lon, unit_vectors
from crayfis.coincidence.kernel import find_coincidences
from crayfis.coincidence.merge import candidate_id
from crayfis.coincidence.significance import candidate_significance, device_background, estimate_background, time_slides

MULTIPLICITY_MARGIN = 10

COMPARED = ("candidate_id", "hit_ids", "n_hits", "n_devices", "multiplicity", "t_start_ms",
            "t_end_ms", "n_triggered_anchors")


def sorted_arrays(hits: pa.Table):
    """(t, hit_id, lat, lon, device code) in (t_ms, hit_id) order; codes in device_id order."""
    t = hits.column("t_ms").to_numpy()
    hid = np.asarray(hits.column("hit_id").to_pylist(), dtype=object)
    order = np.lexsort((hid.astype(str), t))
    _, dev = np.unique(np.asarray(hits.column("device_id").to_pylist(), dtype=str)[order],
                       return_inverse=True)
    return (t[order], hid[order], hits.column("lat").to_numpy()[order],
            hits.column("lon").to_numpy()[order], dev.reshape(-1))


def kernel_background(hits: pa.Table, window_ms: int, radius_m: float, k: int, live=None, span=None):
    """``estimate_background`` on every hit, with devices placed where the job places them:
    the normalised mean of their unit vectors (the core's default is the median).

    ``live``: optional (device code, start_ms, end_ms) arrays, codes in device_id order;
    ``span``: the searched [start, end) when the job was given one (default: the hits' range)."""
    t, _, lat, lon, dev = sorted_arrays(hits)
    devices = device_background(t, lat, lon, dev, live=live, span=span)
    x, y, z = unit_vectors(lat, lon)
    sums = [np.bincount(dev, weights=c) for c in (x, y, z)]
    m_lat, m_lon = centroid_lat_lon(*sums)
    devices = dataclasses.replace(devices, lat=m_lat, lon=m_lon)
    return estimate_background(t, lat, lon, dev, window_ms, radius_m, k, devices=devices,
                               max_multiplicity=k + MULTIPLICITY_MARGIN)


def kernel_time_slides(hits: pa.Table, window_ms: int, radius_m: float, k: int, n: int, seed: int):
    t, _, lat, lon, dev = sorted_arrays(hits)
    return time_slides(t, lat, lon, dev, window_ms, radius_m, k, n, np.random.default_rng(seed))


def kernel_candidates(hits: pa.Table, window_ms: int, radius_m: float, k: int, span=None) -> list[dict]:
    """Candidates of ``find_coincidences`` on every hit, one dict each, with significance
    from ``estimate_background`` on every hit (over ``span``, as ``kernel_background``).

    Hits are first put in (t_ms, hit_id) order, so the kernel's (t, index) tie-break is the
    job's (t, hit_id) one.
    """
    t, hid, lat, lon, dev = sorted_arrays(hits)
    r = find_coincidences(t, lat, lon, dev, window_ms, radius_m, k)
    sig = candidate_significance(r.cand_multiplicity, kernel_background(hits, window_ms, radius_m, k, span=span))
    rows = []
    for i in range(r.n_candidates):
        members = r.candidate_members(i)
        rows.append({
            "candidate_id": candidate_id(hid[r.cand_first_anchor[i]]),
            "hit_ids": [str(h) for h in hid[members]],
            "n_hits": int(r.cand_n_hits[i]), "n_devices": int(r.cand_n_devices[i]),
            "multiplicity": int(r.cand_multiplicity[i]),
            "t_start_ms": int(r.cand_t_start_ms[i]), "t_end_ms": int(r.cand_t_end_ms[i]),
            "n_triggered_anchors": int(r.cand_n_triggered_anchors[i]),
            "lat": float(r.cand_lat[i]), "lon": float(r.cand_lon[i]),
            "expected_background": float(sig.expected_background[i]),
            "p_value": float(sig.p_value[i]), "far_per_year": float(sig.far_per_year[i]),
        })
    return rows


def assert_same_candidates(got: pa.Table, expected: list[dict]) -> None:
    rows = got.to_pylist()
    assert [r["candidate_id"] for r in rows] == [e["candidate_id"] for e in expected]
    for r, e in zip(rows, expected):
        assert {k: r[k] for k in COMPARED} == {k: e[k] for k in COMPARED}
        assert abs(r["lat"] - e["lat"]) < 1e-9
        assert abs(((r["lon"] - e["lon"] + 180) % 360) - 180) < 1e-9
        for key in ("expected_background", "p_value", "far_per_year"):
            assert r[key] == pytest.approx(e[key], rel=1e-9, abs=1e-300), key

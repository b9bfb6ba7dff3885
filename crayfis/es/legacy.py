"""Hit schema 1: the mapping and documents held by hit indices created before schema 2.

Templates apply when an index is created, so a monthly hit index made under schema 1 keeps it
until it ages out, and the dashboards, the read API and the continuous search read both kinds
at once through `{prefix}-hits-*`. This module is the one definition of schema 1: the tests
index the same uploads under both schemas and compare what every reader answers, and
`bench/archive.py bytes` measures both on the same documents. Nothing in production writes it.

Schema 1 kept every event field in the index, with a stored `_source`: ids and run as keywords,
`t_ms` a date, `location` a geo_point, the event's orientation, pressure, frame mean and
deviation, exposure time and build (schema 2 keeps those in the Parquet archive, docs/archive.md).
"""
from __future__ import annotations

from typing import Any

from crayfis.es.documents import block_hit_ids, block_id, block_time, hit_key_prefix, hit_position, hit_time
from crayfis.es.fields import BOOL, DATE, DOUBLE, FLOAT, GEO, INT, KW, LONG
from crayfis.es.naming import month_suffix
from crayfis.privacy import pseudonym, public_cell
from crayfis.wire.records import DecodedChunk

__all__ = ["HITS_V1", "hit_actions_v1"]

HITS_V1: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "hit_id": KW, "t_ms": DATE, "t_nano": LONG, "device": KW, "run": KW, "xbn": LONG,
        "xb_id": KW, "location": GEO, "gps_accuracy": FLOAT, "altitude": DOUBLE,
        "cell": KW, "cell_location": GEO,
        "n_pix": INT, "max_val": LONG, "avg": DOUBLE, "std": DOUBLE,
        "zero_bias": BOOL, "is_hit": BOOL, "pressure": FLOAT,
        "orient_x": FLOAT, "orient_y": FLOAT, "orient_z": FLOAT, "exposure_ns": LONG,
        "build": KW, "model": KW,
    },
}


def hit_actions_v1(chunk: DecodedChunk, *, prefix: str, key: bytes | str, device_id: str,
                   received_ms: int | None = None) -> list[dict[str, Any]]:
    """The hit documents (every event, zero-bias samples too) schema 1 held for `chunk`, as
    create actions with the same ids and indices as schema 2's."""
    dev = pseudonym(device_id, key)
    out: list[dict[str, Any]] = []
    for xb in chunk.exposures:
        prefix_key = hit_key_prefix(dev, xb)
        xb_id = block_id(dev, xb)
        t_xb = block_time(xb, received_ms)
        for ev, hid in zip(xb.events, block_hit_ids(prefix_key, xb.events), strict=True):
            t = hit_time(ev, t_xb)
            src = {
                "hit_id": hid, "t_ms": t, "t_nano": ev.t_nano, "device": dev, "run": xb.run_uuid,
                "xbn": xb.xbn, "xb_id": xb_id, "n_pix": ev.n_pix, "max_val": ev.max_val, "avg": ev.avg,
                "std": ev.std, "zero_bias": ev.zero_bias is not None, "is_hit": ev.is_hit,
                "pressure": ev.pressure, "orient_x": ev.orient_x, "orient_y": ev.orient_y,
                "orient_z": ev.orient_z, "exposure_ns": ev.exposure_ns, "build": xb.build, "model": xb.model,
            }
            pos = hit_position(ev, xb)
            if pos is not None:
                lat, lon, accuracy, altitude, _ = pos
                cell, clat, clon = public_cell(lat, lon)
                src.update(location={"lat": lat, "lon": lon}, gps_accuracy=accuracy, altitude=altitude,
                           cell=cell, cell_location={"lat": clat, "lon": clon})
            out.append({"_op_type": "create", "_index": f"{prefix}-hits-{month_suffix(t)}", "_id": hid,
                        "_source": src})
    return out

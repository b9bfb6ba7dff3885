"""A geo_point bounding box, reproduced on a position held as two exact doubles.

Hit schema 2 keeps a hit's `location` as `location.lat` / `location.lon` doubles (a geo_point's
doc values are rounded, and the index returns positions from doc values). Schema 1 held a
geo_point, and the read API's box filter must select the same hits on both. Elasticsearch's
`geo_bounding_box` on a geo_point compares 32-bit codes: each point is encoded as `floor(v /
step)`, and in effect (checked against the node with points on and beside every edge) a point
matches when its codes lie between the codes of the box's edges, encoded the same way (a box
whose west edge lies east of its east edge crosses the antimeridian: two longitude ranges). So a
point on an edge is kept, and so is one a fraction of a step below a lower edge that shares the
edge's code; plain ranges on the doubles would leave that one out.

`double_box` turns that rule into closed ranges on the doubles: for each edge, the exact double
where the code changes, found by the same IEEE division Java performs. Every double lies in the
ranges exactly when its geo_point would match the box (tested against the node with points on
and beside the edges). `box_ranges` writes them as Elasticsearch range filters; the Parquet
archive's reader applies the same ranges to its lat/lon columns (crayfis/archive/reader.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["LAT_STEP", "LON_STEP", "DoubleBox", "box_ranges", "double_box", "encode"]

LAT_STEP = 1 / ((1 << 32) / 180.0)   # Lucene GeoEncodingUtils.LAT_DECODE
LON_STEP = 1 / ((1 << 32) / 360.0)   # LON_DECODE
_TOP = {LAT_STEP: 90.0, LON_STEP: 180.0}


def _clip_top(v: float, step: float) -> float:
    """The largest value (90 or 180) is not encodable; Lucene encodes the double below it."""
    return math.nextafter(v, -math.inf) if v == _TOP[step] else v


def _int32(code: int) -> int:
    """Java's (int) cast of a double saturates."""
    return max(-(1 << 31), min((1 << 31) - 1, code))


def encode(v: float, step: float) -> int:
    """A coordinate's code, as a geo_point indexes it (GeoEncodingUtils.encodeLatitude/Longitude)."""
    return _int32(math.floor(_clip_top(v, step) / step))


def _first_at_least(code: int, step: float) -> float:
    """The smallest double whose code is >= `code`."""
    v = code * step
    while encode(v, step) >= code and v > -_TOP[step]:
        v = math.nextafter(v, -math.inf)
    while encode(v, step) < code:
        v = math.nextafter(v, math.inf)
    return v


def _last_at_most(code: int, step: float) -> float:
    """The largest double (up to the top value) whose code is <= `code`."""
    top = _TOP[step]
    v = min((code + 1) * step, top)
    while encode(v, step) > code:
        v = math.nextafter(v, -math.inf)
    while v < top and encode(math.nextafter(v, math.inf), step) <= code:
        v = math.nextafter(v, math.inf)
    return v


@dataclass(frozen=True)
class DoubleBox:
    """The box as closed ranges on the two doubles: lat_min <= lat <= lat_max, and lon_min <= lon
    <= lon_max, or with `crosses` (the antimeridian) lon >= lon_min or lon <= lon_max."""

    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float
    crosses: bool


def double_box(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> DoubleBox:
    """The ranges on two doubles that hold exactly the points geo_bounding_box matches on a
    geo_point. The box as the read API takes it: min_lon > max_lon crosses the antimeridian; the
    caller has refused min_lat > max_lat and coordinates outside [-90, 90] x [-180, 180]."""
    return DoubleBox(_first_at_least(encode(min_lat, LAT_STEP), LAT_STEP),
                     _last_at_most(encode(max_lat, LAT_STEP), LAT_STEP),
                     _first_at_least(encode(min_lon, LON_STEP), LON_STEP),
                     _last_at_most(encode(max_lon, LON_STEP), LON_STEP),
                     max_lon < min_lon)


def _range(field: str, lo: float | None, hi: float | None) -> dict[str, Any]:
    bounds: dict[str, float] = {}
    if lo is not None:
        bounds["gte"] = lo
    if hi is not None:
        bounds["lte"] = hi
    return {"range": {field: bounds}}


def box_ranges(lat_field: str, lon_field: str, min_lon: float, min_lat: float, max_lon: float,
               max_lat: float) -> dict[str, Any]:
    """A query on two double fields matching what geo_bounding_box matches on a geo_point
    (`double_box` as Elasticsearch range filters)."""
    box = double_box(min_lon, min_lat, max_lon, max_lat)
    lat = _range(lat_field, box.lat_min, box.lat_max)
    if box.crosses:
        lon = {"bool": {"should": [_range(lon_field, box.lon_min, None), _range(lon_field, None, box.lon_max)],
                        "minimum_should_match": 1}}
    else:
        lon = _range(lon_field, box.lon_min, box.lon_max)
    return {"bool": {"filter": [lat, lon]}}

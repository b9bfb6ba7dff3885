"""box_ranges on two doubles selects exactly what geo_bounding_box selects on a geo_point, on the
real node: points on, one code beside and a fraction of a code beside the box edges, boxes with
edges at public cell centres, degenerate boxes, boxes across the antimeridian and at the poles.
Plain `gte`/`lte` ranges on the doubles select other points (the last assertion shows one box).
"""
from __future__ import annotations

import math
import random

from elasticsearch import helpers

from crayfis.es.geobox import LAT_STEP, LON_STEP, box_ranges

EDGES_LAT = [46.15, 46.25, -33.85, 0.05, 89.95, -89.95, 90.0, -90.0, 10.0]
EDGES_LON = [6.05, 6.25, -74.05, 179.95, -179.95, 180.0, -180.0, 0.0, 151.25]


def _around(v: float, step: float, top: float) -> list[float]:
    out = [v, math.nextafter(v, math.inf), math.nextafter(v, -math.inf)]
    out += [v + k * step / 3 for k in (-4, -2, -1, 1, 2, 4)]
    return [min(top, max(-top, x)) for x in out]


def test_box_ranges_equal_geo_bounding_box(es, es_prefix):
    rng = random.Random(7)
    points = [(a, b) for la in EDGES_LAT for lo in EDGES_LON
              for a in _around(la, LAT_STEP, 90.0)[:3] for b in _around(lo, LON_STEP, 180.0)[:3]]
    points += [(a, b) for a in _around(46.15, LAT_STEP, 90.0) for b in _around(6.25, LON_STEP, 180.0)]
    points += [(rng.uniform(-90, 90), rng.uniform(-180, 180)) for _ in range(300)]
    boxes = [(6.05, 46.15, 6.25, 46.25), (6.25, 46.15, 6.25, 46.15), (179.95, -90.0, -179.95, 90.0),
             (180.0, 0.0, -180.0, 10.0), (-180.0, -90.0, 180.0, 90.0)]
    for _ in range(40):
        la = sorted(rng.sample(EDGES_LAT, 2))
        lo = rng.sample(EDGES_LON, 2)
        boxes.append((lo[0], la[0], lo[1], la[1]))
    for _ in range(20):
        s, n = sorted((rng.uniform(-90, 90), rng.uniform(-90, 90)))
        w, e = rng.uniform(-180, 180), rng.uniform(-180, 180)
        boxes.append((w, s, e, n))
        points += [(a, b) for a in _around(s, LAT_STEP, 90.0) for b in _around(w, LON_STEP, 180.0)]

    geo, dbl = f"{es_prefix}-geo", f"{es_prefix}-dbl"
    es.indices.create(index=geo, mappings={"properties": {"p": {"type": "geo_point"}}},
                      settings={"number_of_replicas": 0})
    es.indices.create(index=dbl, mappings={"properties": {"p": {"properties": {
        "lat": {"type": "double", "index": False}, "lon": {"type": "double", "index": False}}}}},
        settings={"number_of_replicas": 0})
    for index in (geo, dbl):
        helpers.bulk(es, ({"_index": index, "_id": str(i), "_source": {"p": {"lat": a, "lon": b}}}
                          for i, (a, b) in enumerate(points)), refresh=True)

    def ids(index, query):
        hits = es.search(index=index, query=query, size=len(points), _source=False)["hits"]["hits"]
        return {h["_id"] for h in hits}

    differ = []
    for w, s, e, n in boxes:
        want = ids(geo, {"geo_bounding_box": {"p": {"top_left": {"lat": n, "lon": w},
                                                    "bottom_right": {"lat": s, "lon": e}}}})
        got = ids(dbl, box_ranges("p.lat", "p.lon", w, s, e, n))
        if got != want:
            differ.append(((w, s, e, n), len(want), len(got)))
    assert differ == []
    # the check has teeth: plain inclusive ranges on the doubles select other points
    w, s, e, n = boxes[1]
    plain = {"bool": {"filter": [{"range": {"p.lat": {"gte": s, "lte": n}}},
                                 {"range": {"p.lon": {"gte": w, "lte": e}}}]}}
    assert ids(dbl, plain) != ids(dbl, box_ranges("p.lat", "p.lon", w, s, e, n))

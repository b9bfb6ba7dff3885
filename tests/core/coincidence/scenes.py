"""Random hit sets built to stress the coincidence definition's edge cases.

Hits come in tight clusters so windows fill up, on a few devices so one device fires many
times, at times on a grid of tau so many pairs sit exactly tau apart, and, in half the scenes,
with R set to the distance between two of the hits so pairs sit exactly at R. Regions include
the antimeridian and both poles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from crayfis.coincidence.distance import EARTH_RADIUS_M, pair_distance_m

REGIONS = {
    "mid": (34.05, -118.25),
    "equator": (0.0, 0.0),
    "antimeridian": (-16.5, 180.0),
    "north_pole": (90.0, 0.0),
    "south_pole": (-90.0, 45.0),
    "near_north_pole": (89.99, 179.9),
}


@dataclass
class Scene:
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    dev: np.ndarray
    tau: int
    radius: float
    k: int

    def args(self):
        return self.t, self.lat, self.lon, self.dev, self.tau, self.radius, self.k


def offset_points(lat0, lon0, east_m, north_m):
    """Points at the given local offsets, wrapped onto valid lat/lon (crossing poles)."""
    lat = lat0 + np.degrees(north_m / EARTH_RADIUS_M)
    coslat = max(np.cos(np.radians(min(abs(lat0), 89.999))), 1e-4)
    lon = lon0 + np.degrees(east_m / (EARTH_RADIUS_M * coslat))
    over = np.abs(lat) > 90.0
    lat = np.where(lat > 90.0, 180.0 - lat, np.where(lat < -90.0, -180.0 - lat, lat))
    lon = np.where(over, lon + 180.0, lon)
    lon = (lon + 180.0) % 360.0 - 180.0
    return lat, lon


@st.composite
def scenes(draw, max_hits: int = 60) -> Scene:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(0, max_hits))
    region = draw(st.sampled_from(sorted(REGIONS)))
    radius = draw(st.sampled_from([0.0, 30.0, 300.0, 1000.0, 20000.0]))
    tau = draw(st.sampled_from([0, 1, 40, 200]))
    k = draw(st.integers(1, 6))
    n_dev = draw(st.integers(1, 6))
    lat0, lon0 = REGIONS[region]
    scale = max(radius, 30.0)
    n_clusters = int(rng.integers(1, 4))
    centres = rng.uniform(-2.0, 2.0, (n_clusters, 2)) * scale
    which = rng.integers(0, n_clusters, n)
    east = centres[which, 0] + rng.uniform(-1.2, 1.2, n) * scale
    north = centres[which, 1] + rng.uniform(-1.2, 1.2, n) * scale
    lat, lon = offset_points(lat0, lon0, east, north)
    if n and rng.random() < 0.3:  # some hits share an exact position (a phone that stays put)
        src = rng.integers(0, n, n)
        same = rng.random(n) < 0.3
        lat, lon = np.where(same, lat[src], lat), np.where(same, lon[src], lon)
    if n and region in ("north_pole", "south_pole") and rng.random() < 0.5:
        lat[rng.random(n) < 0.2] = lat0  # exactly on the pole
    if n and region == "antimeridian" and rng.random() < 0.5:
        flip = rng.random(n) < 0.2
        lon[flip] = np.where(rng.random(flip.sum()) < 0.5, 180.0, -180.0)
    step = max(tau, 1)
    t = 1_790_000_000_000 + rng.integers(0, 5, n) * step + rng.choice([0, 0, 0, 1, -1], n)
    codes = rng.choice(np.array([0, 7, -3, 2**62, -(2**63), 2**63 - 1, 12345]), n_dev, replace=False)
    dev = codes[rng.integers(0, n_dev, n)]
    if n >= 2 and draw(st.booleans()):  # make pairs sit at exactly R
        i, j = rng.choice(n, 2, replace=False)
        radius = float(pair_distance_m(lat[i], lon[i], lat[j], lon[j]))
    return Scene(t.astype(np.int64), lat, lon, dev.astype(np.int64), int(tau), float(radius), int(k))

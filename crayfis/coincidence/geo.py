"""Great-circle distance for the coincidence search, in a form that makes ``dist <= R`` exact.

The canonical distance (DESIGN.md section 5) is the haversine on a sphere of radius
6371008.8 m. We evaluate it through unit vectors: for two points with unit vectors u, v the
chord c = |u - v| satisfies hav(theta) = c^2 / 4, so

    dist = 2 R_E asin(sqrt(hav)) = 2 R_E asin(sqrt(c2) / 2),   c2 = |u - v|^2.

Why this form: the only transcendental functions run once per *hit* (``unit_vectors``), and
each pair costs three subtractions, three products and two additions, all correctly rounded
IEEE operations whose result does not depend on array layout. The brute-force reference and
the kernel call these same functions, so for any pair they see the same ``c2`` bit for bit and
``within_radius`` gives the same answer, including pairs at exactly R (a test pins that the
unit vector of a hit does not depend on which array it was computed in).

``within_radius`` decides most pairs by comparing ``c2`` with bounds a relative 1e-9 inside and
outside the chord of R (far wider than any rounding error) and evaluates the full distance only
for the pairs in between, so the answer always equals ``distance_from_chord2(c2) <= R``.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_M = 6371008.8
_DEG = np.pi / 180.0
_BAND = 1e-9  # relative half-width of the chord2 band where the full distance is evaluated


def unit_vectors(lat_deg, lon_deg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, z) of each point on the unit sphere; elementwise, so a hit's vector never
    depends on which other hits share the array."""
    lat = np.asarray(lat_deg, dtype=np.float64) * _DEG
    lon = np.asarray(lon_deg, dtype=np.float64) * _DEG
    c = np.cos(lat)
    return c * np.cos(lon), c * np.sin(lon), np.sin(lat)


def chord2(ax, ay, az, bx, by, bz) -> np.ndarray:
    """Squared chord |a - b|^2 between unit vectors, in one fixed order of operations."""
    dx = np.subtract(ax, bx)
    dy = np.subtract(ay, by)
    dz = np.subtract(az, bz)
    return (dx * dx + dy * dy) + dz * dz


def distance_from_chord2(c2) -> np.ndarray:
    """Haversine great-circle distance in metres from a squared chord (hav = c2 / 4)."""
    half_chord = np.minimum(np.sqrt(np.asarray(c2, dtype=np.float64)) * 0.5, 1.0)
    return (2.0 * EARTH_RADIUS_M) * np.arcsin(half_chord)


def chord2_of_radius(radius_m: float) -> float:
    """Squared chord that corresponds to a great-circle distance of ``radius_m``."""
    s = np.sin(min(float(radius_m) / (2.0 * EARTH_RADIUS_M), np.pi / 2))
    return float(4.0 * s * s)


def within_radius(c2, radius_m: float) -> np.ndarray:
    """Exactly ``distance_from_chord2(c2) <= radius_m``, evaluating the arcsine only in a
    thin band around the boundary."""
    c2 = np.asarray(c2, dtype=np.float64)
    if radius_m < 0:
        return np.zeros(c2.shape, dtype=bool)
    if radius_m > 0.99 * np.pi * EARTH_RADIUS_M:  # near-antipodal radii: no shortcut
        return distance_from_chord2(c2) <= radius_m
    c2_r = chord2_of_radius(radius_m)
    inside = c2 <= c2_r * (1.0 - _BAND)
    band = ~inside & (c2 <= c2_r * (1.0 + _BAND))
    if band.any():
        inside[band] = distance_from_chord2(c2[band]) <= radius_m
    return inside


def pair_distance_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """The canonical distance between points, as the search evaluates it."""
    return distance_from_chord2(chord2(*unit_vectors(lat1, lon1), *unit_vectors(lat2, lon2)))


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Textbook haversine, kept to check the chord form against (agrees to ~1e-6 m)."""
    p1 = np.asarray(lat1, dtype=np.float64) * _DEG
    p2 = np.asarray(lat2, dtype=np.float64) * _DEG
    dp = p2 - p1
    dl = (np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64)) * _DEG
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def centroid_lat_lon(x, y, z) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (degrees) of summed unit vectors: the centroid direction."""
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    lon = np.degrees(np.arctan2(y, x))
    return lat, lon

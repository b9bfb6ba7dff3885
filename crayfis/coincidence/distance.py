"""Great-circle distance for the coincidence search, in a form that makes ``dist <= R`` exact.

The canonical distance (DESIGN.md section 5) is the haversine on a sphere of radius
6371008.8 m. We evaluate it through unit vectors: for two points with unit vectors u, v the
chord c = |u - v| satisfies hav(theta) = c^2 / 4, so

    dist = 2 R_E asin(sqrt(hav)) = 2 R_E asin(sqrt(c2) / 2),   c2 = |u - v|^2.

Why this form: sines and cosines run once per *hit* (``unit_vectors``, by table and series:
pure arithmetic), and each pair costs three subtractions, three products and two additions, all correctly rounded
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


_STEP = 0.125  # table spacing in degrees: a power of two, so x - i * _STEP is exact
_TABLE_DEG = np.arange(-1440, 1441) * _STEP  # -180 .. 180
_SIN_TABLE = np.array([np.sin(np.radians(d)) for d in _TABLE_DEG])
_COS_TABLE = np.array([np.cos(np.radians(d)) for d in _TABLE_DEG])
_exact = np.mod(_TABLE_DEG, 90.0) == 0.0  # multiples of 90 degrees: exactly 0 and +-1
_SIN_TABLE[_exact] = np.round(_SIN_TABLE[_exact])
_COS_TABLE[_exact] = np.round(_COS_TABLE[_exact])


def sincos_deg(x_deg) -> tuple[np.ndarray, np.ndarray]:
    """(sin, cos) of angles in degrees within [-180, 180], to ~1 ulp.

    A table at 1/8 degree plus a short series for the remainder (|b| <= 1.1e-3 rad):
    sin(a + b) = S + (S (cos b - 1) + C sin b). Pure arithmetic and table lookups, so a value
    never depends on the array it sits in (libm/SVML paths can), and three times faster than
    numpy's sin and cos. Multiples of 90 degrees come out exact (sin 180 = 0, cos 90 = 0).
    """
    x = np.asarray(x_deg, dtype=np.float64)
    i = np.rint(x * (1.0 / _STEP))
    b = (x - i * _STEP) * _DEG  # x - i * _STEP is exact; one rounding to radians
    b2 = b * b
    sin_b = b - b * b2 * (1.0 / 6.0 - b2 * (1.0 / 120.0))
    cos_b_m1 = b2 * (b2 * (1.0 / 24.0) - 0.5)
    j = i.astype(np.int64) + 1440
    s_a = np.take(_SIN_TABLE, j)
    c_a = np.take(_COS_TABLE, j)
    sin = s_a + (s_a * cos_b_m1 + c_a * sin_b)
    cos = c_a + (c_a * cos_b_m1 - s_a * sin_b)
    return sin, cos


def unit_vectors(lat_deg, lon_deg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, z) of each point on the unit sphere; elementwise arithmetic only, so a hit's
    vector never depends on which other hits share the array."""
    sin_lat, cos_lat = sincos_deg(lat_deg)
    sin_lon, cos_lon = sincos_deg(lon_deg)
    return cos_lat * cos_lon, cos_lat * sin_lon, sin_lat


def chord2(ax, ay, az, bx, by, bz) -> np.ndarray:
    """Squared chord |a - b|^2 between unit vectors, in one fixed order of operations."""
    dx = np.subtract(ax, bx)
    dy = np.subtract(ay, by)
    dz = np.subtract(az, bz)
    return (dx * dx + dy * dy) + dz * dz


def chord2_rows(a, b) -> np.ndarray:
    """``chord2`` for (n, 3) arrays of unit vectors: the same operations in the same order
    (and a - b = -(b - a) exactly), so the same bits."""
    d = np.subtract(a, b)
    d *= d
    return (d[:, 0] + d[:, 1]) + d[:, 2]


def distance_from_chord2(c2) -> np.ndarray:
    """Haversine great-circle distance in metres from a squared chord (hav = c2 / 4)."""
    half_chord = np.minimum(np.sqrt(np.asarray(c2, dtype=np.float64)) * 0.5, 1.0)
    return (2.0 * EARTH_RADIUS_M) * np.arcsin(half_chord)


def chord2_of_radius(radius_m: float) -> float:
    """Squared chord that corresponds to a great-circle distance of ``radius_m``."""
    s = np.sin(min(float(radius_m) / (2.0 * EARTH_RADIUS_M), np.pi / 2))
    return float(4.0 * s * s)


def chord2_band(radius_m: float) -> tuple[float, float]:
    """(lo, hi): a squared chord c2 <= lo is within ``radius_m``, one > hi is not, and one in
    between needs the full distance. Near-antipodal radii have no shortcut: (-1, inf)."""
    if radius_m > 0.99 * np.pi * EARTH_RADIUS_M:
        return -1.0, float("inf")
    c2_r = chord2_of_radius(radius_m)
    return c2_r * (1.0 - _BAND), c2_r * (1.0 + _BAND)


def within_radius(c2, radius_m: float) -> np.ndarray:
    """Exactly ``distance_from_chord2(c2) <= radius_m``, evaluating the arcsine only in a
    thin band around the boundary (``chord2_band``)."""
    c2 = np.asarray(c2, dtype=np.float64)
    if radius_m < 0:
        return np.zeros(c2.shape, dtype=bool)
    if radius_m > 0.99 * np.pi * EARTH_RADIUS_M:  # near-antipodal radii: no shortcut
        return distance_from_chord2(c2) <= radius_m
    lo, hi = chord2_band(radius_m)
    inside = c2 <= lo
    band = ~inside & (c2 <= hi)
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

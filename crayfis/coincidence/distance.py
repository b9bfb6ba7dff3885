"""Great-circle distance for the coincidence search, in a form that makes ``dist <= R`` exact.

The definition's distance (docs/coincidence.md, "The definition") is the haversine on a sphere of
radius ``EARTH_RADIUS_M``. It is evaluated through unit vectors: for two points with unit
vectors u, v the chord c = |u - v| satisfies hav(theta) = c^2 / 4, so

    dist = 2 R_E asin(sqrt(hav)) = 2 R_E asin(sqrt(c2) / 2),   c2 = |u - v|^2.

Why this form: sines and cosines run once per *hit* (``unit_vector``, by table and series: pure
arithmetic), and each pair costs three subtractions, three products and two additions, all
correctly rounded IEEE operations whose result depends neither on array layout nor on the
caller.

Each formula is written once, as a compiled scalar function (``sincos_deg``, ``unit_vector``,
``chord2_scalar``), and every caller runs that code: the compiled scans inline it, and the
numpy-facing forms (``unit_vectors``, ``chord2``) are compiled loops over it. So the kernel,
the background model and the brute-force reference see the same ``c2`` for any pair, bit for
bit, and ``within_radius`` gives them the same answer, including pairs at exactly R. Compiled
without fastmath (``compiled.py``), the arithmetic is the IEEE operations in source order; the
tests pin it against the same expressions evaluated by numpy.

``within_radius`` decides most pairs by comparing ``c2`` with bounds a relative 1e-9 inside and
outside the chord of R (far wider than any rounding error) and evaluates the full distance only
for the pairs in between, so the answer always equals ``distance_from_chord2(c2) <= R``. It is
numpy code on purpose: the arcsine is libm's, so the compiled scans hand their pairs in that
band back to it rather than deciding them with another arcsine.
"""

from __future__ import annotations

import numba
import numpy as np

from crayfis.definition import EARTH_RADIUS_M

from .compiled import compiled

_DEG = np.pi / 180.0
_BAND = 1e-9  # relative half-width of the chord2 band where the full distance is evaluated

_STEP = 0.125  # table spacing in degrees: a power of two, so x - i * _STEP is exact
_TABLE_DEG = np.arange(-1440, 1441) * _STEP  # -180 .. 180
SIN_TABLE = np.array([np.sin(np.radians(d)) for d in _TABLE_DEG])
COS_TABLE = np.array([np.cos(np.radians(d)) for d in _TABLE_DEG])
_exact = np.mod(_TABLE_DEG, 90.0) == 0.0  # multiples of 90 degrees: exactly 0 and +-1
SIN_TABLE[_exact] = np.round(SIN_TABLE[_exact])
COS_TABLE[_exact] = np.round(COS_TABLE[_exact])
SIN_TABLE.flags.writeable = COS_TABLE.flags.writeable = False  # compiled code holds copies


@compiled(inline=True)
def sincos_deg(x):
    """(sin, cos) of one angle in degrees within [-180, 180], to ~1 ulp.

    A table at 1/8 degree plus a short series for the remainder (|b| <= 1.1e-3 rad):
    sin(a + b) = S + (S (cos b - 1) + C sin b). Pure arithmetic and table lookups, so a value
    never depends on where it is computed (libm and SIMD paths can). Multiples of 90 degrees
    come out exact (sin 180 = 0, cos 90 = 0).
    """
    i = np.rint(x * (1.0 / _STEP))
    b = (x - i * _STEP) * _DEG  # x - i * _STEP is exact; one rounding to radians
    b2 = b * b
    sin_b = b - b * b2 * (1.0 / 6.0 - b2 * (1.0 / 120.0))
    cos_b_m1 = b2 * (b2 * (1.0 / 24.0) - 0.5)
    j = np.int64(i) + 1440
    s_a = SIN_TABLE[j]
    c_a = COS_TABLE[j]
    return s_a + (s_a * cos_b_m1 + c_a * sin_b), c_a + (c_a * cos_b_m1 - s_a * sin_b)


@compiled(inline=True)
def unit_vector(lat, lon):
    """(x, y, z) of one point on the unit sphere."""
    sin_lat, cos_lat = sincos_deg(lat)
    sin_lon, cos_lon = sincos_deg(lon)
    return cos_lat * cos_lon, cos_lat * sin_lon, sin_lat


@compiled(inline=True)
def chord2_scalar(ax, ay, az, bx, by, bz):
    """Squared chord |a - b|^2 between two unit vectors, in one fixed order of operations
    (and a - b = -(b - a) exactly, so the order of the two points does not matter)."""
    dx = ax - bx
    dy = ay - by
    dz = az - bz
    return (dx * dx + dy * dy) + dz * dz


@compiled
def _unit_vectors_into(lat, lon, x, y, z):
    for i in range(len(lat)):
        x[i], y[i], z[i] = unit_vector(lat[i], lon[i])


def unit_vectors(lat_deg, lon_deg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``unit_vector`` of every point (inputs broadcast together); scalars for scalar input."""
    lat, lon = np.broadcast_arrays(np.asarray(lat_deg, dtype=np.float64),
                                   np.asarray(lon_deg, dtype=np.float64))
    shape = lat.shape
    lat, lon = np.ascontiguousarray(lat).reshape(-1), np.ascontiguousarray(lon).reshape(-1)
    x, y, z = np.empty(len(lat)), np.empty(len(lat)), np.empty(len(lat))
    _unit_vectors_into(lat, lon, x, y, z)
    return x.reshape(shape)[()], y.reshape(shape)[()], z.reshape(shape)[()]


# ``chord2_scalar`` as a numpy ufunc (broadcasting, any shapes): the same compiled formula,
# compiled (or loaded from the cache) for the input types of its first call.
chord2 = numba.vectorize(cache=True)(chord2_scalar.py_func)


def distance_from_chord2(c2) -> np.ndarray:
    """Haversine great-circle distance in metres from a squared chord (hav = c2 / 4)."""
    half_chord = np.minimum(np.sqrt(np.asarray(c2, dtype=np.float64)) * 0.5, 1.0)
    return (2.0 * EARTH_RADIUS_M) * np.arcsin(half_chord)


def chord2_of_radius(radius_m: float) -> float:
    """Squared chord that corresponds to a great-circle distance of ``radius_m``."""
    s = np.sin(min(float(radius_m) / (2.0 * EARTH_RADIUS_M), np.pi / 2))
    return float(4.0 * s * s)


def _no_shortcut(radius_m: float) -> bool:
    """Near-antipodal radii: the chord barely changes with the distance there."""
    return radius_m > 0.99 * np.pi * EARTH_RADIUS_M


def chord2_band(radius_m: float) -> tuple[float, float]:
    """(lo, hi): a squared chord c2 <= lo is within ``radius_m``, one > hi is not, and one in
    between needs the full distance. Near-antipodal radii have no shortcut: (-1, inf)."""
    if _no_shortcut(radius_m):
        return -1.0, float("inf")
    c2_r = chord2_of_radius(radius_m)
    return c2_r * (1.0 - _BAND), c2_r * (1.0 + _BAND)


def within_radius(c2, radius_m: float) -> np.ndarray:
    """Exactly ``distance_from_chord2(c2) <= radius_m``, evaluating the arcsine only in a
    thin band around the boundary (``chord2_band``)."""
    c2 = np.asarray(c2, dtype=np.float64)
    if radius_m < 0:
        return np.zeros(c2.shape, dtype=bool)
    if _no_shortcut(radius_m):
        return distance_from_chord2(c2) <= radius_m
    lo, hi = chord2_band(radius_m)
    inside = c2 <= lo
    band = ~inside & (c2 <= hi)
    if band.any():
        inside[band] = distance_from_chord2(c2[band]) <= radius_m
    return inside


def pair_distance_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """The definition's distance between points, as the search evaluates it."""
    return distance_from_chord2(chord2(*unit_vectors(lat1, lon1), *unit_vectors(lat2, lon2)))


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """The textbook haversine straight from latitudes and longitudes (numpy's trigonometry);
    agrees with ``pair_distance_m`` to ~1e-6 m. For callers that only report distances."""
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

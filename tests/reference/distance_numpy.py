"""The distance formulas of ``crayfis/coincidence/distance.py`` evaluated by numpy, operation by
operation on whole arrays: what the compiled forms must equal bit for bit (each operation is a
correctly rounded IEEE one in numpy, so equal bits mean the compiled code neither reordered nor
fused them), and the arithmetic of the reference engine and the brute force."""

from __future__ import annotations

import numpy as np

from crayfis.coincidence.distance import _DEG, _STEP, COS_TABLE, SIN_TABLE


def sincos_deg(x_deg) -> tuple[np.ndarray, np.ndarray]:
    """(sin, cos) of angles in degrees within [-180, 180]: table plus series, as
    ``distance.sincos_deg``."""
    x = np.asarray(x_deg, dtype=np.float64)
    i = np.rint(x * (1.0 / _STEP))
    b = (x - i * _STEP) * _DEG
    b2 = b * b
    sin_b = b - b * b2 * (1.0 / 6.0 - b2 * (1.0 / 120.0))
    cos_b_m1 = b2 * (b2 * (1.0 / 24.0) - 0.5)
    j = i.astype(np.int64) + 1440
    s_a = np.take(SIN_TABLE, j)
    c_a = np.take(COS_TABLE, j)
    sin = s_a + (s_a * cos_b_m1 + c_a * sin_b)
    cos = c_a + (c_a * cos_b_m1 - s_a * sin_b)
    return sin, cos


def unit_vectors(lat_deg, lon_deg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, z) of each point on the unit sphere, as ``distance.unit_vector``."""
    sin_lat, cos_lat = sincos_deg(lat_deg)
    sin_lon, cos_lon = sincos_deg(lon_deg)
    return cos_lat * cos_lon, cos_lat * sin_lon, sin_lat


def chord2(ax, ay, az, bx, by, bz) -> np.ndarray:
    """Squared chord |a - b|^2, as ``distance.chord2_scalar``."""
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

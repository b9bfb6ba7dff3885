"""What may leave the server about a phone: a keyed pseudonym and a coarse public cell.

A phone's ANDROID_ID and exact position are personal data. Everything published (documents,
dashboards, exports) names a device only by `pseudonym(device_id, key)`, an HMAC-SHA256 that
nobody without the key can invert or recompute, and places it only by `public_cell(lat, lon)`,
the centre of its 0.1-degree grid cell (about 11 km by <= 11 km), computed from the cell index so
that no digit of the exact position survives.
"""
from __future__ import annotations

import hashlib
import hmac
import math

import numpy as np

__all__ = ["pseudonym", "public_cell", "public_cells", "CELLS_PER_DEGREE"]

CELLS_PER_DEGREE = 10          # 0.1-degree grid
PSEUDONYM_HEX = 16             # 64 bits: collision-free for any realistic number of phones


def pseudonym(device_id: str, key: bytes | str) -> str:
    """'d' + 16 hex chars of HMAC-SHA256(key, device_id): stable per (key, device), not invertible.

    The Device-id is an opaque string (leading zeros may already be dropped by the phone), so it
    is hashed exactly as received.
    """
    if isinstance(key, str):
        key = key.encode()
    if not key:
        raise ValueError("pseudonym key must not be empty")
    digest = hmac.new(key, device_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return "d" + digest[:PSEUDONYM_HEX]


def _cell_id(i: int, j: int, per_degree: int) -> str:
    step = 1.0 / per_degree
    return f"{(i + 0.5) * step - 90.0:.2f},{(j + 0.5) * step - 180.0:.2f}" if per_degree == CELLS_PER_DEGREE \
        else f"{per_degree}:{i}:{j}"


def _indices(lat, lon, per_degree: int):
    """Row/column of the cell; lat 90 joins the top row, lon 180 wraps to -180."""
    n_rows, n_cols = 180 * per_degree, 360 * per_degree
    i = np.clip(np.floor((np.asarray(lat, dtype=np.float64) + 90.0) * per_degree), 0, n_rows - 1)
    j = np.mod(np.floor((np.asarray(lon, dtype=np.float64) + 180.0) * per_degree), n_cols)
    return i, j


def public_cell(lat: float | None, lon: float | None, per_degree: int = CELLS_PER_DEGREE,
                ) -> tuple[str, float, float] | tuple[None, None, None]:
    """(cell_id, cell_lat, cell_lon) of the grid cell holding (lat, lon); all None without a fix.

    cell_lat/cell_lon are the cell centre; cell_id is its text form ("46.25,6.05" on the default
    grid). Positions outside [-90, 90] x [-180, 180], or not finite, count as no fix.
    """
    if lat is None or lon is None or not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None, None, None
    n_rows, n_cols = 180 * per_degree, 360 * per_degree
    i = min(int(math.floor((lat + 90.0) * per_degree)), n_rows - 1)
    j = int(math.floor((lon + 180.0) * per_degree)) % n_cols
    step = 1.0 / per_degree
    return (_cell_id(i, j, per_degree), round((i + 0.5) * step - 90.0, 6), round((j + 0.5) * step - 180.0, 6))


def public_cells(lat, lon, per_degree: int = CELLS_PER_DEGREE):
    """Vectorized public_cell for arrays: (cell_ids object array, cell_lat, cell_lon).

    Entries without a valid fix (NaN, out of range) give None / NaN.
    """
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = (lat >= -90.0) & (lat <= 90.0) & (lon >= -180.0) & (lon <= 180.0)
        i, j = _indices(np.where(ok, lat, 0.0), np.where(ok, lon, 0.0), per_degree)
    step = 1.0 / per_degree
    cell_lat = np.where(ok, np.round((i + 0.5) * step - 90.0, 6), np.nan)
    cell_lon = np.where(ok, np.round((j + 0.5) * step - 180.0, 6), np.nan)
    ids = np.full(lat.shape, None, dtype=object)
    if ok.any():
        # format each distinct cell once: hits crowd into few cells
        flat = i[ok].astype(np.int64) * (360 * per_degree) + j[ok].astype(np.int64)
        uniq, inverse = np.unique(flat, return_inverse=True)
        names = np.array([_cell_id(int(u) // (360 * per_degree), int(u) % (360 * per_degree), per_degree)
                          for u in uniq], dtype=object)
        ids[ok] = names[inverse.reshape(-1)]
    return ids, cell_lat, cell_lon

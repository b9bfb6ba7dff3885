"""Coarse public positions: the only coordinates a dashboard may publish.

Hit and exposure documents carry the exact `location` (never read here) and `cell_location`, the
centre of the public 0.1-degree cell (crayfis/privacy.py). Candidate centroids are exact, so they
are snapped to the same public cells before leaving the server. Every published coordinate is
rounded to 2 decimals, coarser than any exact position (the privacy test relies on that).
"""
from __future__ import annotations

from crayfis.privacy import public_cell

PUBLISHED_DECIMALS = 2


def _published(lat: float, lon: float) -> tuple[float, float]:
    return round(lat, PUBLISHED_DECIMALS), round(lon, PUBLISHED_DECIMALS)


def public_cell_centre(lat: float, lon: float) -> tuple[float, float] | None:
    """Centre of the public cell holding (lat, lon), as published; None without a valid fix."""
    _, clat, clon = public_cell(lat, lon)
    return None if clat is None else _published(clat, clon)


def published_point(point) -> tuple[float, float] | None:
    """An already-public geo_point from ES (dict, [lon, lat] or 'lat,lon'), rounded for output."""
    if point is None:
        return None
    if isinstance(point, dict):
        return _published(float(point["lat"]), float(point["lon"]))
    if isinstance(point, (list, tuple)):
        return _published(float(point[1]), float(point[0]))
    if isinstance(point, str) and "," in point:
        lat, lon = point.split(",", 1)
        return _published(float(lat), float(lon))
    return None

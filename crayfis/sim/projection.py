"""Local plane (east/north metres around a centre) <-> WGS84 degrees on a sphere.

The simulator works in a flat local frame where showers and distances are simple; positions
leave it through the azimuthal equidistant projection, so distances from the centre are exact
on the same sphere (``definition.EARTH_RADIUS_M``) the coincidence search uses for distances.
"""
from __future__ import annotations

import numpy as np

from crayfis.definition import EARTH_RADIUS_M


def enu_to_latlon(east_m, north_m, lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse azimuthal equidistant projection about (lat0, lon0); lon wrapped to [-180, 180)."""
    east = np.asarray(east_m, dtype=np.float64)
    north = np.asarray(north_m, dtype=np.float64)
    phi1, lam1 = np.radians(lat0), np.radians(lon0)
    delta = np.hypot(east, north) / EARTH_RADIUS_M
    bearing = np.arctan2(east, north)
    sin_phi2 = np.sin(phi1) * np.cos(delta) + np.cos(phi1) * np.sin(delta) * np.cos(bearing)
    phi2 = np.arcsin(np.clip(sin_phi2, -1.0, 1.0))
    lam2 = lam1 + np.arctan2(np.sin(bearing) * np.sin(delta) * np.cos(phi1),
                             np.cos(delta) - np.sin(phi1) * sin_phi2)
    lon = (np.degrees(lam2) + 180.0) % 360.0 - 180.0
    return np.degrees(phi2), lon


def latlon_to_enu(lat, lon, lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    """Forward azimuthal equidistant projection about (lat0, lon0)."""
    phi, lam = np.radians(np.asarray(lat, dtype=np.float64)), np.radians(np.asarray(lon, float))
    phi1, lam1 = np.radians(lat0), np.radians(lon0)
    dlam = lam - lam1
    cos_c = np.sin(phi1) * np.sin(phi) + np.cos(phi1) * np.cos(phi) * np.cos(dlam)
    c = np.arccos(np.clip(cos_c, -1.0, 1.0))
    k = np.where(c > 0, c / np.where(np.sin(c) == 0, 1.0, np.sin(c)), 1.0)
    east = EARTH_RADIUS_M * k * np.cos(phi) * np.sin(dlam)
    north = EARTH_RADIUS_M * k * (np.cos(phi1) * np.sin(phi)
                                  - np.sin(phi1) * np.cos(phi) * np.cos(dlam))
    return east, north


def offset_latlon(lat, lon, d_east_m, d_north_m) -> tuple[np.ndarray, np.ndarray]:
    """Shift positions by small metre offsets (GPS jitter): first order, exact to < 1 mm at 1 km."""
    lat = np.asarray(lat, dtype=np.float64)
    new_lat = lat + np.degrees(np.asarray(d_north_m) / EARTH_RADIUS_M)
    cos_lat = np.maximum(np.cos(np.radians(lat)), 1e-9)
    new_lon = np.asarray(lon) + np.degrees(np.asarray(d_east_m) / (EARTH_RADIUS_M * cos_lat))
    return np.clip(new_lat, -90.0, 90.0), (new_lon + 180.0) % 360.0 - 180.0


def wrap_latlon(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip latitudes to [-90, 90] and wrap longitudes to [-180, 180), touching only the few
    values that need it (jittered positions near a pole or the antimeridian)."""
    bad = (lon < -180.0) | (lon >= 180.0)
    if bad.any():
        lon = lon.copy()
        lon[bad] = (lon[bad] + 180.0) % 360.0 - 180.0
    if (np.abs(lat) > 90.0).any():
        lat = np.clip(lat, -90.0, 90.0)
    return lat, lon

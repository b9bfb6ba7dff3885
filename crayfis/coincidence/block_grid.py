"""One latitude/longitude cell grid for the compiled scan: cells at least 2R wide, so an
anchor's window lies in the 3 x 3 half-cells ("quadrants") around its own, in at most four
cells.

Why: the compiled scan keeps one time-sliding list per cell, so each hit enters and leaves
one list, and each anchor looks at the few cells its disc can reach.

Construction. Latitude bands have height h >= ``CELL_FACTOR`` R (as an angle); y = (lat + 90)
/ h. Two points within R of each other differ in y by at most ``reach_bands`` (R as an angle
with a relative 1e-6 and 1e-9 degrees of slack, far above rounding, in band units). Both
have |lat| <= the poleward latitude of either one's band + R, so (haversine) they differ in
longitude by at most ``dlon_deg[b]`` for b the band of either: sin(dlon / 2) = sin(R / 2R_E) /
cos(that latitude). Longitude cells of band b have width >= ``CELL_FACTOR`` dlon_deg[b]; x is
the longitude fraction times the band's cell count, cell floor(x), taken modulo the count
(cells wrap across the antimeridian). With CELL_FACTOR = 2 both reaches are under half a cell
(the test pins it), so a point within R of a point with quadrant (floor(2 y), floor(2 x)) lies
in quadrant rows floor(2 y) - 1 .. + 1 and, in each of those bands, quadrant columns
floor(2 x) - 1 .. + 1 of its own x there. A band whose poleward latitude + R reaches a pole, or
where dlon_deg is too wide, is one cell: a disc over the pole stays in it. The scan computes
y and x by one monotone float expression for every point, so rounding never moves a hit out
of a reach that holds it exactly.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from crayfis.definition import EARTH_RADIUS_M

CELL_FACTOR = 2.0  # cell width in units of R: two cells per axis reach any disc
_SLACK = 1.0 + 1e-6  # relative slack on R and on longitude bounds
_ABS_SLACK_DEG = 1e-9  # 0.1 mm
_MARGIN = 1.0 + 2e-6  # cells a little wider than the slackened reach
_MAX_BANDS = 1 << 17  # cells never smaller than ~150 m in latitude: keeps the tables small
_MAX_LON_CELLS = 1 << 20
_LAT_SLACK_DEG = 1e-7


def lon_reach_deg(poleward_deg, radius_m: float) -> np.ndarray:
    """Most longitude (degrees, slackened) between two points within ``radius_m`` whose
    latitudes are both at most ``poleward_deg`` from the equator (already including R and
    slack): sin(dlon / 2) = sin(R / 2R_E) / cos(poleward); 360 where that reaches a pole."""
    poleward = np.asarray(poleward_deg, dtype=np.float64)
    ang = float(radius_m) / EARTH_RADIUS_M
    cos_p = np.cos(np.radians(np.minimum(poleward, 90.0)))
    sin_half = np.sin(min(ang * _SLACK / 2.0, np.pi / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(cos_p > 0, sin_half / np.where(cos_p > 0, cos_p, 1.0), np.inf)
        dlon = np.where(s < 1.0, np.degrees(2.0 * np.arcsin(np.minimum(s, 1.0))), 360.0)
    dlon = np.where(poleward >= 90.0, 360.0, dlon)
    return np.minimum(dlon * _SLACK + _ABS_SLACK_DEG, 360.0)


class BlockGrid(NamedTuple):
    """Cell tables for a search radius, as the scan (``compiled_scan``) takes them (module doc)."""

    radius_m: float
    n_bands: int
    bands_per_deg: float  # y = (lat + 90) * bands_per_deg; band = floor(y), last band for lat = 90
    reach_bands: float  # most y between two points within R
    lat_reach_deg: float  # most latitude between two points within R (the box test)
    lon_cells: np.ndarray  # int64 per band
    offsets: np.ndarray  # int64, first cell id of each band
    reach_cells: np.ndarray  # float64 per band: most x between two points within R
    dlon_deg: np.ndarray  # float64 per band: most longitude between two points within R

    @staticmethod
    @lru_cache(maxsize=16)
    def for_radius(radius_m: float, cell_factor: float = CELL_FACTOR) -> BlockGrid:
        radius_m = float(radius_m)
        ang = radius_m / EARTH_RADIUS_M  # radians
        lat_reach = min(180.0, float(np.degrees(ang)) * _SLACK + _ABS_SLACK_DEG)
        n_bands = int(min(_MAX_BANDS, max(1.0, np.floor(180.0 / (cell_factor * lat_reach * _MARGIN)))))
        bands_per_deg = n_bands / 180.0
        reach_bands = lat_reach * bands_per_deg
        h = 180.0 / n_bands
        b = np.arange(n_bands, dtype=np.float64)
        lo, hi = -90.0 + b * h, np.minimum(-90.0 + (b + 1.0) * h, 90.0)
        poleward = np.maximum(np.abs(lo), np.abs(hi)) + lat_reach + _LAT_SLACK_DEG
        dlon = lon_reach_deg(poleward, radius_m)
        n_lon = np.floor(360.0 / np.maximum(cell_factor * dlon * _MARGIN, 1e-300))
        n_lon = np.clip(n_lon, 1.0, _MAX_LON_CELLS)
        n_lon[dlon >= 360.0] = 1.0
        lon_cells = n_lon.astype(np.int64)
        offsets = np.concatenate(([0], np.cumsum(lon_cells)[:-1])).astype(np.int64)
        reach_cells = dlon * (n_lon / 360.0)
        return BlockGrid(radius_m, n_bands, bands_per_deg, reach_bands, lat_reach, lon_cells,
                         offsets, reach_cells, dlon)

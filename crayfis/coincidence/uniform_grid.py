"""A uniform latitude/longitude grid over one region, for the compiled scan's fast path.

Why: ``block_grid`` sizes longitude cells per latitude band (any region, the antimeridian, the
poles), so an anchor must work out, with float arithmetic, which cells of the next band its disc
reaches. Over a region of modest latitude extent that does not wrap (a city, a metro area, one
country) one longitude width can serve every band, so quadrants line up in rows and columns
and the 3 x 3 quadrants around an anchor's own are found by integer offsets.

Construction. Quadrants have height ``qh`` >= the latitude reach of R (``block_grid``'s, with
its slack) and width ``qw`` >= the longitude reach for the most poleward latitude any point
within R of a hit can have (``block_grid.lon_reach_deg``), each with a relative margin of 2e-6:
two points within R differ by less than one quadrant in each axis. A hit's quadrant is
``(floor((lat - lat0) / qh) + 1, floor((lon - lon0) / qw) + 1)``, by one monotone float
expression per axis (``lat0``, ``lon0``: the hits' least values; the + 1 leaves a padding row
and column), so its disc lies in the 3 x 3 quadrants around its own, all inside the grid.
Longitude differences are plain differences, which is why the grid is used only when the
hits' longitude span plus the reach stays under 360 degrees: then no pair is nearer across the
antimeridian. Cells for the time-sliding lists are 2 x 2 quadrants, so those 3 x 3 quadrants
lie in 2 x 2 cells.

The grid is declined (``None``; the scan then uses ``block_grid``) where the region reaches a
pole, could wrap, or spans so much latitude that the one width would be more than
``MAX_STRETCH`` times the width needed at its equatorward edge. Quadrants are made coarser (still
valid, a weaker filter) when the grid would hold more than ``max(4096, 2 n)`` of them, by at
most ``MAX_COARSENING`` in each axis: hits spread more thinly than that (a few phones on two
continents) are left to ``block_grid``'s hashed cells.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .block_grid import BlockGrid, lon_reach_deg

MAX_STRETCH = 1.5  # most one width may exceed the width needed at the region's equatorward edge
MAX_COARSENING = 4.0  # most quadrants may be enlarged to keep the grid within its size limit
_MARGIN = 1.0 + 2e-6  # quadrants a little larger than the slackened reach
_LAT_SLACK_DEG = 1e-7


class UniformGrid(NamedTuple):
    """The grid as the scan (``compiled_uniform_scan``) takes it (see the module doc)."""

    lat0: float
    lon0: float
    inv_qh: float  # 1 / quadrant height, degrees
    inv_qw: float  # 1 / quadrant width, degrees
    rows: int  # quadrant rows, padding included
    cols: int  # quadrant columns, padding included
    lat_reach_deg: float  # box test: most latitude between two points within R
    lon_reach_deg: float  # box test: most longitude between two points within R

    @property
    def cell_cols(self) -> int:
        return (self.cols >> 1) + 1

    @property
    def cells(self) -> int:
        return ((self.rows >> 1) + 1) * self.cell_cols

    @property
    def quadrants(self) -> int:
        return self.rows * self.cols


def uniform_grid(lat_min: float, lat_max: float, lon_min: float, lon_max: float,
                 radius_m: float, n_hits: int) -> UniformGrid | None:
    """The grid for hits with these extents, or None where it cannot serve (module doc)."""
    lat_reach = BlockGrid.for_radius(radius_m).lat_reach_deg
    poleward = max(abs(lat_min), abs(lat_max)) + lat_reach + _LAT_SLACK_DEG
    if poleward >= 90.0:
        return None
    lon_reach = float(lon_reach_deg(poleward, radius_m))
    equatorward = 0.0 if lat_min <= 0.0 <= lat_max else max(0.0, min(abs(lat_min), abs(lat_max)) - lat_reach)
    if lon_reach > MAX_STRETCH * float(lon_reach_deg(equatorward, radius_m)):
        return None
    if (lon_max - lon_min) + 2.0 * lon_reach >= 360.0:
        return None
    qh, qw = lat_reach * _MARGIN, lon_reach * _MARGIN
    limit = max(1 << 12, 2 * n_hits)
    spans = ((lat_max - lat_min) / qh + 3.0) * ((lon_max - lon_min) / qw + 3.0)
    if spans > limit:  # coarser quadrants: same shape, fewer of them
        grow = math.sqrt(spans / limit) * _MARGIN
        if grow > MAX_COARSENING:  # hits spread thinly over a wide area: the hashed cells serve
            return None
        qh, qw = qh * grow, qw * grow
    inv_qh, inv_qw = 1.0 / qh, 1.0 / qw
    rows = int((lat_max - lat_min) * inv_qh) + 3  # the scan's expression for the largest value
    cols = int((lon_max - lon_min) * inv_qw) + 3
    return UniformGrid(float(lat_min), float(lon_min), inv_qh, inv_qw, rows, cols, lat_reach, lon_reach)

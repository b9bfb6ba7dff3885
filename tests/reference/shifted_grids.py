"""Four shifted latitude/longitude cell grids; every point's R-disc lies inside its cell in one.
The geometry of the reference engine (``numpy_engine.py``).

Why: if the whole disc of radius R around an anchor lies inside one cell, the anchor's window
is a contiguous run of that cell once hits are sorted by (cell, time), so it is found without
any neighbour lookup, and the antimeridian and the poles need no special case.

Construction. Latitude bands have height h >= 4R (as an angle); a second band set is offset by
h/2. A point's fractional position in its band is within [1/4, 3/4] in at least one of the two
sets, i.e. at least h/4 >= R from both band edges there. Inside a band every point of such a
disc has |lat| at most the band's most poleward latitude, so two points of it differ in
longitude by at most dlon_max with sin(dlon_max / 2) = sin(R / 2R_E) / cos(poleward lat).
Longitude cells have width w >= 4 dlon_max, with a second cell set offset by w/2, and the same
argument applies on the longitude circle, which wraps (the cell index is taken modulo the
band's cell count, so cells straddle the antimeridian). A band that reaches a pole, or where
dlon_max is too wide, is one cell: a disc over the pole stays in its polar cap. Margins are a
relative 1e-6, far above rounding. The "central" grid of a point is the one whose cell holds its
disc; ``cells`` returns it along with the cell ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from crayfis.definition import EARTH_RADIUS_M

_MARGIN = 1.0 + 1e-6
_MAX_BANDS = 1 << 17  # cells never smaller than ~150 m in latitude: keeps the tables small
_MAX_LON_CELLS = 1 << 20
_LAT_SLACK_DEG = 1e-7


@dataclass(frozen=True)
class _BandSet:
    shift: float  # 0.0 or 0.5 band
    n_bands: int
    lon_cells: np.ndarray  # float64, cells per band
    lon_cells_int: np.ndarray  # the same as int64
    offsets: np.ndarray  # int64, first cell id of each band
    dlon_deg: np.ndarray  # float64, most longitude between two points of a disc in the band


@dataclass(frozen=True)
class ShiftedGrids:
    """Cell tables for a search radius."""

    radius_m: float
    band_height_deg: float
    band_sets: tuple[_BandSet, _BandSet] = field(repr=False)

    @classmethod
    def for_radius(cls, radius_m: float) -> ShiftedGrids:
        ang = float(radius_m) / EARTH_RADIUS_M * _MARGIN  # radians
        ang_deg = np.degrees(ang)
        n_bands = int(min(_MAX_BANDS, max(1.0, np.floor(180.0 / max(4.0 * ang_deg * _MARGIN, 1e-300)))))
        h = 180.0 / n_bands
        sin_half = np.sin(min(ang / 2.0, np.pi / 2))
        sets = []
        for shift in (0.0, 0.5):
            count = n_bands + (1 if shift else 0)
            b = np.arange(count, dtype=np.float64)
            lo = np.clip(-90.0 + (b - shift) * h, -90.0, 90.0)
            hi = np.clip(-90.0 + (b + 1.0 - shift) * h, -90.0, 90.0)
            poleward = np.maximum(np.abs(lo), np.abs(hi)) + _LAT_SLACK_DEG
            cos_p = np.cos(np.radians(np.minimum(poleward, 90.0)))
            with np.errstate(divide="ignore", invalid="ignore"):
                s = np.where(cos_p > 0, sin_half / np.where(cos_p > 0, cos_p, 1.0), np.inf)
                dlon_deg = np.where(s < 1.0, np.degrees(2.0 * np.arcsin(np.minimum(s, 1.0))), 360.0)
                n_lon = np.floor(360.0 / np.maximum(4.0 * dlon_deg * _MARGIN, 1e-300))
            n_lon = np.clip(n_lon, 1.0, _MAX_LON_CELLS)
            n_lon[poleward >= 90.0] = 1.0
            offsets = np.concatenate(([0], np.cumsum(n_lon.astype(np.int64))[:-1]))
            # spare entry: a point at exactly the last edge (lat = 90) joins the last band
            n_lon = np.append(n_lon, n_lon[-1])
            offsets = np.append(offsets, offsets[-1])
            dlon_deg = np.where(poleward >= 90.0, 360.0, dlon_deg)
            dlon_deg = np.append(dlon_deg, dlon_deg[-1])
            sets.append(_BandSet(shift, count, n_lon, n_lon.astype(np.int64), offsets, dlon_deg))
        return cls(float(radius_m), h, (sets[0], sets[1]))

    def cells(self, lat: np.ndarray, lon: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """(cell id of every point in each of the four grids, index of its central grid).

        Grid index = 2 * band set + longitude shift. A point's fractional position f in a band
        (or cell) of the unshifted set and f' = frac(f + 1/2) in the shifted one satisfy
        |f' - 1/2| = 1/2 - |f - 1/2|, so the shifted set is the more central one exactly when
        |f - 1/2| > 1/4. Inputs are >= 0 after the offsets, so truncation is floor.
        """
        yb = (np.asarray(lat, dtype=np.float64) + 90.0) * (1.0 / self.band_height_deg)
        xf = (np.asarray(lon, dtype=np.float64) + 180.0) * (1.0 / 360.0)
        xf -= xf >= 1.0  # lon = 180 is lon = -180
        cells, lon_shifted = [], []
        use_set1 = None
        for bs in self.band_sets:
            y = yb + bs.shift if bs.shift else yb
            band = y.astype(np.int64)  # the table has a spare last band for lat = 90
            if use_set1 is None:
                use_set1 = np.abs((y - band) - 0.5) > 0.25
            n_lon = bs.lon_cells_int[band]
            base = bs.offsets[band]
            x = xf * n_lon
            j = x.astype(np.int64)
            lon_shifted.append(np.abs((x - j) - 0.5) > 0.25)
            j += base
            cells.append(j)
            x += 0.5
            j = x.astype(np.int64)
            j -= (j >= n_lon) * n_lon  # wrap across the antimeridian
            j += base
            cells.append(j)
        pick = lon_shifted[0] ^ (use_set1 & (lon_shifted[0] ^ lon_shifted[1]))
        central = use_set1.astype(np.int8) * 2
        central += pick
        return cells, central

"""Spatial tiles on the sphere for partitioning the coincidence search, with an R halo.

Latitude bands of equal height; each band is cut into longitude tiles about as wide (in metres
at the band's poleward edge) as the band is high, so tiles near the poles are wide and the polar
bands are one tile each. Longitudes wrap, so a hit next to the antimeridian reaches tiles on the
other side. ``tiles_within_reach`` lists every tile whose area comes within R of a hit (a
superset: it uses the bounding box of the spherical cap), which is what the halo needs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crayfis.definition import EARTH_RADIUS_M

# Reach is padded by this (degrees, ~1 cm) so rounding in a distance test never drops a hit
# that the kernel's own haversine would count as within R.
PAD_DEG = 1e-7


def expand_ranges(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts c_i: (owner i repeated c_i times, 0..c_i-1 per owner), without a Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    step = np.arange(owner.size, dtype=np.int64) - np.repeat(starts, counts)
    return owner, step


@dataclass(frozen=True)
class TileGrid:
    """Bands of ``band_deg`` latitude; ``tiles_per_band[b]`` longitude tiles in band b."""

    band_deg: float
    tiles_per_band: tuple[int, ...]
    radius_m: float

    @classmethod
    def build(cls, tile_deg: float, radius_m: float) -> TileGrid:
        """A grid with tiles about ``tile_deg`` on a side, never narrower than 2R (halo < tile)."""
        if not tile_deg > 0:
            raise ValueError("tile_deg must be > 0")
        reach_deg = np.degrees(radius_m / EARTH_RADIUS_M)
        n_bands = max(1, int(np.floor(180.0 / max(tile_deg, 2.0 * reach_deg))))
        band = 180.0 / n_bands
        lo = -90.0 + band * np.arange(n_bands)
        poleward = np.maximum(np.abs(lo), np.abs(lo + band))
        per_band = np.maximum(1, np.floor(360.0 * np.cos(np.radians(poleward)) / band + 1e-9))
        return cls(band_deg=band, tiles_per_band=tuple(int(n) for n in per_band), radius_m=radius_m)

    @property
    def n_bands(self) -> int:
        return len(self.tiles_per_band)

    @property
    def n_tiles(self) -> int:
        return int(sum(self.tiles_per_band))

    @property
    def reach_deg(self) -> float:
        """Latitude reach of R, padded: no point within R of a hit is further in latitude."""
        return float(np.degrees(self.radius_m / EARTH_RADIUS_M) * (1 + 1e-9) + PAD_DEG)

    def band_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(tiles per band, global index of each band's first tile), int64."""
        per_band = np.asarray(self.tiles_per_band, dtype=np.int64)
        return per_band, np.cumsum(per_band) - per_band

    def band_of(self, lat: np.ndarray) -> np.ndarray:
        band = np.floor((np.asarray(lat, dtype=np.float64) + 90.0) / self.band_deg).astype(np.int64)
        return np.clip(band, 0, self.n_bands - 1)

    def home_tile(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """The one tile that owns each position (global tile index)."""
        per_band, offset = self.band_arrays()
        band = self.band_of(lat)
        n = per_band[band]
        x = np.mod(np.asarray(lon, dtype=np.float64) + 180.0, 360.0)
        i = np.minimum(np.floor(x * n / 360.0).astype(np.int64), n - 1)
        return offset[band] + i

    def tiles_within_reach(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hit index, tile) pairs: every tile that may hold a point within R of the hit."""
        lat = np.asarray(lat, dtype=np.float64)
        lon = np.asarray(lon, dtype=np.float64)
        per_band, offset = self.band_arrays()
        reach = self.reach_deg
        lat_lo, lat_hi = lat - reach, lat + reach
        over_pole = (lat_hi >= 90.0) | (lat_lo <= -90.0)
        cos_lat = np.cos(np.radians(lat))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.sin(np.radians(reach)) / cos_lat
        half_lon = np.where(over_pole | ~(ratio < 1.0), 180.0,
                            np.degrees(np.arcsin(np.clip(ratio, 0.0, 1.0))) + PAD_DEG)
        full = half_lon >= 180.0

        b0, b1 = self.band_of(lat_lo), self.band_of(lat_hi)
        hit, step = expand_ranges(b1 - b0 + 1)
        band = b0[hit] + step
        n = per_band[band]
        width = 360.0 / n
        i0 = np.floor((lon[hit] - half_lon[hit] + 180.0) / width).astype(np.int64)
        i1 = np.floor((lon[hit] + half_lon[hit] + 180.0) / width).astype(np.int64)
        count = np.where(full[hit], n, np.minimum(i1 - i0 + 1, n))
        i0 = np.where(full[hit], 0, i0)
        row, j = expand_ranges(count)
        tile = offset[band[row]] + np.mod(i0[row] + j, n[row])
        return hit[row], tile

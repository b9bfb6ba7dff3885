"""Small simulated hit sets for the Spark tests: phone noise at a few sites plus injected showers
placed on the edges that partitioning could break (minute/hour/slab boundaries, tile edges, the
antimeridian, a pole)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from spark_jobs.tiles import TileGrid

START_MS = 1_767_304_800_000 - 10 * 60_000  # 21:50 UTC: the span crosses 22:00
SPAN_MS = 25 * 60_000
M_PER_DEG = 111_195.0


@dataclass(frozen=True)
class Shower:
    name: str
    t_ms: int
    lat: float
    lon: float


def _offset(lat, lon, east_m, north_m):
    lat2 = lat + north_m / M_PER_DEG
    lon2 = lon + east_m / (M_PER_DEG * max(np.cos(np.radians(lat)), 1e-9))
    return np.clip(lat2, -90, 90), (lon2 + 180.0) % 360.0 - 180.0


def tile_corner(grid: TileGrid, lat_near: float, lon_near: float) -> tuple[float, float]:
    """A corner of the grid's tiles near (lat_near, lon_near): a band edge and a tile edge."""
    band = int(np.floor((lat_near + 90.0) / grid.band_deg))
    lat = -90.0 + band * grid.band_deg
    n = grid.tiles_per_band[band]  # tiles of the band just north of the edge
    width = 360.0 / n
    lon = -180.0 + round((lon_near + 180.0) / width) * width
    return lat, lon


def boundary_showers(grid: TileGrid) -> list[Shower]:
    minute = START_MS + 3 * 60_000
    hour = START_MS + 10 * 60_000
    corner = tile_corner(grid, 46.3, 6.2)
    return [
        Shower("minute", minute - 1, 46.2, 6.1),
        Shower("hour", hour - 2, 46.21, 6.12),
        Shower("tile_corner", START_MS + 7 * 60_000 + 17, *corner),
        Shower("antimeridian", START_MS + 12 * 60_000 + 5, -17.0, 180.0),
        Shower("north_pole", START_MS + 20 * 60_000 + 400, 89.9995, 45.0),  # hits around the pole
        Shower("polar_tile_corner", START_MS + 22 * 60_000 + 9, *tile_corner(grid, 89.2, 30.0)),
        Shower("plain", START_MS + 15 * 60_000 + 321, 46.19, 6.08),
    ]


def make_hits(seed: int, showers: list[Shower], *, sites=None, phones_per_site: int = 12,
              rate_hz: float = 0.1, spread_m: float = 300.0, shower_devices: int = 4,
              shower_radius_m: float = 150.0, span_ms: int = SPAN_MS) -> tuple[pa.Table, dict]:
    """Hits (hit_id, device_id, t_ms, lat, lon, shower) shuffled; truth maps shower -> hit_ids.

    Each shower puts one hit on each of ``shower_devices`` phones of its own, within
    ``shower_radius_m`` of the core and within 4 ms of its time (straddling its edge).
    """
    rng = np.random.default_rng(seed)
    sites = sites or [(s.lat, s.lon) for s in showers]
    cols: dict[str, list] = {k: [] for k in ("device_id", "t_ms", "lat", "lon", "shower")}
    n_dev = 0
    for s_lat, s_lon in sites:
        for _ in range(phones_per_site):
            d_lat, d_lon = _offset(s_lat, s_lon, *rng.uniform(-spread_m, spread_m, 2))
            n = rng.poisson(rate_hz * span_ms / 1000)
            cols["device_id"] += [f"phone{n_dev:04d}"] * n
            cols["t_ms"] += (START_MS + rng.integers(0, span_ms, n)).tolist()
            lat, lon = _offset(d_lat, d_lon, *rng.normal(0, 3, (2, n)))
            cols["lat"] += np.atleast_1d(lat).tolist()
            cols["lon"] += np.atleast_1d(lon).tolist()
            cols["shower"] += [""] * n
            n_dev += 1
    for s in showers:
        angles = np.linspace(0, 2 * np.pi, shower_devices, endpoint=False) + rng.uniform(0, 1)
        for j, a in enumerate(angles):
            r = shower_radius_m * (0.3 + 0.7 * rng.uniform())
            lat, lon = _offset(s.lat, s.lon, r * np.cos(a), r * np.sin(a))
            cols["device_id"].append(f"phone{n_dev:04d}")
            cols["t_ms"].append(s.t_ms + (j % 5))
            cols["lat"].append(float(lat))
            cols["lon"].append(float(lon))
            cols["shower"].append(s.name)
            n_dev += 1
    n = len(cols["t_ms"])
    order = rng.permutation(n)
    table = pa.table({
        "hit_id": [f"{h:010x}-{i}" for i, h in enumerate(rng.integers(0, 1 << 40, n))],
        "device_id": [cols["device_id"][i] for i in order],
        "t_ms": np.asarray(cols["t_ms"], dtype=np.int64)[order],
        "lat": np.asarray(cols["lat"])[order],
        "lon": np.asarray(cols["lon"])[order],
        "shower": [cols["shower"][i] for i in order],
    })
    truth: dict[str, list[str]] = {}
    for hid, name in zip(table.column("hit_id").to_pylist(), table.column("shower").to_pylist()):
        if name:
            truth.setdefault(name, []).append(hid)
    return table, truth

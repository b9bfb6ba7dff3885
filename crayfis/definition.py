"""The coincidence definition's parameters and the units every layer shares.

One module so that the kernel, the Spark job, the continuous search, the simulator's study and the
Django settings all speak of the same thing (docs/coincidence.md states the definition):

- times are int64 Unix milliseconds (UTC); a window of tau ms spans integer times
  t_a .. t_a + tau, both ends included, so it is tau + 1 ms wide;
- positions are WGS84 degrees; distances are great-circle distances on a sphere of radius
  ``EARTH_RADIUS_M``;
- a hit triggers when its window holds hits from at least ``min_devices`` distinct devices within
  ``radius_m`` of it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
YEAR_MS = 365 * DAY_MS + DAY_MS // 4  # a Julian year (365.25 days): false-alarm rates and
# cosmic-ray fluxes are quoted per year of this length

MAX_WINDOW_MS = 1 << 61  # times and windows stay far from the int64 limit

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG), the sphere of every distance in the project


@dataclass(frozen=True)
class SearchParams:
    """The coincidence definition's three parameters: window tau (ms), radius R (m), k devices."""

    window_ms: int
    radius_m: float
    min_devices: int

    def __post_init__(self):
        if int(self.window_ms) != self.window_ms or not 0 <= self.window_ms < MAX_WINDOW_MS:
            raise ValueError(f"window_ms must be a whole number in [0, 2**61), not {self.window_ms!r}")
        if not (self.radius_m >= 0 and math.isfinite(self.radius_m)):
            raise ValueError(f"radius_m must be a finite number >= 0, not {self.radius_m!r}")
        if int(self.min_devices) != self.min_devices or self.min_devices < 1:
            raise ValueError(f"min_devices must be a whole number >= 1, not {self.min_devices!r}")

    @property
    def window_width_ms(self) -> int:
        """Integer times a window covers: tau + 1 (both ends included)."""
        return int(self.window_ms) + 1

    def as_dict(self) -> dict:
        return {"window_ms": int(self.window_ms), "radius_m": float(self.radius_m),
                "min_devices": int(self.min_devices)}

"""Simulated phone networks for the checks, deterministic for their seed.

A Scenario is both the options of `manage.py simulate` (check 1 posts it through the proxy and
writes the same network to Parquet) and, in process, the list of uploads the fault checks post
themselves. Its span ends a few minutes before now, so the data is fresh for the dashboards.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crayfis.sim.config import FleetConfig, ShowerConfig, SimConfig
from crayfis.sim.datachunks import Upload, iter_uploads
from crayfis.sim.network import simulate_network

RESPONSE = "optimistic"   # phones that see shower particles well, so the check's showers stand out
MINUTE_MS = 60_000


def _recent_start(minutes: float) -> int:
    """A start on a whole minute such that the span ends about five minutes ago."""
    now = int(time.time() * 1000)
    return (now - int(minutes * MINUTE_MS) - 5 * MINUTE_MS) // MINUTE_MS * MINUTE_MS


@dataclass(frozen=True)
class Scenario:
    seed: int
    phones: int
    minutes: float
    area_km: float = 1.0
    showers: int = 0
    shower_energy_min_eV: float = 5e20
    rate_per_min: float = 2.0
    start_ms: int = field(default=0)

    def __post_init__(self):
        if not self.start_ms:
            object.__setattr__(self, "start_ms", _recent_start(self.minutes))

    def simulate_options(self) -> list[str]:
        """The same network as options of manage.py simulate."""
        start = datetime.fromtimestamp(self.start_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return ["--phones", str(self.phones), "--area-km", str(self.area_km), "--hours", repr(self.minutes / 60),
                "--showers", str(self.showers), "--shower-energy-min", repr(self.shower_energy_min_eV),
                "--rate-per-min", repr(self.rate_per_min), "--response", RESPONSE, "--duty", "always",
                "--no-natural", "--start", start, "--seed", str(self.seed)]

    def config(self) -> SimConfig:
        fleet = FleetConfig(n_phones=self.phones, area_km=self.area_km, rate_per_min=self.rate_per_min,
                            duty_cycle="always")
        showers = ShowerConfig(natural=False, response=RESPONSE, forced=self.showers,
                               forced_energy_min_eV=self.shower_energy_min_eV)
        return SimConfig(start_ms=self.start_ms, hours=self.minutes / 60, fleet=fleet, showers=showers)

    def uploads(self, datachunk_size: int) -> list[Upload]:
        """Every upload the network's phones send, in the order they would send them."""
        result = simulate_network(self.config(), self.seed)
        ups = list(iter_uploads(result, self.seed, datachunk_size=datachunk_size))
        return sorted(ups, key=lambda u: u.send_ms)

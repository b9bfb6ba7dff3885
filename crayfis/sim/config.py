"""Simulation settings: every knob of the phone network and the showers, with its default.

Frozen dataclasses so a config can be hashed, logged, and written to truth.json (``to_dict``)
and read back (``SimConfig.from_dict``). Units are in the field names or docstrings.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from crayfis.definition import HOUR_MS

# 2026-01-01T22:00:00Z: a night in Europe, so the default "night" duty cycle has phones live.
DEFAULT_START_MS = 1_767_304_800_000


@dataclass(frozen=True)
class FleetConfig:
    """The phones: where they are, how often they trigger, how bad their clocks and GPS are."""

    n_phones: int = 1000
    area_km: float = 1.0  # side of the square region
    center_lat: float = 46.2
    center_lon: float = 6.1
    # City-like hot spot: this share of the phones is Gaussian around the centre + offset.
    cluster_fraction: float = 0.0
    cluster_sigma_km: float = 0.1
    cluster_offset_km: tuple[float, float] = (0.0, 0.0)  # (east, north)
    # Trigger rate: median rate_per_min, log-normal spread; a few hot (noisy) devices.
    rate_per_min: float = 20.0
    rate_sigma: float = 0.3
    hot_fraction: float = 0.01
    hot_factor: tuple[float, float] = (5.0, 10.0)
    # Clock offsets: most phones N(0, clock_sigma_ms), a tail share N(0, clock_tail_sigma_ms).
    clock_sigma_ms: float = 30.0
    clock_tail_fraction: float = 0.05
    clock_tail_sigma_ms: float = 1000.0
    fps: float = 30.0
    # GPS 68 % radius per phone, log-uniform between the two bounds.
    gps_accuracy_m: tuple[float, float] = (5.0, 50.0)
    # Duty cycle: "night" (plugged in at local night, some intermittent, some always on) or
    # "always" (every phone live for the whole span).
    duty_cycle: str = "night"
    night_start_h: float = 22.5  # local solar time of plugging in, mean
    night_start_sigma_h: float = 1.5
    night_end_h: float = 7.0  # local solar time of unplugging (next morning), mean
    night_end_sigma_h: float = 1.0
    skip_night_prob: float = 0.1
    intermittent_fraction: float = 0.15
    sessions_per_day: float = 4.0
    session_mean_h: float = 1.0
    always_on_fraction: float = 0.05

    def __post_init__(self) -> None:
        _check(self.n_phones >= 1, "n_phones must be >= 1")
        _check(self.area_km > 0, "area_km must be > 0")
        _check(-90 < self.center_lat < 90, "center_lat must be in (-90, 90)")
        _check(self.rate_per_min > 0, "rate_per_min must be > 0")
        _check(self.fps > 0, "fps must be > 0")
        _check(self.rate_per_min / 60 * max(self.hot_factor) / self.fps < 0.5,
               "trigger rate too high for one event per frame")
        _check(self.duty_cycle in ("night", "always"), "duty_cycle must be 'night' or 'always'")
        for name in ("cluster_fraction", "hot_fraction", "clock_tail_fraction",
                     "skip_night_prob", "intermittent_fraction", "always_on_fraction"):
            _check(0 <= getattr(self, name) <= 1, f"{name} must be in [0, 1]")
        _check(self.intermittent_fraction + self.always_on_fraction <= 1,
               "intermittent_fraction + always_on_fraction must be <= 1")
        _check(0 < self.gps_accuracy_m[0] <= self.gps_accuracy_m[1], "bad gps_accuracy_m")


RESPONSES = {  # A*eps in m^2: (muons, photons)
    "moderate": (1e-5, 1e-9),
    "optimistic": (5e-5, 1e-9),
}


@dataclass(frozen=True)
class ShowerConfig:
    """Air showers: the natural flux over the region plus optional forced (injected) showers."""

    natural: bool = True
    rate_above_1EeV_per_km2_yr: float = 85.0  # Auger 2020, over the zenith range below
    energy_min_eV: float = 1e18
    energy_max_eV: float = 1e21
    zenith_max_deg: float = 65.0
    margin_m: float = 500.0  # natural cores land on the region grown by this margin
    # Forced showers: cores in the region, times inside live intervals (weighted by live
    # phone time), energies from the spectrum above forced_energy_min_eV unless given.
    forced: int = 0
    forced_energy_min_eV: float = 1e20
    forced_times_ms: tuple[int, ...] | None = None
    forced_energies_eV: tuple[float, ...] | None = None
    response: str = "moderate"  # key of RESPONSES; sets A*eps for muons and photons
    moliere_m: float = 79.0
    mu_floor: float = 1e-6  # phones where the expected hits fall below this are skipped

    def __post_init__(self) -> None:
        _check(self.response in RESPONSES, f"response must be one of {sorted(RESPONSES)}")
        _check(0 < self.energy_min_eV < self.energy_max_eV, "need 0 < energy_min < energy_max")
        _check(self.energy_min_eV <= self.forced_energy_min_eV < self.energy_max_eV,
               "forced_energy_min_eV must lie in [energy_min_eV, energy_max_eV)")
        _check(0 < self.zenith_max_deg < 90, "zenith_max_deg must be in (0, 90)")
        _check(self.forced >= 0, "forced must be >= 0")
        for name in ("forced_times_ms", "forced_energies_eV"):
            given = getattr(self, name)
            _check(given is None or len(given) == self.forced, f"{name} needs `forced` entries")

    @property
    def a_eps_muon_m2(self) -> float:
        return RESPONSES[self.response][0]

    @property
    def a_eps_photon_m2(self) -> float:
        return RESPONSES[self.response][1]


@dataclass(frozen=True)
class SimConfig:
    """A whole simulated run: time span, fleet, showers, and the memory bound per block."""

    start_ms: int = DEFAULT_START_MS
    hours: float = 1.0
    fleet: FleetConfig = field(default_factory=FleetConfig)
    showers: ShowerConfig = field(default_factory=ShowerConfig)
    max_hits_per_block: int = 2_000_000  # blocks of time sized so a block holds about this many

    def __post_init__(self) -> None:
        _check(self.hours > 0, "hours must be > 0")
        _check(self.max_hits_per_block >= 1000, "max_hits_per_block must be >= 1000")
        if self.showers.forced_times_ms is not None:
            _check(all(self.start_ms <= t < self.end_ms for t in self.showers.forced_times_ms),
                   "forced_times_ms must lie in the simulated span")

    @property
    def end_ms(self) -> int:
        return self.start_ms + int(round(self.hours * HOUR_MS))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimConfig:
        top = {k: v for k, v in data.items() if k not in ("fleet", "showers")}
        return cls(fleet=_build(FleetConfig, data.get("fleet", {})),
                   showers=_build(ShowerConfig, data.get("showers", {})), **top)

    def with_(self, **changes: Any) -> SimConfig:
        """Copy with top-level and ``fleet__x`` / ``showers__x`` changes."""
        fleet = {k[7:]: v for k, v in changes.items() if k.startswith("fleet__")}
        showers = {k[9:]: v for k, v in changes.items() if k.startswith("showers__")}
        top = {k: v for k, v in changes.items() if "__" not in k}
        return replace(self, fleet=replace(self.fleet, **fleet),
                       showers=replace(self.showers, **showers), **top)


def _build(kind: type, data: dict[str, Any]) -> Any:
    names = {f.name for f in fields(kind)}
    clean = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in names}
    return kind(**clean)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)

"""What the closed-loop study runs (``study.py``) and what it gives back (``StudyResult``, which
``study_report.py`` writes out): the search's parameters, the sizes of every run, the results."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from crayfis.definition import SearchParams

# The search the study runs (docs/coincidence.md): tau covers the phones' clocks (~30 ms spread,
# 5 % of phones off by ~1 s, plus 33 ms frames); R covers the bulk of a shower's hit phones
# (90 % of its expected hits lie within ~250-400 m); k = 3 distinct phones.
STUDY_PARAMS = SearchParams(window_ms=100, radius_m=300.0, min_devices=3)


@dataclass(frozen=True)
class AccidentalSpec:
    """One noise-only run: trigger rate per phone, phone density, simulated hours."""

    rate_per_min: float
    density_per_km2: float
    hours: float


@dataclass(frozen=True)
class StudyPlan:
    """Sizes and settings of every run of the study (``FULL`` and ``QUICK`` below)."""

    area_km: float = 3.0  # side of the square fleet; forced cores land uniformly on it
    fiducial_margin_m: float = 500.0  # efficiencies quoted for cores this far inside
    noise_rate_per_min: float = 0.2  # 3.3e-3 Hz: muon-level, mid docs/physics.md's 1e-3..1e-2 Hz
    shower_spacing_ms: int = 10_000  # forced showers one per spacing (no overlap in time)
    responses: tuple[str, ...] = ("moderate", "optimistic")
    energy_edges_eV: tuple[float, ...] = tuple(np.logspace(18, 21, 13).tolist())
    energy_density_per_km2: float = 1000.0
    showers_per_energy_bin: int = 150
    densities_per_km2: tuple[float, ...] = (100.0, 300.0, 1000.0, 3000.0)
    density_energy_eV: float = 1e20
    showers_per_density: int = 300
    far_per_year: float = 1.0  # "significant": false alarms below this, whole network
    accidental_area_km: float = 2.0
    accidental_runs: tuple[AccidentalSpec, ...] = (
        AccidentalSpec(20.0, 300.0, 10 / 60),
        AccidentalSpec(20.0, 1000.0, 5 / 60),
        AccidentalSpec(0.2, 300.0, 8.0),
        AccidentalSpec(0.2, 1000.0, 4.0),
        AccidentalSpec(0.2, 3000.0, 2.0),
    )
    multiplicities: tuple[int, ...] = (3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30)
    time_slides: int = 3  # per noise-only run


FULL = StudyPlan()
QUICK = StudyPlan(
    area_km=2.0, energy_edges_eV=tuple(np.logspace(18, 21, 7).tolist()),
    showers_per_energy_bin=30, densities_per_km2=(300.0, 1000.0, 3000.0),
    showers_per_density=40,
    accidental_runs=(AccidentalSpec(20.0, 1000.0, 2 / 60), AccidentalSpec(0.2, 1000.0, 2.0)),
)


@dataclass
class StudyResult:
    plan: StudyPlan
    params: SearchParams
    seed: int
    energy_rows: list[dict]
    energy_runs: list[dict]
    density_rows: list[dict]
    density_runs: list[dict]
    accidental_rows: list[dict]
    seconds: dict[str, float]

    def to_dict(self) -> dict:
        return {"plan": asdict(self.plan), "params": asdict(self.params), "seed": self.seed,
                "energy": {"rows": self.energy_rows, "runs": self.energy_runs},
                "density": {"rows": self.density_rows, "runs": self.density_runs},
                "accidentals": self.accidental_rows, "seconds": self.seconds}

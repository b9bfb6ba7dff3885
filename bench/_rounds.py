"""Timed rounds the read and write benchmarks share: warm-up rounds first, then rounds whose
order rotates, so no target always runs first or right after the same one."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence


def round_order(names: Sequence[str], r: int) -> list[str]:
    """Targets in round ``r``'s order: as given for warm-up rounds (r < 0), else rotated by r."""
    k = r % len(names) if r >= 0 else 0
    return list(names[k:]) + list(names[:k])


def timed_rounds(names: Sequence[str], warmup: int, repeats: int,
                 measure: Callable[[str], tuple[int, float]], width: int) -> tuple[dict, dict]:
    """Rates (hits/s) and 1-minute load averages before each run, per target, over the timed
    rounds; ``measure(name)`` runs a target once and gives (hits read, seconds)."""
    rates: dict[str, list[float]] = {}
    loads: dict[str, list[float]] = {}
    for r in range(-warmup, repeats):
        for name in round_order(names, r):
            before = os.getloadavg()[0]
            n, seconds = measure(name)
            label = f"run {r}" if r >= 0 else "warm-up"
            print(f"  {name:{width}s} {label}: {n / seconds:9,.0f} hits/s ({seconds:.2f} s, load {before:.1f})",
                  flush=True)
            if r >= 0:
                rates.setdefault(name, []).append(n / seconds)
                loads.setdefault(name, []).append(before)
    return rates, loads

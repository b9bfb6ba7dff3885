"""O(N^2) reference of the coincidence definition (docs/coincidence.md): clarity over speed.

Every hit is an anchor; its window is found by testing every hit against the definition (the
distance is ``distance_from_chord2`` of the chord by numpy's evaluation of the package's
formulas, ``distance_numpy``), and windows that share a hit are merged with a plain union-find.
The tests hold the kernel to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crayfis.coincidence.distance import distance_from_chord2

from .distance_numpy import chord2, unit_vectors


@dataclass
class BruteResult:
    triggered: list[int]  # ascending
    windows: dict[int, list[int]]  # anchor -> members sorted by (t, index)
    window_devices: dict[int, int]
    candidates: list[list[int]]  # members sorted by (t, index); candidates by first anchor
    first_anchors: list[int]
    candidate_anchors: list[list[int]]


def brute_force(t_ms, lat, lon, device, window_ms, radius_m, min_devices) -> BruteResult:
    t = np.asarray(t_ms, dtype=np.int64)
    dev = np.asarray(device, dtype=np.int64)
    x, y, z = unit_vectors(lat, lon)
    n = len(t)

    def by_time(indices):
        return sorted(indices, key=lambda i: (int(t[i]), i))

    windows, devices = {}, {}
    for a in range(n):
        in_time = (t >= t[a]) & (t <= t[a] + window_ms)
        dist = distance_from_chord2(chord2(x[a], y[a], z[a], x, y, z))
        members = np.flatnonzero(in_time & (dist <= radius_m))
        n_dev = len(set(dev[members].tolist()))
        if n_dev >= min_devices:
            windows[a] = by_time(members.tolist())
            devices[a] = n_dev

    parent = {}

    def find(i):
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, members in windows.items():
        for h in members:
            parent[find(h)] = find(a)

    groups: dict[int, list[int]] = {}
    for h in parent:
        groups.setdefault(find(h), []).append(h)
    candidates = []
    for members in groups.values():
        anchors = by_time([h for h in members if h in windows])
        candidates.append((anchors[0], by_time(members), anchors))
    candidates.sort(key=lambda c: (int(t[c[0]]), c[0]))
    return BruteResult(
        triggered=sorted(windows),
        windows=windows,
        window_devices=devices,
        candidates=[c[1] for c in candidates],
        first_anchors=[c[0] for c in candidates],
        candidate_anchors=[c[2] for c in candidates],
    )

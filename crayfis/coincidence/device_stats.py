"""Per-device statistics of a batch of hits in one compiled pass: what the background model
needs from the hits (rows, valid hits, first and last time, summed unit vectors).

Why: in numpy this is a dozen passes over every hit with large temporaries; one compiled loop
reads each hit once. The unit vectors are ``distance.unit_vector``'s and each device's sums add
its hits in input order, as ``np.bincount(..., weights=...)`` does.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .compiled import compiled
from .distance import unit_vector

_NO_TIME_MIN = np.iinfo(np.int64).max
_NO_TIME_MAX = np.iinfo(np.int64).min


class DeviceSums(NamedTuple):
    """Per device index 0..n-1; a device without valid hits has t_min > t_max."""

    n_rows: np.ndarray  # rows carrying the device, valid or not
    n_hits: np.ndarray  # valid rows
    t_min: np.ndarray
    t_max: np.ndarray
    x: np.ndarray  # summed unit vectors of the valid rows
    y: np.ndarray
    z: np.ndarray


@compiled
def _accumulate(idx, ok, t, lat, lon, out):
    n_rows, n_hits, t_min, t_max, sx, sy, sz = out
    for i in range(len(idx)):
        d = idx[i]
        if d < 0:
            continue
        n_rows[d] += 1
        if not ok[i]:
            continue
        n_hits[d] += 1
        ti = t[i]
        if ti < t_min[d]:
            t_min[d] = ti
        if ti > t_max[d]:
            t_max[d] = ti
        x, y, z = unit_vector(lat[i], lon[i])
        sx[d] += x
        sy[d] += y
        sz[d] += z


def device_sums(device: np.ndarray, valid: np.ndarray, t_ms: np.ndarray, lat: np.ndarray,
                lon: np.ndarray, n_devices: int) -> DeviceSums:
    """Statistics per device index (``device`` < 0: a row without a device, skipped).

    Rows where ``valid`` is False count in ``n_rows`` only; their time and position are not
    read, so they may hold anything."""
    out = DeviceSums(np.zeros(n_devices, np.int64), np.zeros(n_devices, np.int64),
                     np.full(n_devices, _NO_TIME_MIN), np.full(n_devices, _NO_TIME_MAX),
                     np.zeros(n_devices), np.zeros(n_devices), np.zeros(n_devices))
    device = np.asarray(device)
    if device.dtype not in (np.int32, np.int64):  # int32 dictionary indices are used as they are
        device = device.astype(np.int64)
    device = np.ascontiguousarray(device)
    if len(device) and device.max() >= n_devices:
        raise IndexError("device index outside 0 .. n_devices - 1")
    _accumulate(device, np.ascontiguousarray(valid, dtype=np.bool_),
                np.ascontiguousarray(t_ms, dtype=np.int64), np.ascontiguousarray(lat, dtype=np.float64),
                np.ascontiguousarray(lon, dtype=np.float64), out)
    return out

"""One-pass compiled reductions over a batch of hits: the kernel's input checks, whether times
ascend, and the extent of the positions. Each reads every hit once and allocates nothing."""

from __future__ import annotations

import numpy as np

from .compiled import compiled


@compiled
def input_summary(t, lat, lon):
    """(lat and lon all in range and not NaN, least t, most t, t ascending) in one pass: the
    kernel's input checks without six numpy reductions and a second pass for the order."""
    ok = True
    ordered = True
    t_min = t_max = t[0]
    for i in range(len(t)):
        la = lat[i]
        lo = lon[i]
        ok &= (la >= -90.0) & (la <= 90.0) & (lo >= -180.0) & (lo <= 180.0)
        ti = t[i]
        t_min = min(t_min, ti)
        t_max = max(t_max, ti)
        if i > 0:
            ordered &= ti >= t[i - 1]
    return ok, t_min, t_max, ordered


@compiled
def is_time_ordered(t):
    """Whether t never decreases (stops at the first step back)."""
    for i in range(1, len(t)):
        if t[i] < t[i - 1]:
            return False
    return True


@compiled
def lat_lon_bounds(lat, lon):
    """(least lat, most lat, least lon, most lon) in one pass."""
    la_min, la_max, lo_min, lo_max = np.inf, -np.inf, np.inf, -np.inf
    for i in range(len(lat)):
        la_min = min(la_min, lat[i])
        la_max = max(la_max, lat[i])
        lo_min = min(lo_min, lon[i])
        lo_max = max(lo_max, lon[i])
    return la_min, la_max, lo_min, lo_max

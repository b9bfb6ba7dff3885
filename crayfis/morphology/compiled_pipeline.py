"""Serialized DataChunk -> class codes in one compiled call (the indexer's path).

Reading (compiled_wire), replay (compiled_replay), features and rules (compiled_features) run
back to back without returning to Python: per upload the interpreter only crosses into compiled
code once, which matters when an upload holds a few dozen events.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from crayfis.morphology.compiled_features import decide_all, event_features
from crayfis.morphology.compiled_replay import OK, replay
from crayfis.morphology.compiled_wire import read


@njit(nogil=True)
def classify_buffer(buf, max_hits, lim):
    """(ok, codes) for the bytes of a DataChunk; ok False when the body needs protobuf's parser
    or a byte block does not replay (the caller then takes the protobuf path, which explains).
    lim: compiled_features.limits(). Not cached on disk, unlike the functions it calls: numba's
    cache would keep their old code here after an edit to their modules."""
    ok, hit_start, hx, hy, val_start, vals, side, res, mean, std, crowded = read(buf, max_hits)
    if not ok:
        return False, np.empty(0, dtype=np.int8)
    x, y, lit, bad = replay(hit_start, hx, hy, val_start, side, res[:, 0].copy(), res[:, 1].copy())
    if bad != OK:
        return False, np.empty(0, dtype=np.int8)
    for e in range(len(mean)):
        if not np.isfinite(mean[e]):
            mean[e] = np.nan
        if not np.isfinite(std[e]):
            std[e] = np.nan
    return True, decide_all(event_features(val_start, x, y, vals, lit, mean, std, lim), crowded, lim)

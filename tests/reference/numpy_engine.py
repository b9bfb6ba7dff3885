"""The vectorised numpy engine: a second, independent way to find the kernel's windows, which
the tests hold the compiled engine to on inputs too large for the brute force.

How the numpy engine works, and why it is exact:

1. Hits are put in time order once (one ``np.sort`` of keys packing time and index; nothing
   to do when the input is already in time order, as exports and index reads are).
2. The time-ordered hits are cut into chunks of ``chunk_size`` anchors; each chunk also holds
   the hits up to tau after its last anchor and every hit sharing its first anchor's time, so
   every window of an anchor in the chunk lies inside the chunk, which fits in cache.
3. Four shifted cell grids (``grid.py``) give every hit a "central" grid whose cell holds its
   whole R-disc. Per grid the chunk is sorted by (cell, time position) with one ``np.sort`` of
   packed keys (32-bit when they fit). W(a) is then a subset of a's *run*: the hits of its
   central cell with t in [t_a, t_a + tau], contiguous in that order. Runs are contiguous, so
   "the run holds >= k hits" is one shifted comparison: the pre-filter drops most anchors.
4. Runs of surviving anchors are expanded into (anchor, hit) pairs (``np.repeat`` offsets).
   The time condition holds by construction (integer comparisons on t_ms); the distance
   condition is ``distance.within_radius`` on the squared chord of unit vectors computed per
   hit by ``distance_numpy``, so pairs at exactly R, and hits exactly
   tau apart, are decided as the definition says.
5. Distinct devices per anchor come from one sort of packed (anchor, device) keys; windows of
   anchors with >= k devices are returned and merged into candidates by ``merge.py``.

Only steps 1 and 3 touch every hit.
"""

from __future__ import annotations

import numpy as np

from crayfis.coincidence.distance import within_radius
from crayfis.coincidence.kernel import (
    CoincidenceResult,
    TriggeredWindows,
    coincidences_from_windows,
    validated_hits,
    validated_params,
)
from crayfis.coincidence.packed_keys import bits, chunk_spans, csr_take, dense_codes, distinct_counts, time_order

from .distance_numpy import chord2_rows, unit_vectors
from .shifted_grids import ShiftedGrids

DEFAULT_CHUNK_SIZE = 1 << 17  # anchors per chunk: the chunk's arrays stay in cache
DEFAULT_PAIR_BUDGET = 1 << 18  # (anchor, hit) pairs expanded at once: keeps them in cache
_EMPTY = np.zeros(0, dtype=np.int64)
_SCAN_STEPS = 4  # run ends: step forward this many hits, then binary search


class _Chunk:
    """Hits of one chunk in time order (local index = time position)."""

    def __init__(self, t, lat, lon, dev, grids, tau, radius, k):
        self.t, self.lat, self.lon, self.dev = t, lat, lon, dev
        self.tau, self.radius, self.k = tau, radius, k
        n = len(t)
        self.n = n
        self.ib = bits(n - 1)
        self.mask = (1 << self.ib) - 1
        cells, self.central = grids.cells(lat, lon)
        self.keys = [self._sorted_key(cell) for cell in cells]
        self.u = self.have_u = None
        self._anchor_grid_for = None

    def _sorted_key(self, cell):
        """(cell, time position) packed in one integer and sorted; 32-bit when it fits,
        because sorting 32-bit keys takes half the time."""
        n, ib = self.n, self.ib
        cmin = int(cell.min())
        span = int(cell.max()) - cmin
        if bits(span) + ib <= 32:
            key = (cell - cmin).astype(np.uint32)
            key <<= np.uint32(ib)
            key |= np.arange(n, dtype=np.uint32)
        else:
            key, _ = dense_codes(cell, ib)
            key <<= ib
            key |= np.arange(n, dtype=np.int64)
        key.sort()
        return key

    def runs(self, g: int, anchor_ok: np.ndarray):
        """Anchors whose central grid is g and whose run can hold k hits.

        Returns (local positions of the anchors, first slot of the run in grid order, run
        length including the anchor). The run is every hit of the anchor's cell with t in
        [t_a, t_a + tau]: hits at t_a sorted before the anchor, the anchor, and the hits
        after it. Runs are contiguous, so "at least k - 1 hits follow in the run" is one
        comparison with the hit k - 1 places on.
        """
        key, ib, k, n = self.keys[g], self.ib, self.k, self.n
        kdt = key.dtype.type
        pos = (key & kdt(self.mask)).astype(np.int64)
        cg = key >> kdt(ib)
        tg = np.take(self.t, pos)
        same_prev = (cg[1:] == cg[:-1]) & (tg[1:] == tg[:-1])  # [i]: hit i+1 ties hit i
        ties = bool(same_prev.any())
        m = k - 1
        if m == 0:
            reach = np.ones(n, dtype=bool)
        else:
            reach = np.zeros(n, dtype=bool)
            if m < n:
                reach[:-m] = (cg[m:] == cg[:-m]) & (tg[m:] <= tg[:-m] + self.tau)
        cand = reach
        if ties:  # a tie before the anchor also counts: keep those anchors to be exact
            cand = reach.copy()
            cand[1:] |= same_prev
        s = np.flatnonzero(cand)
        s = np.compress(np.take(self._anchor_grid(anchor_ok), np.take(pos, s)) == g, s)
        if len(s) == 0:
            return _EMPTY, _EMPTY, _EMPTY
        # forward: the hits after the anchor in its run. Where the run reached k - 1 it holds
        # at least that many; step on a few hits (runs are short), then binary search.
        cs, lim = np.take(cg, s), np.take(tg, s) + self.tau
        fwd = np.where(np.take(reach, s), m, 0)
        act = np.arange(len(s))
        for _ in range(_SCAN_STEPS):
            nxt = np.minimum(np.take(s, act) + np.take(fwd, act) + 1, n - 1)
            more = (np.take(cg, nxt) == np.take(cs, act)) & (np.take(tg, nxt) <= np.take(lim, act))
            more &= nxt > np.take(s, act) + np.take(fwd, act)  # not clamped at the chunk's end
            act = np.compress(more, act)
            if act.size == 0:
                break
            fwd[act] += 1
        if act.size:
            a_s = np.take(s, act)
            tb = bits(int(self.t[-1]) + self.tau)
            if bits(int(cg[-1])) + tb <= 63:
                ct = (cg.astype(np.int64) << tb) | tg  # non-decreasing in grid order
                end = np.searchsorted(ct, (np.take(cs, act).astype(np.int64) << tb) | np.take(lim, act), "right")
            else:
                last_t = np.searchsorted(self.t, np.take(lim, act), "right") - 1
                probe = ((np.take(cs, act).astype(np.int64) << ib) | last_t).astype(key.dtype)
                end = np.searchsorted(key, probe, "right")
            fwd[act] = end - 1 - a_s
        # backward: hits at the anchor's own time sorted before it (rare)
        back = np.zeros(len(s), dtype=np.int64)
        if ties:
            act, step = np.flatnonzero(s > 0), 1
            while act.size:
                act = np.compress(np.take(same_prev, np.take(s, act) - step), act)
                back[act] += 1
                step += 1
                act = np.compress(np.take(s, act) - step >= 0, act)
        count = back + fwd + 1
        keep = np.flatnonzero(count >= k)
        s = np.take(s, keep)
        return np.take(pos, s), s - np.take(back, keep), np.take(count, keep)

    def _anchor_grid(self, anchor_ok):
        """Central grid of each hit evaluated as an anchor, -1 for the others."""
        if self._anchor_grid_for is not anchor_ok:
            self._anchor_grid_cache = np.where(anchor_ok, self.central, np.int8(-1))
            self._anchor_grid_for = anchor_ok
        return self._anchor_grid_cache

    def windows(self, g: int, anchors, starts, counts, pair_budget: int):
        """Exact windows of anchors in grid g, in batches of at most ~pair_budget pairs."""
        out = []
        cum = np.cumsum(counts)
        b0 = 0
        while b0 < len(anchors):
            limit = (cum[b0 - 1] if b0 else 0) + pair_budget
            b1 = max(b0 + 1, int(np.searchsorted(cum, limit, "right")))
            out.append(self._batch(self.keys[g], anchors[b0:b1], starts[b0:b1], counts[b0:b1]))
            b0 = b1
        return out

    def _batch(self, key, anchors, starts, counts):
        """Windows of one batch of anchors: runs expanded to pairs, exact distance, devices.

        Per pair only streaming work and two gathers (the member's key and unit vector); the
        anchor's vector is repeated, not gathered. Everything after the distance test runs on
        anchors that still have k hits only.
        """
        nb = len(anchors)
        offsets = np.zeros(nb + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        total = int(offsets[-1])
        slot = np.repeat(starts - offsets[:-1], counts)
        slot += np.arange(total)
        members = (np.take(key, slot) & key.dtype.type(self.mask)).astype(np.int64)
        del slot
        u = self._unit_matrix(anchors, members)
        ok = within_radius(chord2_rows(np.repeat(np.take(u, anchors, axis=0), counts, axis=0),
                                       np.take(u, members, axis=0)), self.radius)
        sizes = np.add.reduceat(ok, offsets[:-1], dtype=np.int64) if total else np.zeros(nb, np.int64)
        full = sizes >= self.k
        if not full.any():
            return _EMPTY, _EMPTY, _EMPTY, np.zeros(1, np.int64), _EMPTY
        pair = np.flatnonzero(ok & np.repeat(full, counts))
        a_rank = np.searchsorted(offsets, pair, "right") - 1
        members = np.take(members, pair)
        ndev = distinct_counts(a_rank, np.take(self.dev, members), nb)
        trig = ndev >= self.k
        sel = np.flatnonzero(np.take(trig, a_rank))
        key = (np.take(a_rank, sel) << self.ib) | np.take(members, sel)
        key.sort()  # by anchor, then time position
        per = np.bincount(key >> self.ib, minlength=nb)[trig]
        out_offsets = np.zeros(len(per) + 1, dtype=np.int64)
        np.cumsum(per, out=out_offsets[1:])
        return anchors[trig], sizes[trig], ndev[trig], out_offsets, key & self.mask

    def _unit_matrix(self, anchors, members):
        """Unit vectors (rows x, y, z) of the chunk's hits, each computed once; for all hits
        at once as soon as a quarter of them is needed (one pass beats masks)."""
        n = self.n
        if self.u is not None and self.have_u is None:
            return self.u
        if self.u is None and len(members) + len(anchors) > n // 4:
            self.u = np.column_stack(unit_vectors(self.lat, self.lon))
            return self.u
        if self.u is None:
            self.u = np.empty((n, 3))
            self.have_u = np.zeros(n, dtype=bool)
        need = np.zeros(n, dtype=bool)
        need[anchors] = True
        need[members] = True
        need &= ~self.have_u
        idx = np.flatnonzero(need)
        if len(idx):
            x, y, z = unit_vectors(np.take(self.lat, idx), np.take(self.lon, idx))
            flat = self.u.reshape(-1)
            flat[idx * 3] = x
            flat[idx * 3 + 1] = y
            flat[idx * 3 + 2] = z
            self.have_u[idx] = True
        return self.u


def _numpy_windows(t, lat, lon, dev, tau, radius, k, anchor_mask, chunk_size, pair_budget):
    """The vectorised engine (module doc, steps 1-5)."""
    empty = TriggeredWindows.empty()
    perm, ts = time_order(t)
    sel = None if anchor_mask is None else (anchor_mask if perm is None else anchor_mask[perm])
    grids = ShiftedGrids.for_radius(radius)
    chunk_size = max(1, int(chunk_size))

    def take(x, a, b):
        return x[a:b] if perm is None else x[perm[a:b]]

    parts = []
    for i0, i1, j0, i2 in chunk_spans(ts, tau, chunk_size, sel):
        chunk = _Chunk(ts[j0:i2], take(lat, j0, i2), take(lon, j0, i2), take(dev, j0, i2),
                       grids, tau, radius, k)
        core = np.zeros(i2 - j0, dtype=bool)
        core[i0 - j0:i1 - j0] = True if sel is None else sel[i0:i1]
        for g in range(4):
            anchors, starts, counts = chunk.runs(g, core)
            if len(anchors) == 0:
                continue
            for a, size, ndev, off, mem in chunk.windows(g, anchors, starts, counts, pair_budget):
                if len(a):
                    parts.append((a + j0, size, ndev, off, mem + j0))
    if not parts:
        return empty

    anchors = np.concatenate([p[0] for p in parts])
    sizes = np.concatenate([p[1] for p in parts])
    ndev = np.concatenate([p[2] for p in parts])
    members = np.concatenate([p[4] for p in parts])
    per = np.concatenate([np.diff(p[3]) for p in parts])
    offsets = np.zeros(len(anchors) + 1, dtype=np.int64)
    np.cumsum(per, out=offsets[1:])
    if perm is not None:  # time positions -> input indices
        anchors = perm[anchors]
        members = perm[members]
    order = np.argsort(anchors, kind="stable")
    offsets, members = csr_take(offsets, members, order)
    return TriggeredWindows(anchors[order], offsets, members, sizes[order], ndev[order])


def triggered_windows(t_ms, lat, lon, device, window_ms, radius_m, min_devices, anchor_mask=None,
                      *, chunk_size: int = DEFAULT_CHUNK_SIZE,
                      pair_budget: int = DEFAULT_PAIR_BUDGET) -> TriggeredWindows:
    """``kernel.triggered_windows`` by the vectorised engine."""
    t, lat, lon, dev, _ = validated_hits(t_ms, lat, lon, device)
    tau, radius, k = validated_params(window_ms, radius_m, min_devices)
    n = len(t)
    if anchor_mask is not None:
        anchor_mask = np.ascontiguousarray(anchor_mask, dtype=bool)
        if anchor_mask.shape != (n,):
            raise ValueError("anchor_mask must have one entry per hit")
    if n == 0 or (anchor_mask is not None and not anchor_mask.any()):
        return TriggeredWindows.empty()
    return _numpy_windows(t, lat, lon, dev, tau, radius, k, anchor_mask, chunk_size, pair_budget)


def find_coincidences(t_ms, lat, lon, device, window_ms, radius_m, min_devices, *,
                      chunk_size: int = DEFAULT_CHUNK_SIZE,
                      pair_budget: int = DEFAULT_PAIR_BUDGET) -> CoincidenceResult:
    """``kernel.find_coincidences`` with the windows of the vectorised engine, merged by the
    general merge (``merge.merge_windows``)."""
    t, lat, lon, dev, _ = validated_hits(t_ms, lat, lon, device)
    tau, radius, k = validated_params(window_ms, radius_m, min_devices)
    tw = triggered_windows(t, lat, lon, dev, tau, radius, k, chunk_size=chunk_size,
                           pair_budget=pair_budget)
    return coincidences_from_windows(t, lat, lon, dev, tw, tau, radius, k, time_ordered=False)

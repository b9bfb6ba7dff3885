"""Exact coincidence search (DESIGN.md section 5), identical to ``brute.py``: the public API
and the vectorised numpy engine (``engine="numpy"``). The default engine, ``"numba"``, is a
compiled scan over the same grids and the same float arithmetic (``numba_engine.py``,
``compiled_scan.py``); both return the same windows.

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
   condition is ``geo.within_radius`` on the squared chord of unit vectors that the same
   function as in the brute force computes per hit, so pairs at exactly R, and hits exactly
   tau apart, are decided as the definition says.
5. Distinct devices per anchor come from one sort of packed (anchor, device) keys; windows of
   anchors with >= k devices are returned and merged into candidates by ``merge.py``.

Only steps 1 and 3 touch every hit. For speed on VMs where page faults are slow, batch jobs
may call ``malloc_tuning.keep_freed_memory()`` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .distance import centroid_lat_lon, chord2_rows, unit_vectors, within_radius
from .grid import ShiftedGrids
from .merge import merge_windows

DEFAULT_CHUNK_SIZE = 1 << 17  # anchors per chunk: the chunk's arrays stay in cache
DEFAULT_PAIR_BUDGET = 1 << 18  # (anchor, hit) pairs expanded at once: keeps them in cache
_EMPTY = np.zeros(0, dtype=np.int64)
_SCAN_STEPS = 4  # run ends: step forward this many hits, then binary search


@dataclass
class TriggeredWindows:
    """Windows of triggered anchors: CSR over anchors (input indices, ascending); members of
    each window are input indices sorted by (t, index). Unpacks as (anchors, offsets, members)."""

    anchors: np.ndarray
    member_offsets: np.ndarray
    members: np.ndarray
    window_sizes: np.ndarray
    window_devices: np.ndarray

    def __iter__(self):
        return iter((self.anchors, self.member_offsets, self.members))

    def __len__(self) -> int:
        return len(self.anchors)


@dataclass
class CoincidenceResult:
    """Triggered anchors and candidates; all hit references are indices into the input.

    Candidate i has hits ``cand_members[cand_offsets[i]:cand_offsets[i+1]]`` sorted by
    (t, index) and triggered anchors ``cand_anchors[cand_anchor_offsets[i]:...]``, same
    order. Candidates are ordered by their first (earliest) triggered anchor.
    ``cand_multiplicity`` is the largest number of distinct devices in one of its windows
    (what the significance model scores); ``cand_n_devices`` counts the whole candidate.
    """

    window_ms: int
    radius_m: float
    min_devices: int
    triggered: np.ndarray
    window_sizes: np.ndarray
    n_window_devices: np.ndarray
    cand_offsets: np.ndarray
    cand_members: np.ndarray
    cand_first_anchor: np.ndarray
    cand_anchor_offsets: np.ndarray
    cand_anchors: np.ndarray
    cand_n_triggered_anchors: np.ndarray
    cand_n_hits: np.ndarray
    cand_n_devices: np.ndarray
    cand_multiplicity: np.ndarray
    cand_t_start_ms: np.ndarray
    cand_t_end_ms: np.ndarray
    cand_lat: np.ndarray
    cand_lon: np.ndarray
    windows: TriggeredWindows = field(repr=False, default=None)

    @property
    def n_candidates(self) -> int:
        return len(self.cand_offsets) - 1

    def candidate_members(self, i: int) -> np.ndarray:
        return self.cand_members[self.cand_offsets[i]:self.cand_offsets[i + 1]]


# ----------------------------------------------------------------------------- helpers


def _hits(t_ms, lat, lon, device):
    """Validated contiguous arrays, and whether t ascends (one compiled pass checks both)."""
    t = np.ascontiguousarray(t_ms, dtype=np.int64)
    la = np.ascontiguousarray(lat, dtype=np.float64)
    lo = np.ascontiguousarray(lon, dtype=np.float64)
    dev = np.ascontiguousarray(device, dtype=np.int64)
    n = len(t)
    if not (len(la) == len(lo) == len(dev) == n) or t.ndim != 1:
        raise ValueError("t_ms, lat, lon and device must be 1-d arrays of one length")
    ordered = True
    if n:
        if la.ndim == 1 and lo.ndim == 1:
            from .compiled_scan import input_summary  # no temporaries; NaN fails every comparison

            ok, t_min, t_max, ordered = input_summary(t, la, lo)
        else:
            ok = la.min() >= -90.0 and la.max() <= 90.0 and lo.min() >= -180.0 and lo.max() <= 180.0
            t_min, t_max, ordered = t.min(), t.max(), None
        if not ok:
            raise ValueError("lat must lie in [-90, 90] and lon in [-180, 180] (and not NaN)")
        if int(t_max) - int(t_min) >= 1 << 61:
            raise ValueError("t_ms spans more than 2**61 ms")
    return t, la, lo, dev, (None if ordered is None else bool(ordered))


def _params(window_ms, radius_m, min_devices):
    tau, radius, k = int(window_ms), float(radius_m), int(min_devices)
    if tau < 0 or tau >= 1 << 61:
        raise ValueError("window_ms must be in [0, 2**61)")
    if not radius >= 0 or not np.isfinite(radius):
        raise ValueError("radius_m must be a finite number >= 0")
    if k < 1:
        raise ValueError("min_devices must be >= 1")
    return tau, radius, k


def _bits(x: int) -> int:
    return max(1, int(x).bit_length())


def _time_order(t: np.ndarray):
    """(perm or None, time-sorted t minus t0); stable: equal times keep index order."""
    n = len(t)
    t0 = int(t.min())
    if n < 2 or bool(np.all(t[1:] >= t[:-1])):
        return None, t - t0
    ib = _bits(n - 1)
    if _bits(int(t.max()) - t0) + ib <= 63:
        key = ((t - t0) << ib) | np.arange(n, dtype=np.int64)
        key.sort()
        perm = key & ((1 << ib) - 1)
        key >>= ib
        return perm, key
    perm = np.argsort(t, kind="stable")
    return perm, t[perm] - t0


def _is_time_ordered(t: np.ndarray) -> bool:
    from .compiled_scan import is_time_ordered  # no temporaries, stops at the first step back

    return bool(is_time_ordered(t))


def _dense_codes(values: np.ndarray, spare_bits: int) -> tuple[np.ndarray, int]:
    """Non-negative codes preserving equality that fit in ``63 - spare_bits`` bits."""
    if len(values) == 0:
        return values, 1
    vmin = int(values.min())
    span = int(values.max()) - vmin
    if _bits(span) + spare_bits <= 63:
        return values - vmin, _bits(span)
    _, inv = np.unique(values, return_inverse=True)
    inv = inv.reshape(-1).astype(np.int64)
    return inv, _bits(len(values))


def distinct_counts(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Number of distinct ``values`` per group id in [0, n_groups), by one packed sort."""
    if len(groups) == 0:
        return np.zeros(n_groups, dtype=np.int64)
    gb = _bits(n_groups)
    codes, vb = _dense_codes(values, gb)
    key = (groups.astype(np.int64) << vb) | codes
    key.sort()
    new = np.ones(len(key), dtype=bool)
    new[1:] = key[1:] != key[:-1]
    return np.bincount(key[new] >> vb, minlength=n_groups).astype(np.int64)


def chunk_spans(ts: np.ndarray, tau: int, chunk_size: int, sel: np.ndarray | None = None):
    """(i0, i1, j0, i2) per chunk of time-sorted hits: anchors i0:i1, and the hits j0:i2 their
    windows can reach (every hit sharing the first anchor's time, up to tau after the last one).
    Chunks without a selected anchor are skipped."""
    n = len(ts)
    for i0 in range(0, n, chunk_size):
        i1 = min(i0 + chunk_size, n)
        if sel is not None and not sel[i0:i1].any():
            continue
        yield (i0, i1, int(np.searchsorted(ts, ts[i0], "left")),
               int(np.searchsorted(ts, ts[i1 - 1] + tau, "right")))


def _csr_take(offsets: np.ndarray, values: np.ndarray, order: np.ndarray):
    """Rows ``order`` of a CSR array, as a new CSR array."""
    counts = np.diff(offsets)[order]
    new_off = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(counts, out=new_off[1:])
    idx = np.repeat(offsets[:-1][order] - new_off[:-1], counts) + np.arange(new_off[-1])
    return new_off, values[idx]


# ----------------------------------------------------------------------------- one chunk


class _Chunk:
    """Hits of one chunk in time order (local index = time position)."""

    def __init__(self, t, lat, lon, dev, grids, tau, radius, k):
        self.t, self.lat, self.lon, self.dev = t, lat, lon, dev
        self.tau, self.radius, self.k = tau, radius, k
        n = len(t)
        self.n = n
        self.ib = _bits(n - 1)
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
        if _bits(span) + ib <= 32:
            key = (cell - cmin).astype(np.uint32)
            key <<= np.uint32(ib)
            key |= np.arange(n, dtype=np.uint32)
        else:
            key, _ = _dense_codes(cell, ib)
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
            tb = _bits(int(self.t[-1]) + self.tau)
            if _bits(int(cg[-1])) + tb <= 63:
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


# ----------------------------------------------------------------------------- public API


ENGINES = ("numba", "numpy")
DEFAULT_ENGINE = "numba"
NUMBA_CHUNK_SIZE = 1 << 16  # anchors per chunk of the compiled engine


def triggered_windows(t_ms, lat, lon, device, window_ms, radius_m, min_devices, anchor_mask=None,
                      *, engine: str = DEFAULT_ENGINE, chunk_size: int | None = None,
                      pair_budget: int = DEFAULT_PAIR_BUDGET) -> TriggeredWindows:
    """Windows W(a) of every anchor a that triggers (>= min_devices distinct devices).

    With ``anchor_mask`` only anchors where it is True are evaluated, while windows still draw
    on all hits: a partition passes its core as the mask and its halo as extra hits.
    ``engine``: "numba" (compiled scan, ``numba_engine.py``; the default) or "numpy" (the
    vectorised reference engine of this module). Both return the same windows; ``chunk_size``
    (anchors per chunk) tunes either, ``pair_budget`` only the numpy engine.
    """
    t, lat, lon, dev, ordered = _hits(t_ms, lat, lon, device)
    tau, radius, k = _params(window_ms, radius_m, min_devices)
    return _windows(t, lat, lon, dev, tau, radius, k, anchor_mask, engine, chunk_size, pair_budget,
                    ordered)


def _windows(t, lat, lon, dev, tau, radius, k, anchor_mask, engine, chunk_size, pair_budget,
             ordered=None):
    """``triggered_windows`` on validated inputs (``ordered``: whether t ascends, if known)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    n = len(t)
    if anchor_mask is not None:
        anchor_mask = np.ascontiguousarray(anchor_mask, dtype=bool)
        if anchor_mask.shape != (n,):
            raise ValueError("anchor_mask must have one entry per hit")
    if n == 0 or (anchor_mask is not None and not anchor_mask.any()):
        return TriggeredWindows(_EMPTY, np.zeros(1, np.int64), _EMPTY, _EMPTY, _EMPTY)
    if engine == "numba":
        from .numba_engine import triggered_windows_numba

        size = NUMBA_CHUNK_SIZE if chunk_size is None else max(1, int(chunk_size))
        anchors, sizes, ndev, members, perm = triggered_windows_numba(
            t, lat, lon, dev, tau, radius, k, anchor_mask, size, ordered)
        offsets = np.zeros(len(anchors) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        if len(perm):  # time positions -> input indices
            anchors, members = perm[anchors], perm[members]
        if len(anchors) > 1 and not bool(np.all(anchors[1:] > anchors[:-1])):
            order = np.argsort(anchors, kind="stable")
            offsets, members = _csr_take(offsets, members, order)
            anchors, sizes, ndev = anchors[order], sizes[order], ndev[order]
        tw = TriggeredWindows(anchors, offsets, members, sizes, ndev)
        tw.time_ordered_input = len(perm) == 0  # find_coincidences: no second check
        return tw
    size = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
    return _numpy_windows(t, lat, lon, dev, tau, radius, k, anchor_mask, size, pair_budget)


def _numpy_windows(t, lat, lon, dev, tau, radius, k, anchor_mask, chunk_size, pair_budget):
    """The vectorised engine (module doc, steps 1-5)."""
    empty = TriggeredWindows(_EMPTY, np.zeros(1, np.int64), _EMPTY, _EMPTY, _EMPTY)
    perm, ts = _time_order(t)
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
    offsets, members = _csr_take(offsets, members, order)
    return TriggeredWindows(anchors[order], offsets, members, sizes[order], ndev[order])


def find_coincidences(t_ms, lat, lon, device, window_ms, radius_m, min_devices, *,
                      engine: str = DEFAULT_ENGINE, chunk_size: int | None = None,
                      pair_budget: int = DEFAULT_PAIR_BUDGET) -> CoincidenceResult:
    """All triggered anchors and the candidates they merge into (DESIGN.md section 5).
    ``engine``, ``chunk_size``, ``pair_budget``: as in ``triggered_windows``."""
    t, lat, lon, dev, ordered = _hits(t_ms, lat, lon, device)
    tau, radius, k = _params(window_ms, radius_m, min_devices)
    tw = _windows(t, lat, lon, dev, tau, radius, k, None, engine, chunk_size, pair_budget, ordered)
    if ordered is None:
        ordered = getattr(tw, "time_ordered_input", None)
    if engine == "numba" and len(tw.anchors) and (_is_time_ordered(t) if ordered is None else ordered):
        from .numba_engine import merge_time_ordered  # indices sort as (t, index) here

        mc = merge_time_ordered(tw.anchors, tw.member_offsets, tw.members, len(t))
    else:
        mc = merge_windows(tw.anchors, tw.member_offsets, tw.members,
                           anchor_t=t[tw.anchors], member_t=t[tw.members])
    nc = mc.n_candidates
    n_hits = np.diff(mc.offsets)
    label = np.repeat(np.arange(nc, dtype=np.int64), n_hits)
    members = mc.members
    if nc:
        starts = mc.offsets[:-1]
        x, y, z = unit_vectors(lat[members], lon[members])
        c_lat, c_lon = centroid_lat_lon(np.add.reduceat(x, starts), np.add.reduceat(y, starts),
                                        np.add.reduceat(z, starts))
        a_dev = tw.window_devices[np.searchsorted(tw.anchors, mc.anchors)]
        multiplicity = np.maximum.reduceat(a_dev, mc.anchor_offsets[:-1])
        t_start, t_end = t[members[starts]], t[members[mc.offsets[1:] - 1]]
    else:
        c_lat = c_lon = np.zeros(0)
        multiplicity = t_start = t_end = _EMPTY
    return CoincidenceResult(
        window_ms=tau, radius_m=radius, min_devices=k,
        triggered=tw.anchors, window_sizes=tw.window_sizes, n_window_devices=tw.window_devices,
        cand_offsets=mc.offsets, cand_members=members, cand_first_anchor=mc.first_anchor,
        cand_anchor_offsets=mc.anchor_offsets, cand_anchors=mc.anchors,
        cand_n_triggered_anchors=mc.n_triggered_anchors, cand_n_hits=n_hits,
        cand_n_devices=distinct_counts(label, dev[members], nc),
        cand_multiplicity=multiplicity.astype(np.int64), cand_t_start_ms=t_start,
        cand_t_end_ms=t_end, cand_lat=c_lat, cand_lon=c_lon, windows=tw,
    )

"""The compiled engine of ``kernel.triggered_windows``: chunking, buffers and band pairs.

Hits are put in time order (nothing to do when they already are), cut into chunks of
``chunk_size`` anchors plus the hits a window of the chunk can reach (as in the numpy engine),
and each chunk is scanned either by ``compiled_uniform_scan`` over a ``uniform_grid`` (hits in
one region that neither reaches a pole nor wraps: the fast path) or by
``compiled_scan.scan_chunk`` over the cells of ``block_grid`` (anything). Every buffer is a
numpy array made here, so its size is visible and bounded: per chunk about 60 bytes per hit,
plus the outputs.
Anchors with a pair in ``within_radius``'s band come back with their members' squared chords
and are decided by ``geo.within_radius`` itself, so every distance decision is the numpy one.
"""

from __future__ import annotations

import numpy as np

from . import compiled_scan as cs
from .block_grid import BlockGrid
from .compiled_uniform_scan import scan_chunk_uniform
from .distance import _COS_TABLE, _SIN_TABLE, chord2_band, within_radius
from .kernel import chunk_spans
from .uniform_grid import UniformGrid, uniform_grid

_EMPTY = np.zeros(0, dtype=np.int64)
_FIRST_TABLE = 1 << 14
_MAX_T = np.iinfo(np.int64).max
UNIFORM_GRID = True  # use the uniform grid where it serves (tests turn it off to cover the other)


def _grow(a: np.ndarray, used: int, at_least: int) -> np.ndarray:
    out = np.empty(max(2 * len(a), at_least, 16), dtype=a.dtype)
    out[:used] = a[:used]
    return out


class _Buffers:
    """Scratch of one chunk (grown to the largest chunk) and the outputs (grown on demand)."""

    def __init__(self, n_hits: int, dense_cells: int, uniform: UniformGrid | None = None):
        self.n_loc = 0
        if uniform is not None:  # the uniform grid's tables
            self.table = 0
            self.hkey = _EMPTY
            self.head = np.zeros(uniform.cells, dtype=np.int32)
            self.cell_len = np.zeros(uniform.cells, dtype=np.int32)
            self.quad_count = np.zeros(uniform.quadrants, dtype=np.int32)
            self.hdat = np.zeros(0, dtype=np.int32)
        elif dense_cells >= 0:  # cells numbered densely: no hash table
            self.table = 0
            self.hkey = _EMPTY
            self.hdat = np.zeros(cs.SLOT_INTS * dense_cells, dtype=np.int32)
        else:
            self.table = _FIRST_TABLE
            self.hkey = np.empty(self.table, dtype=np.int64)
            self.hdat = np.empty(cs.SLOT_INTS * self.table, dtype=np.int32)
        self.block = np.empty(4, dtype=np.int64)  # slots of one disc's cells
        first = max(64, n_hits // 32)
        self.out_anchor = np.empty(first, dtype=np.int64)
        self.out_size = np.empty(first, dtype=np.int64)
        self.out_ndev = np.empty(first, dtype=np.int64)
        self.out_members = np.empty(4 * first, dtype=np.int64)
        self.def_anchor = np.empty(16, dtype=np.int64)
        self.def_count = np.empty(16, dtype=np.int64)
        self.def_members = np.empty(64, dtype=np.int64)
        self.def_c2 = np.empty(64, dtype=np.float64)
        self.fill = np.zeros(4, dtype=np.int64)

    def scratch_for(self, n_loc: int) -> None:
        if n_loc <= self.n_loc:
            return
        n = max(n_loc, self.n_loc + self.n_loc // 4)
        self.n_loc = n
        self.prev = np.empty(n, dtype=np.int32)
        self.hslot = np.empty(n, dtype=np.int32)
        self.hcell = np.empty(n, dtype=np.int32)
        self.ux, self.uy, self.uz = np.empty(n), np.empty(n), np.empty(n)
        self.have_u = np.empty(n, dtype=np.uint8)
        self.run_m = np.empty(n, dtype=np.int32)
        self.run_c2 = np.empty(n, dtype=np.float64)
        self.run_dev = np.empty(n, dtype=np.int64)
        self.dev_scratch = np.empty(n, dtype=np.int64)

    def grow(self, status: int, n_loc: int) -> None:
        f = self.fill
        if status == cs.TABLE_FULL:
            self.table *= 2
            self.hkey = np.empty(self.table, dtype=np.int64)
            self.hdat = np.empty(cs.SLOT_INTS * self.table, dtype=np.int32)
        elif status == cs.ANCHORS_FULL:
            self.out_anchor = _grow(self.out_anchor, f[0], 0)
            self.out_size = _grow(self.out_size, f[0], 0)
            self.out_ndev = _grow(self.out_ndev, f[0], 0)
        elif status == cs.MEMBERS_FULL:
            self.out_members = _grow(self.out_members, f[1], f[1] + n_loc)
        elif status == cs.DEFERRED_FULL:
            self.def_anchor = _grow(self.def_anchor, f[2], 0)
            self.def_count = _grow(self.def_count, f[2], 0)
        elif status == cs.DEFERRED_MEMBERS_FULL:
            self.def_members = _grow(self.def_members, f[3], f[3] + n_loc)
            self.def_c2 = _grow(self.def_c2, f[3], f[3] + n_loc)
        else:  # pragma: no cover - scan_chunk returns only the statuses above
            raise RuntimeError(f"scan_chunk returned {status}")


def _time_order(t: np.ndarray, tau: int, ordered: bool | None = None):
    """(perm or an empty array for 'already in order', times in time order); ``ordered``:
    whether t ascends, where the caller knows."""
    if ordered is None:
        ordered = cs.is_time_ordered(t)
    if ordered and (len(t) == 0 or int(t[-1]) <= _MAX_T - tau):
        return _EMPTY, t
    from .kernel import _time_order as sort_by_time  # stable packed-key sort

    perm, ts = sort_by_time(t)
    if perm is None:  # ordered, but too close to the int64 limit for t + tau
        perm = np.arange(len(t), dtype=np.int64)
    return perm, ts


def _dense_cells(lat, lon, grid: BlockGrid, n: int, limit: int | None = None):
    """(cell_base, first band, cell count) of a dense cell numbering when the hits lie in a
    region that does not wrap across the antimeridian and needs at most ``limit`` cells
    (default: 2 per hit, at least 4096); (empty, 0, -1) otherwise: the scan then hashes."""
    limit = max(1 << 12, 2 * n) if limit is None else limit
    b_lo, b_hi, xf_min, xf_max = cs.extent(lat, lon, grid.bands_per_deg, grid.n_bands)
    if b_hi - b_lo + 1 > limit:
        return _EMPTY, 0, -1
    cell_base = np.empty(b_hi - b_lo + 1, dtype=np.int64)
    size = cs.dense_layout(b_lo, xf_min, xf_max, grid.lon_cells, limit, cell_base)
    if size < 0:
        return _EMPTY, 0, -1
    return cell_base, int(b_lo), int(size)


def _deferred_windows(buf: _Buffers, dev, perm, radius: float, k: int):
    """Decide the band pairs of deferred anchors with ``within_radius``; their windows."""
    nda, ndm = int(buf.fill[2]), int(buf.fill[3])
    if nda == 0:
        return None
    anchors = buf.def_anchor[:nda]
    counts = buf.def_count[:nda]
    members = buf.def_members[:ndm]
    ok = within_radius(buf.def_c2[:ndm], radius)
    rank = np.repeat(np.arange(nda), counts)[ok]
    members = members[ok]
    sizes = np.bincount(rank, minlength=nda).astype(np.int64)
    from .kernel import distinct_counts

    member_dev = dev[members] if len(perm) == 0 else dev[perm[members]]
    ndev = distinct_counts(rank, member_dev, nda)
    trig = ndev >= k
    keep = trig[rank]
    return anchors[trig], sizes[trig], ndev[trig], members[keep]


def triggered_windows_numba(t, lat, lon, dev, tau: int, radius: float, k: int, anchor_mask,
                            chunk_size: int, ordered: bool | None = None):
    """(anchors, sizes, device counts, members) as time positions, and the permutation
    (empty: identity). Inputs are validated by the caller (``kernel``), which may also say
    whether t ascends (``ordered``)."""
    n = len(t)
    perm, ts = _time_order(t, tau, ordered)
    mask = anchor_mask  # None: every anchor
    scan_perm = perm if len(perm) else None  # None: the scans' version for time-ordered input
    grid = BlockGrid.for_radius(radius)
    c2_in, c2_out = chord2_band(radius)
    uni = None
    if UNIFORM_GRID:
        uni = uniform_grid(*cs.lat_lon_bounds(lat, lon), radius, n)
    if uni is not None:
        cell_base, b0, dense_cells = _EMPTY, 0, -1
    else:
        cell_base, b0, dense_cells = _dense_cells(lat, lon, grid, n)
    buf = _Buffers(n, dense_cells, uni)
    sel = None
    if anchor_mask is not None:
        sel = anchor_mask if len(perm) == 0 else anchor_mask[perm]
    for i0, i1, j0, i2 in chunk_spans(ts, tau, chunk_size, sel):
        buf.scratch_for(i2 - j0)
        while True:
            if uni is not None:
                status = scan_chunk_uniform(
                    ts, scan_perm, lat, lon, dev, mask, j0, i0, i1, i2, tau, k, c2_in, c2_out,
                    uni.lat0, uni.lon0, uni.inv_qh, uni.inv_qw, uni.cols, uni.lat_reach_deg,
                    uni.lon_reach_deg, _SIN_TABLE, _COS_TABLE, buf.prev, buf.hslot, buf.hcell,
                    buf.ux, buf.uy, buf.uz, buf.have_u, buf.head, buf.cell_len, buf.quad_count,
                    buf.out_anchor, buf.out_size, buf.out_ndev, buf.out_members,
                    buf.def_anchor, buf.def_count, buf.def_members, buf.def_c2,
                    buf.run_m, buf.run_c2, buf.run_dev, buf.dev_scratch, buf.fill)
            else:
                status = cs.scan_chunk(
                    ts, scan_perm, lat, lon, dev, mask, j0, i0, i1, i2, tau, k, c2_in, c2_out,
                    grid.bands_per_deg, grid.n_bands, grid.lon_cells, grid.offsets,
                    grid.lat_reach_deg, grid.dlon_deg, b0, cell_base,
                    _SIN_TABLE, _COS_TABLE, buf.prev, buf.hslot, buf.ux, buf.uy, buf.uz, buf.have_u,
                    buf.hkey, buf.hdat, 64 - (buf.table.bit_length() - 1), buf.block,
                    buf.out_anchor, buf.out_size, buf.out_ndev, buf.out_members,
                    buf.def_anchor, buf.def_count, buf.def_members, buf.def_c2,
                    buf.run_m, buf.run_c2, buf.run_dev, buf.dev_scratch, buf.fill)
            if status == cs.OK:
                break
            buf.grow(status, i2 - j0)
    na, nm = int(buf.fill[0]), int(buf.fill[1])
    anchors, sizes, ndev = buf.out_anchor[:na], buf.out_size[:na], buf.out_ndev[:na]
    members = buf.out_members[:nm]
    deferred = _deferred_windows(buf, dev, perm, radius, k)
    if deferred is not None:
        anchors = np.concatenate((anchors, deferred[0]))
        sizes = np.concatenate((sizes, deferred[1]))
        ndev = np.concatenate((ndev, deferred[2]))
        members = np.concatenate((members, deferred[3]))
    return anchors, sizes, ndev, members, perm


def warm_up() -> None:
    """Compile (or load from numba's cache) every function once, on a tiny input."""
    from .kernel import find_coincidences

    t = np.array([0, 0, 1, 5], dtype=np.int64)
    lat = np.array([10.0, 10.0, 10.0001, 10.0])
    lon = np.array([20.0, 20.0001, 20.0, 20.0])
    dev = np.array([1, 2, 3, 1], dtype=np.int64)
    find_coincidences(t, lat, lon, dev, 2, 100.0, 2, engine="numba", chunk_size=2)


def merge_time_ordered(anchors, offsets, members, n_hits: int):
    """``merge.merge_windows`` for hit indices that sort as (t, index) (time-ordered input):
    the same candidates, in the same order, by ``compiled_merge.merge_ordered``."""
    from .compiled_merge import merge_ordered
    from .merge import MergedCandidates

    na, nm = len(anchors), len(members)
    local = np.full(n_hits, -1, dtype=np.int32)
    parent = np.empty(na + nm, dtype=np.int64)
    comp = np.empty(na + nm, dtype=np.int64)
    touched = np.empty(na + nm, dtype=np.int64)
    a_local = np.empty(na, dtype=np.int64)
    out_offsets = np.empty(na + 1, dtype=np.int64)
    out_members = np.empty(na + nm, dtype=np.int64)
    out_anchor_offsets = np.empty(na + 1, dtype=np.int64)
    out_anchors = np.empty(na, dtype=np.int64)
    out_first = np.empty(na, dtype=np.int64)
    scratch = np.empty(na + 1, dtype=np.int64)
    nc, n_members = merge_ordered(anchors, offsets, members, local, parent, comp, touched, a_local,
                                  out_offsets, out_members, out_anchor_offsets, out_anchors,
                                  out_first, scratch)
    return MergedCandidates(offsets=out_offsets[:nc + 1], members=out_members[:n_members],
                            anchor_offsets=out_anchor_offsets[:nc + 1], anchors=out_anchors,
                            first_anchor=out_first[:nc])

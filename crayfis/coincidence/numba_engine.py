"""The compiled engine behind ``kernel.triggered_windows``: chunking, buffers and band pairs.

Hits are put in time order (nothing to do when they already are), cut into chunks of
``chunk_size`` anchors plus the hits a window of the chunk can reach, and each chunk is scanned
either by ``compiled_uniform_scan`` over a ``uniform_grid`` (hits in one region that neither
reaches a pole nor wraps: the fast path) or by ``compiled_scan`` over the cells of
``block_grid`` (anything). ``grid="block"`` asks for the second everywhere; both give the same
windows. Every buffer is a numpy array made here, so its size is visible and bounded: per chunk
about 60 bytes per hit, plus the outputs.
Anchors with a pair in ``within_radius``'s band come back with their members' squared chords
and are decided by ``distance.within_radius`` itself, so every distance decision is that one.
"""

from __future__ import annotations

import numpy as np

from .block_grid import BlockGrid
from .compiled_checks import is_time_ordered, lat_lon_bounds
from .compiled_scan import SLOT_INTS, CellIndex, dense_layout, extent, scan_chunk
from .compiled_uniform_scan import UniformTables, scan_chunk_uniform
from .distance import chord2_band, within_radius
from .packed_keys import chunk_spans, distinct_counts, time_order
from .scan_structs import (
    ANCHORS_FULL,
    DEFERRED_FULL,
    DEFERRED_MEMBERS_FULL,
    MEMBERS_FULL,
    OK,
    TABLE_FULL,
    Deferred,
    Found,
    HitLists,
    Output,
    Rule,
    ScanHits,
    Span,
    WindowScratch,
)
from .uniform_grid import UniformGrid, uniform_grid

GRIDS = ("auto", "block")  # "auto": the uniform grid where it serves, else block_grid
_EMPTY = np.zeros(0, dtype=np.int64)
_FIRST_TABLE = 1 << 14
_MAX_T = np.iinfo(np.int64).max


def _grow(a: np.ndarray, used: int, at_least: int) -> np.ndarray:
    out = np.empty(max(2 * len(a), at_least, 16), dtype=a.dtype)
    out[:used] = a[:used]
    return out


class _Buffers:
    """Scratch of one chunk (grown to the largest chunk), the grid's tables, and the outputs
    (grown on demand), handed to the scans as ``scan_structs`` structures."""

    def __init__(self, n_hits: int, dense_cells: int, cell_base: np.ndarray, b0: int,
                 uniform: UniformGrid | None):
        self.n_loc = 0
        self.uniform_tables = self.cells = None
        if uniform is not None:
            cells = ((uniform.rows >> 1) + 1) * ((uniform.cols >> 1) + 1)
            self.uniform_tables = UniformTables(np.zeros(cells, dtype=np.int32),
                                                np.zeros(cells, dtype=np.int32),
                                                np.zeros(uniform.rows * uniform.cols, dtype=np.int32))
        elif dense_cells >= 0:  # cells numbered densely: no hash table
            self.cells = CellIndex(b0, cell_base, _EMPTY, np.zeros(SLOT_INTS * dense_cells, np.int32),
                                   0, np.empty(4, np.int64))
        else:
            self._hash_table(_FIRST_TABLE)
        first = max(64, n_hits // 32)
        self.found = Found(np.empty(first, np.int64), np.empty(first, np.int64),
                           np.empty(first, np.int64), np.empty(4 * first, np.int64))
        self.deferred = Deferred(np.empty(16, np.int64), np.empty(16, np.int64),
                                 np.empty(64, np.int64), np.empty(64, np.float64))
        self.fill = np.zeros(4, dtype=np.int64)

    def _hash_table(self, size: int) -> None:
        self.cells = CellIndex(0, _EMPTY, np.empty(size, np.int64),
                               np.empty(SLOT_INTS * size, np.int32), 64 - (size.bit_length() - 1),
                               np.empty(4, np.int64))

    @property
    def out(self) -> Output:
        return Output(self.found, self.deferred, self.fill)

    def scratch_for(self, n_loc: int) -> tuple[HitLists, WindowScratch]:
        """The per-hit scratch, with room for a chunk of ``n_loc`` hits."""
        if n_loc > self.n_loc:
            n = max(n_loc, self.n_loc + self.n_loc // 4)
            self.n_loc = n
            self.lists = HitLists(np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.int32))
            self.window = WindowScratch(np.empty(n), np.empty(n), np.empty(n), np.empty(n, np.uint8),
                                        np.empty(n, np.int32), np.empty(n), np.empty(n, np.int64),
                                        np.empty(n, np.int64))
        return self.lists, self.window

    def grow(self, status: int, n_loc: int) -> None:
        f, found, deferred = self.fill, self.found, self.deferred
        if status == TABLE_FULL:
            self._hash_table(2 * len(self.cells.hkey))
        elif status == ANCHORS_FULL:
            self.found = found._replace(anchor=_grow(found.anchor, f[0], 0),
                                        size=_grow(found.size, f[0], 0), ndev=_grow(found.ndev, f[0], 0))
        elif status == MEMBERS_FULL:
            self.found = found._replace(members=_grow(found.members, f[1], f[1] + n_loc))
        elif status == DEFERRED_FULL:
            self.deferred = deferred._replace(anchor=_grow(deferred.anchor, f[2], 0),
                                              count=_grow(deferred.count, f[2], 0))
        elif status == DEFERRED_MEMBERS_FULL:
            self.deferred = deferred._replace(members=_grow(deferred.members, f[3], f[3] + n_loc),
                                              c2=_grow(deferred.c2, f[3], f[3] + n_loc))
        else:  # pragma: no cover - the scans return only the statuses above
            raise RuntimeError(f"scan returned {status}")


def _time_order(t: np.ndarray, tau: int, ordered: bool | None = None):
    """(perm or an empty array for 'already in order', times in time order); ``ordered``:
    whether t ascends, where the caller knows."""
    if ordered is None:
        ordered = is_time_ordered(t)
    if ordered and (len(t) == 0 or int(t[-1]) <= _MAX_T - tau):
        return _EMPTY, t
    perm, ts = time_order(t)
    if perm is None:  # ordered, but too close to the int64 limit for t + tau
        perm = np.arange(len(t), dtype=np.int64)
    return perm, ts


def _dense_cells(lat, lon, grid: BlockGrid, n: int, limit: int | None = None):
    """(cell_base, first band, cell count) of a dense cell numbering when the hits lie in a
    region that does not wrap across the antimeridian and needs at most ``limit`` cells
    (default: 2 per hit, at least 4096); (empty, 0, -1) otherwise: the scan then hashes."""
    limit = max(1 << 12, 2 * n) if limit is None else limit
    b_lo, b_hi, xf_min, xf_max = extent(lat, lon, grid.bands_per_deg, grid.n_bands)
    if b_hi - b_lo + 1 > limit:
        return _EMPTY, 0, -1
    cell_base = np.empty(b_hi - b_lo + 1, dtype=np.int64)
    size = dense_layout(b_lo, xf_min, xf_max, grid.lon_cells, limit, cell_base)
    if size < 0:
        return _EMPTY, 0, -1
    return cell_base, int(b_lo), int(size)


def _deferred_windows(buf: _Buffers, dev, perm, radius: float, k: int):
    """Decide the band pairs of deferred anchors with ``within_radius``; their windows."""
    nda, ndm = int(buf.fill[2]), int(buf.fill[3])
    if nda == 0:
        return None
    d = buf.deferred
    anchors, counts, members = d.anchor[:nda], d.count[:nda], d.members[:ndm]
    ok = within_radius(d.c2[:ndm], radius)
    rank = np.repeat(np.arange(nda), counts)[ok]
    members = members[ok]
    sizes = np.bincount(rank, minlength=nda).astype(np.int64)
    member_dev = dev[members] if len(perm) == 0 else dev[perm[members]]
    ndev = distinct_counts(rank, member_dev, nda)
    trig = ndev >= k
    keep = trig[rank]
    return anchors[trig], sizes[trig], ndev[trig], members[keep]


def _buffers(lat, lon, radius: float, n: int, grid: str) -> tuple[_Buffers, UniformGrid | None, BlockGrid]:
    """The buffers and the geometry for these hits (module doc)."""
    block = BlockGrid.for_radius(radius)
    uni = uniform_grid(*lat_lon_bounds(lat, lon), radius, n) if grid == "auto" else None
    if uni is not None:
        return _Buffers(n, -1, _EMPTY, 0, uni), uni, block
    cell_base, b0, dense_cells = _dense_cells(lat, lon, block, n)
    return _Buffers(n, dense_cells, cell_base, b0, None), None, block


def triggered_windows_compiled(t, lat, lon, dev, tau: int, radius: float, k: int, anchor_mask,
                               chunk_size: int, ordered: bool | None = None, grid: str = "auto"):
    """(anchors, sizes, device counts, members) as time positions, and the permutation
    (empty: identity). Inputs are validated by the caller (``kernel``), which may also say
    whether t ascends (``ordered``); ``grid`` is one of ``GRIDS``."""
    n = len(t)
    perm, ts = _time_order(t, tau, ordered)
    buf, uni, block = _buffers(lat, lon, radius, n, grid)
    hits = ScanHits(ts, perm if len(perm) else None, lat, lon, dev, anchor_mask)
    rule = Rule(int(tau), int(k), *chord2_band(radius))
    sel = None
    if anchor_mask is not None:
        sel = anchor_mask if len(perm) == 0 else anchor_mask[perm]
    for i0, i1, j0, i2 in chunk_spans(ts, tau, chunk_size, sel):
        span = Span(j0, i0, i1, i2)
        lists, window = buf.scratch_for(i2 - j0)
        while True:
            if uni is not None:
                status = scan_chunk_uniform(hits, span, rule, uni, buf.uniform_tables, lists, window, buf.out)
            else:
                status = scan_chunk(hits, span, rule, block, buf.cells, lists, window, buf.out)
            if status == OK:
                break
            buf.grow(status, i2 - j0)
    na, nm = int(buf.fill[0]), int(buf.fill[1])
    anchors, sizes, ndev = (a[:na] for a in buf.found[:3])
    members = buf.found.members[:nm]
    deferred = _deferred_windows(buf, dev, perm, radius, k)
    if deferred is not None:
        anchors, sizes, ndev, members = (np.concatenate(pair) for pair in
                                         zip((anchors, sizes, ndev, members), deferred))
    return anchors, sizes, ndev, members, perm

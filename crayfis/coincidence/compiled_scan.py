"""Compiled (numba) scan of one chunk of time-ordered hits over the cells of ``block_grid``: the
kernel's general inner loop (any region: the antimeridian, the poles, hits all over the globe).

Why compiled: each hit enters and leaves one cell list, and each anchor looks at the few hits
near it in space and time, with no (anchor, hit) pair materialised.

The scan:

- Anchors are visited in time order with a sliding window: before anchor a is evaluated,
  every hit with t <= t_a + tau has entered the list of its cell and every hit with t < t_a
  has left it. Cells are numbered densely when the hits lie in a region that does not wrap
  across the antimeridian (the common case), else found in an open-addressing hash table.
  A cell's list is linked newest first and its length counts only hits in the window; hits
  leave in the order they entered, the oldest of their lists, so the first ``length`` hits
  of a list are exactly its hits with t in [t_a, t_a + tau].
- The disc of a lies in the 3 x 3 quadrants (half-cells) around a's own (``block_grid``),
  within at most four cells, whose lists also count their hits per quadrant: if those
  quadrants hold fewer than k hits together, a is dropped without touching a hit.
  Otherwise the cells' lists are walked: a hit outside a's latitude/longitude box is not
  within R; if fewer than k hits pass the box, a is dropped; else
  ``compiled_window.finish_anchor`` decides the window with the distance of ``distance.py``.

All arrays are allocated by the caller (so tracemalloc sees them); a full output buffer or
hash table returns a status and the caller grows it and scans the chunk again.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .compiled import compiled
from .compiled_window import finish_anchor
from .scan_structs import OK, TABLE_FULL, HitPoints, input_index, selected

_HASH_MUL = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64 (Fibonacci hashing)
SLOT_INTS = 6  # int32 per list slot: last hit, list length, hits per quadrant (4)


class CellIndex(NamedTuple):
    """Where each cell's list lives. Dense numbering: cell (b, j) is slot ``cell_base[b - b0]
    + j`` (``dense_layout``); with an empty ``cell_base`` slots come from the hash table
    ``hkey`` (cell id per slot, -1 free; ``shift`` = 64 - log2 of its size, a power of two).
    ``data[6 s: 6 s + 6]``: last hit and length of slot s's list (linked newest first through
    ``Scratch.prev``; only its first ``length`` links are ever read), then its hits per
    quadrant of the cell. Dense slots must enter a scan with zero lengths and counts, and are
    left so. ``block``: room for the slots of one disc's cells."""

    b0: int
    cell_base: np.ndarray  # int64
    hkey: np.ndarray  # int64
    data: np.ndarray  # int32
    shift: int
    block: np.ndarray  # int64[4]


@compiled
def scan_chunk(hits, span, rule, grid, cells, lists, window, out):
    """Scan time positions [j0, i2) and evaluate anchors in [i0, i1) (see the module doc).

    ``hits``, ``span``, ``rule``, ``lists``, ``window``, ``out``: ``scan_structs``; ``grid``: a
    ``block_grid.BlockGrid``; ``cells``: ``CellIndex``. ``lists.slot`` holds 4 * slot +
    quadrant per local hit. Returns the status; ``out.fill`` is updated only on OK. Outputs
    hold time positions.
    """
    dense = len(cells.cell_base) > 0
    if not dense:
        cells.hkey[:] = -1
    status, entered, left = _scan(hits, span, rule, grid, cells, lists, window, out, dense)
    if dense:  # the hits still in their lists leave, so every count is zero for the next chunk
        data, slot = cells.data, lists.slot
        for e in range(left, entered):
            sq = slot[e]
            h = SLOT_INTS * (sq >> 2)
            data[h + 1] -= 1
            data[h + 2 + (sq & 3)] -= 1
    return status


@compiled(inline=True)
def _find(hkey, shift, hmask, key):
    """Slot of ``key``, or -1."""
    s = ((key * _HASH_MUL) >> shift) & hmask
    while True:
        kk = hkey[s]
        if kk == key:
            return s
        if kk == -1:
            return -1
        s = (s + 1) & hmask


@compiled(inline=True)
def _slot(dense, cell_base, b0, offsets, hkey, shift, hmask, band, j, n):
    """Slot of cell j of a band (j may be one off either end: it wraps), or -1 (hashed, and
    not in the table). Dense numbering never wraps (``dense_layout``)."""
    if dense:
        return cell_base[band - b0] + j
    if j < 0:
        j += n
    elif j >= n:
        j -= n
    return _find(hkey, shift, hmask, offsets[band] + j)


@compiled(inline=True)
def _band_y_x(lat, lon, bands_per_deg):
    """(band, y, x fraction) of a point, by the expressions every use of the grid shares."""
    y = (lat + 90.0) * bands_per_deg
    xf = (lon + 180.0) * (1.0 / 360.0)
    if xf >= 1.0:  # lon = 180 is lon = -180
        xf -= 1.0
    return np.int64(y), y, xf


# One function: the disc's cells are found and walked inline because a helper taking the
# cell tables would add reference-count operations to every anchor (compiled_window's doc).
@compiled
def _scan(hits, span, rule, grid, cells, lists, window, out, dense):  # noqa: C901
    """``scan_chunk``'s loop; returns (status, hits entered, hits left)."""
    ts, perm, lat, lon, mask = hits.t, hits.perm, hits.lat, hits.lon, hits.mask
    bands_per_deg, n_bands, lon_cells, offsets = grid.bands_per_deg, grid.n_bands, grid.lon_cells, grid.offsets
    dlat, dlon_band = grid.lat_reach_deg, grid.dlon_deg
    b0, cell_base, hkey, hdat, shift, block = cells
    prev, hslot = lists.prev, lists.slot
    run_m = window.run_m
    found, deferred, fill = out
    points = HitPoints(perm, lat, lon, hits.dev)
    tau, k = rule.tau, rule.k
    j0 = span.j0
    n_loc = span.i2 - j0
    cap = len(hkey)
    hmask = cap - 1
    window.have_u[:n_loc] = 0
    used = 0
    fills = (fill[0], fill[1], fill[2], fill[3])
    enter = 0  # next hit to enter its list
    leave = 0  # next hit to leave its list
    q = span.i0 - j0
    q_end = span.i1 - j0
    while q < q_end:  # one group of anchors sharing a time: one window
        tq = ts[j0 + q]
        g_end = q + 1
        while g_end < q_end and ts[j0 + g_end] == tq:
            g_end += 1
        e_end = enter
        while e_end < n_loc and ts[j0 + e_end] - tq <= tau:
            e_end += 1
        for e in range(enter, e_end):
            e_idx = input_index(perm, j0 + e)
            band, y, xf = _band_y_x(lat[e_idx], lon[e_idx], bands_per_deg)
            row = np.int64(2.0 * y) - 2 * band
            if band >= n_bands:  # lat = 90
                band = n_bands - 1
                row = 1
            n = lon_cells[band]
            x = xf * n
            j = np.int64(x)
            col = np.int64(2.0 * x) - 2 * j
            if j >= n:
                j -= n
            if dense:
                s = cell_base[band - b0] + j
            else:
                key = offsets[band] + j
                s = ((key * _HASH_MUL) >> shift) & hmask
                while hkey[s] != key:
                    if hkey[s] == -1:
                        used += 1
                        if 4 * used > cap:  # keep the load under 1/4: probes stay ~1
                            return TABLE_FULL, enter, leave
                        hkey[s] = key
                        for i in range(1, SLOT_INTS):
                            hdat[SLOT_INTS * s + i] = 0
                        break
                    s = (s + 1) & hmask
            h = SLOT_INTS * s
            prev[e] = hdat[h]
            hdat[h] = e
            hdat[h + 1] += 1
            hdat[h + 2 + 2 * row + col] += 1
            hslot[e] = 4 * s + 2 * row + col
            enter = e + 1
        l_end = leave
        while ts[j0 + l_end] < tq:  # the oldest hits of a list leave: its length shrinks
            l_end += 1
        for e in range(leave, l_end):
            sq = hslot[e]
            h = SLOT_INTS * (sq >> 2)
            hdat[h + 1] -= 1
            hdat[h + 2 + (sq & 3)] -= 1
        leave = l_end
        for qa in range(q, g_end):
            a_idx = input_index(perm, j0 + qa)
            if not selected(mask, a_idx):
                continue
            ala = lat[a_idx]
            alo = lon[a_idx]
            # The disc reaches quadrant rows R - 1 .. R + 1 and, in each band, quadrant columns
            # C - 1 .. C + 1 around the point's own quadrant (R, C) = (floor(2 y), floor(2 x)):
            # its reach is less than half a cell either way (block_grid). That is the point's
            # own band (both rows) and the adjacent row of the next band towards its quadrant.
            sq = hslot[qa]
            s_own = sq >> 2
            row = (sq >> 1) & 1
            col = sq & 1
            band, _, xf = _band_y_x(ala, alo, bands_per_deg)
            if band >= n_bands:
                band = n_bands - 1
            total = hdat[SLOT_INTS * s_own + 1]
            block[0] = s_own
            nl = 1
            n = lon_cells[band]
            if n > 1:  # the neighbour cell on the side of the point's quadrant: its half
                if dense:  # a band's cells are numbered consecutively, with one spare each side
                    s = s_own + 2 * col - 1
                else:
                    s = _slot(dense, cell_base, b0, offsets, hkey, shift, hmask, band,
                              hkey[s_own] - offsets[band] + 2 * col - 1, n)
                if s >= 0:
                    h = SLOT_INTS * s + 2 + (1 - col)
                    near = hdat[h] + hdat[h + 2]
                    total += near
                    block[nl] = s
                    nl += np.int64(near > 0)
            nb = band + 2 * row - 1
            if nb >= 0 and nb < n_bands:  # the next band's adjacent row, columns C - 1 .. C + 1
                rr = 1 - row
                n = lon_cells[nb]
                c = np.int64(2.0 * (xf * n))
                if c >= 2 * n:
                    c -= 2 * n
                if n == 1:
                    s = _slot(dense, cell_base, b0, offsets, hkey, shift, hmask, nb, 0, n)
                    if s >= 0:
                        h = SLOT_INTS * s + 2 + 2 * rr
                        near = hdat[h] + hdat[h + 1]
                        total += near
                        block[nl] = s
                        nl += np.int64(near > 0)
                else:
                    odd = c & 1
                    j = (c - 1) >> 1  # cell of column C - 1; column C + 1 is in cell j + 1
                    s = _slot(dense, cell_base, b0, offsets, hkey, shift, hmask, nb, j, n)
                    if s >= 0:
                        h = SLOT_INTS * s + 2 + 2 * rr
                        near = hdat[h + 1] + hdat[h] * odd
                        total += near
                        block[nl] = s
                        nl += np.int64(near > 0)
                    s = _slot(dense, cell_base, b0, offsets, hkey, shift, hmask, nb, j + 1, n)
                    if s >= 0:
                        h = SLOT_INTS * s + 2 + 2 * rr
                        near = hdat[h] + hdat[h + 1] * (1 - odd)
                        total += near
                        block[nl] = s
                        nl += np.int64(near > 0)
            if total < k:
                continue
            # box around the disc: |dlat| and |dlon| bounded as in block_grid.py
            dlon = dlon_band[band]
            mb = 0
            for c in range(nl):
                s = block[c]
                r = hdat[SLOT_INTS * s]
                for _ in range(hdat[SLOT_INTS * s + 1]):
                    r_idx = input_index(perm, j0 + r)
                    d = abs(lon[r_idx] - alo)
                    d = min(d, 360.0 - d)  # the same as 360 - d where d > 180
                    run_m[mb] = r
                    mb += np.int64((abs(lat[r_idx] - ala) <= dlat) & (d <= dlon))
                    r = prev[r]
            if mb < k:
                continue
            status, fills = finish_anchor(j0 + qa, qa, mb, j0, rule, fills, points, window, found, deferred)
            if status != OK:
                return status, enter, leave
        q = g_end
    fill[0], fill[1], fill[2], fill[3] = fills
    return OK, enter, leave


@compiled
def extent(lat, lon, bands_per_deg, n_bands):
    """(first band, last band, least and most x fraction) of the hits' cells and the bands
    next to them, by the expressions of the scan."""
    y_min, y_max, xf_min, xf_max = np.inf, -np.inf, np.inf, -np.inf
    for i in range(len(lat)):
        y = (lat[i] + 90.0) * bands_per_deg
        xf = (lon[i] + 180.0) * (1.0 / 360.0)
        if xf >= 1.0:
            xf -= 1.0
        y_min = min(y_min, y)
        y_max = max(y_max, y)
        xf_min = min(xf_min, xf)
        xf_max = max(xf_max, xf)
    b_lo = max(np.int64(0), np.int64(y_min) - 1)
    b_hi = min(n_bands - 1, np.int64(y_max) + 1)
    return b_lo, b_hi, xf_min, xf_max


@compiled
def dense_layout(b_lo, xf_min, xf_max, lon_cells, limit, cell_base):
    """Dense cell numbering for hits within one longitude range: cell (b, j) is
    ``cell_base[b - b_lo] + j`` for the hits' cells and one more cell either side. Returns
    the number of cells, or -1 where that range wraps across the antimeridian in some band
    or the cells would exceed ``limit``."""
    size = 0
    for i in range(len(cell_base)):
        n = lon_cells[b_lo + i]
        c_lo = np.int64(np.floor(2.0 * (xf_min * n))) // 2 - 1
        c_hi = np.int64(np.floor(2.0 * (xf_max * n))) // 2 + 1
        if c_lo < 0 or c_hi > n - 1:
            return -1
        cell_base[i] = size - c_lo
        size += c_hi - c_lo + 1
        if size > limit:
            return -1
    return size

"""Compiled (numba) ByteBlock replay of every event of an upload: each value's (x, y) and lit flag.

The order is crayfis.wire.byteblock's (docs/wire-protocol.md section 4): hits in list order, rows (dy)
outer, columns (dx) inner, a coordinate already covered by an earlier square skipped, an off-frame
one covered but holding no value. byteblock.block_coords is the definition; this is its compiled
twin for the index path, where a Python replay per event would cost more than the classifier's
whole budget, and tests pin the two to the same coordinates.

Coverage is kept in a grid over the hits' bounding box (squares included) when that box is not
much larger than the squares themselves (a cluster): O(box + n side^2) for n hits. Hits spread
over the frame (noise) instead test the earlier hits within 2r of the current one, listed once
per hit: O(n^2 + n side^2 k) with k such neighbours, few when the hits are apart (n is at most
MAX_LIT_PIXELS). Side 0 marks a `pixels` list: value i belongs to hit i itself, every pixel lit,
nothing replayed.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from crayfis.wire.byteblock import MAX_SIDE_LENGTH

OK = -1
GRID_SLACK = 4         # a grid is used when the box holds at most this many cells per square cell
GRID_FLOOR = 1024      # ... or at most this many cells
GRID_SIDE_MAX = 1 << 16
UNSEEN, OFF_FRAME = -1, -2


@njit(cache=True, nogil=True)
def _near_earlier(hx, hy, lo, i, reach, near):
    """Indices of hits lo..i-1 within `reach` of hit i in both axes, into near; their count."""
    k = 0
    for j in range(lo, i):
        if abs(hx[j] - hx[i]) <= reach and abs(hy[j] - hy[i]) <= reach:
            near[k] = j
            k += 1
    return k


@njit(cache=True, nogil=True, inline="always")
def _covered(hx, hy, near, n_near, px, py, r):
    for q in range(n_near):
        j = near[q]
        if abs(hx[j] - px) <= r and abs(hy[j] - py) <= r:
            return True
    return False


@njit(cache=True, nogil=True)
def _mark_lit(x, y, lit, lo, hi, cx, cy):
    """Mark the already-listed value at (cx, cy) lit (a hit whose centre an earlier square covered)."""
    for k in range(lo, hi):
        if x[k] == cx and y[k] == cy:
            lit[k] = True
            return


@njit(cache=True, nogil=True)
def _box(hx, hy, h_lo, h_hi, r):
    """(x0, y0, width, height) of the hits' squares."""
    x0, x1, y0, y1 = hx[h_lo], hx[h_lo], hy[h_lo], hy[h_lo]
    for i in range(h_lo, h_hi):
        x0, x1 = min(x0, hx[i]), max(x1, hx[i])
        y0, y1 = min(y0, hy[i]), max(y1, hy[i])
    return x0 - r, y0 - r, x1 - x0 + 2 * r + 1, y1 - y0 + 2 * r + 1


@njit(cache=True, nogil=True)
def _grid_area(hx, hy, h_lo, h_hi, side):
    """Cells of the grid the event would use, or 0 when its hits are too spread for one."""
    if h_hi == h_lo or side % 2 == 0 or side > MAX_SIDE_LENGTH:
        return 0
    _, _, w, h = _box(hx, hy, h_lo, h_hi, side // 2)
    if w > GRID_SIDE_MAX or h > GRID_SIDE_MAX:   # also keeps w * h far from overflowing
        return 0
    area = w * h
    return area if area <= max(GRID_SLACK * (h_hi - h_lo) * side * side, GRID_FLOOR) else 0


@njit(cache=True, nogil=True)
def _replay_grid(hx, hy, h_lo, h_hi, v_lo, v_hi, side, res_x, res_y, x, y, lit, grid):
    """_replay_event with coverage in a grid over the box (grid: at least its area)."""
    r = side // 2
    x0, y0, w, h = _box(hx, hy, h_lo, h_hi, r)
    grid[:w * h] = UNSEEN
    k = v_lo
    for i in range(h_lo, h_hi):
        cx, cy = hx[i], hy[i]
        if cx >= res_x or cy >= res_y:
            return False
        for dy in range(-r, r + 1):
            py = cy + dy
            row = (py - y0) * w - x0
            for dx in range(-r, r + 1):
                px = cx + dx
                if grid[row + px] != UNSEEN:
                    continue
                if px < 0 or px >= res_x or py < 0 or py >= res_y:
                    grid[row + px] = OFF_FRAME
                    continue
                if k >= v_hi:
                    return False
                grid[row + px] = k
                x[k], y[k] = px, py
                k += 1
        lit[grid[(cy - y0) * w + cx - x0]] = True
    return k == v_hi


@njit(cache=True, nogil=True)
def _replay_event(hx, hy, h_lo, h_hi, v_lo, v_hi, side, res_x, res_y, x, y, lit, near):
    """Replay one byte block into x/y/lit[v_lo:v_hi]; False when it is inconsistent."""
    if side % 2 == 0 or side > MAX_SIDE_LENGTH or res_x <= 0 or res_y <= 0:
        return False
    r = side // 2
    k = v_lo
    for i in range(h_lo, h_hi):
        cx, cy = hx[i], hy[i]
        if cx >= res_x or cy >= res_y:
            return False
        n_near = _near_earlier(hx, hy, h_lo, i, 2 * r, near)
        centre_listed = False
        for dy in range(-r, r + 1):
            py = cy + dy
            for dx in range(-r, r + 1):
                px = cx + dx
                if _covered(hx, hy, near, n_near, px, py, r) or px < 0 or px >= res_x or py < 0 or py >= res_y:
                    continue
                if k >= v_hi:
                    return False
                x[k], y[k], lit[k] = px, py, dx == 0 and dy == 0
                centre_listed |= dx == 0 and dy == 0
                k += 1
        if not centre_listed:
            _mark_lit(x, y, lit, v_lo, k, cx, cy)
    return k == v_hi


@njit(cache=True, nogil=True)
def replay(hit_start, hx, hy, val_start, side, res_x, res_y):
    """(x, y, lit, bad): coordinates and lit flags aligned with the values; bad = OK or the index
    of the first event whose block does not replay to its number of values."""
    n_vals = val_start[-1]
    x = np.empty(n_vals, dtype=np.int64)
    y = np.empty(n_vals, dtype=np.int64)
    lit = np.zeros(n_vals, dtype=np.bool_)
    widest, cells = 1, 1
    for e in range(len(side)):
        widest = max(widest, hit_start[e + 1] - hit_start[e])
        cells = max(cells, _grid_area(hx, hy, hit_start[e], hit_start[e + 1], side[e]))
    near = np.empty(widest, dtype=np.int64)
    grid = np.empty(cells, dtype=np.int64)
    for e in range(len(side)):
        h_lo, h_hi, v_lo, v_hi = hit_start[e], hit_start[e + 1], val_start[e], val_start[e + 1]
        if side[e] == 0:
            ok = h_hi - h_lo == v_hi - v_lo
            if ok:
                x[v_lo:v_hi] = hx[h_lo:h_hi]
                y[v_lo:v_hi] = hy[h_lo:h_hi]
                lit[v_lo:v_hi] = True
        elif res_x[e] <= 0 or res_y[e] <= 0:
            ok = False
        elif _grid_area(hx, hy, h_lo, h_hi, side[e]):
            ok = _replay_grid(hx, hy, h_lo, h_hi, v_lo, v_hi, side[e], res_x[e], res_y[e], x, y, lit, grid)
        else:
            ok = _replay_event(hx, hy, h_lo, h_hi, v_lo, v_hi, side[e], res_x[e], res_y[e], x, y, lit, near)
        if not ok:
            return x, y, lit, e
    return x, y, lit, OK

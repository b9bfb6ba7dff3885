"""Compiled scan over a ``uniform_grid``: the fast path for hits in one region.

The same sliding window as ``compiled_scan`` (read its module doc first): anchors in time
order; before anchor a is evaluated every hit with t <= t_a + tau has entered and every hit
with t < t_a has left. What differs is the geometry. Quadrants line up in rows and columns,
so:

- each hit counts once in its quadrant's window count (``quad_count``) and enters the list of
  its cell (2 x 2 quadrants; linked newest first through ``prev``, of which only the first
  ``cell_len`` links are read, as in ``compiled_scan``);
- an anchor's first filter is the sum of the nine window counts around its quadrant, read at
  fixed integer offsets (its disc lies in those quadrants, ``uniform_grid``);
- it then walks the lists of the 2 x 2 cells that hold those quadrants, keeps the hits inside
  the latitude/longitude box of the disc, and hands them to ``compiled_window.finish_anchor``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .compiled import compiled
from .compiled_window import finish_anchor
from .scan_structs import OK, HitPoints, input_index, selected


class UniformTables(NamedTuple):
    """Window state per cell (``head``, ``cell_len``) and per quadrant (``quad_count``), int32.
    All zero on entry to a scan and left zero (``head`` is only read through ``cell_len``)."""

    head: np.ndarray
    cell_len: np.ndarray
    quad_count: np.ndarray


@compiled
def scan_chunk_uniform(hits, span, rule, grid, tables, lists, window, out):
    """Scan time positions [j0, i2) and evaluate anchors in [i0, i1) (see the module doc).

    ``hits``, ``span``, ``rule``, ``lists``, ``window``, ``out``: ``scan_structs``; ``grid``: a
    ``uniform_grid.UniformGrid`` (cells have ``(cols >> 1) + 1`` columns); ``tables``:
    ``UniformTables``; ``lists.slot`` and ``lists.cell`` hold each local hit's quadrant and
    cell. Returns the status; ``out.fill`` is updated only on OK.
    """
    status, entered, left = _scan(hits, span, rule, grid, tables, lists, window, out)
    quad_count, cell_len, quad_of, cell_of = tables.quad_count, tables.cell_len, lists.slot, lists.cell
    for e in range(left, entered):  # the hits still in the window leave: every count back to 0
        quad_count[quad_of[e]] -= 1
        cell_len[cell_of[e]] -= 1
    return status


@compiled(inline=True)
def _quadrant(lat, lon, grid):
    """(quadrant, cell) of a point, by the one expression per axis of ``uniform_grid``."""
    qy = np.int64((lat - grid.lat0) * grid.inv_qh) + 1
    qx = np.int64((lon - grid.lon0) * grid.inv_qw) + 1
    return qy * grid.cols + qx, (qy >> 1) * ((grid.cols >> 1) + 1) + (qx >> 1)


@compiled
def _scan(hits, span, rule, grid, tables, lists, window, out):
    """``scan_chunk_uniform``'s loop; returns (status, hits entered, hits left). One function
    over local arrays, as ``compiled_window`` explains."""
    ts, perm, lat, lon, mask = hits.t, hits.perm, hits.lat, hits.lon, hits.mask
    head, cell_len, quad_count = tables
    prev, quad_of, cell_of = lists
    run_m = window.run_m
    found, deferred, fill = out
    points = HitPoints(perm, lat, lon, hits.dev)
    tau, k, cols = rule.tau, rule.k, grid.cols
    cell_cols = (cols >> 1) + 1
    dlat, dlon = grid.lat_reach_deg, grid.lon_reach_deg
    j0 = span.j0
    n_loc = span.i2 - j0
    window.have_u[:n_loc] = 0
    fills = (fill[0], fill[1], fill[2], fill[3])
    enter = 0  # next hit to enter
    leave = 0  # next hit to leave
    q = span.i0 - j0
    q_end = span.i1 - j0
    while q < q_end:  # one group of anchors sharing a time: one window
        tq = ts[j0 + q]
        g_end = q + 1
        while g_end < q_end and ts[j0 + g_end] == tq:
            g_end += 1
        while enter < n_loc and ts[j0 + enter] - tq <= tau:
            e_idx = input_index(perm, j0 + enter)
            quad, cell = _quadrant(lat[e_idx], lon[e_idx], grid)
            prev[enter] = head[cell]
            head[cell] = enter
            cell_len[cell] += 1
            quad_count[quad] += 1
            quad_of[enter] = quad
            cell_of[enter] = cell
            enter += 1
        while ts[j0 + leave] < tq:  # the oldest hit of its list leaves: the length shrinks
            quad_count[quad_of[leave]] -= 1
            cell_len[cell_of[leave]] -= 1
            leave += 1
        for qa in range(q, g_end):
            a_idx = input_index(perm, j0 + qa)
            if not selected(mask, a_idx):
                continue
            c = quad_of[qa]
            total = (quad_count[c - cols - 1] + quad_count[c - cols] + quad_count[c - cols + 1]
                     + quad_count[c - 1] + quad_count[c] + quad_count[c + 1]
                     + quad_count[c + cols - 1] + quad_count[c + cols] + quad_count[c + cols + 1])
            if total < k:
                continue
            qy = c // cols
            qx = c - qy * cols
            first = ((qy - 1) >> 1) * cell_cols + ((qx - 1) >> 1)  # 2 x 2 cells from here
            ala = lat[a_idx]
            alo = lon[a_idx]
            mb = 0
            for cell in (first, first + 1, first + cell_cols, first + cell_cols + 1):
                r = head[cell]
                for _ in range(cell_len[cell]):
                    r_idx = input_index(perm, j0 + r)
                    run_m[mb] = r
                    mb += np.int64((abs(lat[r_idx] - ala) <= dlat) & (abs(lon[r_idx] - alo) <= dlon))
                    r = prev[r]
            if mb < k:
                continue
            status, fills = finish_anchor(j0 + qa, qa, mb, j0, rule, fills, points, window, found, deferred)
            if status != OK:
                return status, enter, leave
        q = g_end
    fill[0], fill[1], fill[2], fill[3] = fills
    return OK, enter, leave

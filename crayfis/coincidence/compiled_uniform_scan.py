"""Compiled scan over a ``uniform_grid``: the fast path for hits in one region.

The same sliding window as ``compiled_scan`` (read its module doc first): anchors in time
order; before anchor a is evaluated every hit with t <= t_a + tau has entered and every hit
with t < t_a has left. What differs is the geometry. Quadrants line up in rows and columns,
so:

- each hit counts once in its quadrant's window count (``quad_count``) and enters the list of
  its cell (2 x 2 quadrants; linked newest first through ``prev``, of which only the first
  ``cell_len`` links are read, exactly as in ``compiled_scan``);
- an anchor's first filter is the sum of the nine window counts around its quadrant, read at
  fixed integer offsets (its disc lies in those quadrants, ``uniform_grid``);
- it then walks the lists of the 2 x 2 cells that hold those quadrants, keeps the hits inside
  the latitude/longitude box of the disc, and hands them to ``compiled_scan.finish_anchor``
  (chords with the bits of ``geo``, band pairs deferred, distinct devices, output).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .compiled_scan import OK, finish_anchor


@njit(cache=True, nogil=True)
def scan_chunk_uniform(ts, perm, lat, lon, dev, mask, j0, i0, i1, i2, tau, k, c2_in, c2_out,
                       lat0, lon0, inv_qh, inv_qw, cols, dlat, dlon, sin_table, cos_table,
                       prev, hquad, hcell, ux, uy, uz, have_u, head, cell_len, quad_count,
                       out_anchor, out_size, out_ndev, out_members, def_anchor, def_count,
                       def_members, def_c2, run_m, run_c2, run_dev, dev_scratch, fill):
    """Scan time positions [j0, i2) and evaluate anchors in [i0, i1) (see the module doc).

    Arguments as in ``compiled_scan.scan_chunk``, except the geometry (``uniform_grid``:
    ``cols`` quadrant columns; cells have ``(cols >> 1) + 1`` columns) and the tables:
    ``head`` and ``cell_len`` per cell, ``quad_count`` per quadrant, all zero on entry and left
    zero (``head`` is only read through ``cell_len``); ``hquad``/``hcell``: per local hit, its
    quadrant and cell. ``fill`` is updated only when the scan returns OK.
    """
    status, entered, left = _scan(
        ts, perm, lat, lon, dev, mask, j0, i0, i1, i2, tau, k, c2_in, c2_out, lat0, lon0, inv_qh,
        inv_qw, cols, dlat, dlon, sin_table, cos_table, prev, hquad, hcell, ux, uy, uz, have_u,
        head, cell_len, quad_count, out_anchor, out_size, out_ndev, out_members, def_anchor,
        def_count, def_members, def_c2, run_m, run_c2, run_dev, dev_scratch, fill)
    for e in range(left, entered):  # the hits still in the window leave: every count back to 0
        quad_count[hquad[e]] -= 1
        cell_len[hcell[e]] -= 1
    return status


@njit(cache=True, nogil=True)
def _scan(ts, perm, lat, lon, dev, mask, j0, i0, i1, i2, tau, k, c2_in, c2_out, lat0, lon0,
          inv_qh, inv_qw, cols, dlat, dlon, sin_table, cos_table, prev, hquad, hcell, ux, uy, uz,
          have_u, head, cell_len, quad_count, out_anchor, out_size, out_ndev, out_members,
          def_anchor, def_count, def_members, def_c2, run_m, run_c2, run_dev, dev_scratch, fill):
    """``scan_chunk_uniform``'s loop; returns (status, hits entered, hits left)."""
    n_loc = i2 - j0
    cell_cols = (cols >> 1) + 1
    have_u[:n_loc] = 0
    # finish_anchor's grouped arguments, packed once
    tables, units = (sin_table, cos_table), (ux, uy, uz)
    outs, defs = (out_anchor, out_size, out_ndev, out_members), (def_anchor, def_count, def_members)
    na, nm, nda, ndm = fill[0], fill[1], fill[2], fill[3]
    enter = 0  # next hit to enter
    leave = 0  # next hit to leave
    q = i0 - j0
    q_end = i1 - j0
    while q < q_end:  # one group of anchors sharing a time: one window
        tq = ts[j0 + q]
        g_end = q + 1
        while g_end < q_end and ts[j0 + g_end] == tq:
            g_end += 1
        while enter < n_loc and ts[j0 + enter] - tq <= tau:
            e_idx = j0 + enter if perm is None else perm[j0 + enter]
            qy = np.int64((lat[e_idx] - lat0) * inv_qh) + 1
            qx = np.int64((lon[e_idx] - lon0) * inv_qw) + 1
            quad = qy * cols + qx
            cell = (qy >> 1) * cell_cols + (qx >> 1)
            prev[enter] = head[cell]
            head[cell] = enter
            cell_len[cell] += 1
            quad_count[quad] += 1
            hquad[enter] = quad
            hcell[enter] = cell
            enter += 1
        while ts[j0 + leave] < tq:  # the oldest hit of its list leaves: the length shrinks
            quad_count[hquad[leave]] -= 1
            cell_len[hcell[leave]] -= 1
            leave += 1
        for qa in range(q, g_end):
            a_pos = j0 + qa
            a_idx = a_pos if perm is None else perm[a_pos]
            if mask is not None and not mask[a_idx]:
                continue
            c = hquad[qa]
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
                    r_idx = j0 + r if perm is None else perm[j0 + r]
                    run_m[mb] = r
                    mb += np.int64((abs(lat[r_idx] - ala) <= dlat) & (abs(lon[r_idx] - alo) <= dlon))
                    r = prev[r]
            if mb < k:
                continue
            status, (na, nm, nda, ndm) = finish_anchor(
                a_pos, qa, ala, alo, mb, k, j0, perm, lat, lon, dev, c2_in, c2_out, tables, units,
                have_u, run_m, run_c2, run_dev, dev_scratch, outs, defs, def_c2, (na, nm, nda, ndm))
            if status != OK:
                return status, enter, leave
        q = g_end
    fill[0], fill[1], fill[2], fill[3] = na, nm, nda, ndm
    return OK, enter, leave

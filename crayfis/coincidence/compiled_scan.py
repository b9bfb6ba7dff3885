"""Compiled (numba) scan of one chunk of time-ordered hits: the fast engine's inner loop.

Why compiled: the vectorised engine must materialise every candidate (anchor, hit) pair and
sort four times per chunk; here each hit enters and leaves one cell list, and each anchor
looks at the few hits near it in space and time.

The scan (geometry of ``block_grid.py``, arithmetic of ``geo.py``):

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
  within R; if fewer than k hits pass the box, a is dropped; else each gets its squared chord
  by the same float operations as ``geo.chord2`` on unit vectors computed by the same
  operations as ``geo.unit_vectors`` (no fastmath, so no reassociation or fused
  multiply-add: the same bits), and distinct devices are counted. Pairs whose chord falls in
  ``within_radius``'s thin band around R are not decided here: the anchor is handed back
  ("deferred") with its members and chords, and the caller decides them with
  ``geo.within_radius`` itself.

All arrays are allocated by the caller (so tracemalloc sees them); a full output buffer or
hash table returns a status and the caller grows it and scans the chunk again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .distance import _DEG, _STEP

OK, TABLE_FULL, ANCHORS_FULL, MEMBERS_FULL, DEFERRED_FULL, DEFERRED_MEMBERS_FULL = range(6)
_HASH_MUL = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64 (Fibonacci hashing)
_SMALL_RUN = 24  # distinct devices by pairwise comparison up to this many members
SLOT_INTS = _SLOT = 6  # int32 per hash slot: last hit, list length, hits per quadrant (4)


@njit(cache=True, nogil=True, inline="always")
def sincos_deg(x, sin_table, cos_table):
    """``geo.sincos_deg`` for one angle: the same operations in the same order."""
    i = np.rint(x * (1.0 / _STEP))
    b = (x - i * _STEP) * _DEG
    b2 = b * b
    sin_b = b - b * b2 * (1.0 / 6.0 - b2 * (1.0 / 120.0))
    cos_b_m1 = b2 * (b2 * (1.0 / 24.0) - 0.5)
    j = np.int64(i) + 1440
    s_a = sin_table[j]
    c_a = cos_table[j]
    return s_a + (s_a * cos_b_m1 + c_a * sin_b), c_a + (c_a * cos_b_m1 - s_a * sin_b)


@njit(cache=True, nogil=True, inline="always")
def unit_vector(lat, lon, sin_table, cos_table):
    """``geo.unit_vectors`` for one point."""
    sin_lat, cos_lat = sincos_deg(lat, sin_table, cos_table)
    sin_lon, cos_lon = sincos_deg(lon, sin_table, cos_table)
    return cos_lat * cos_lon, cos_lat * sin_lon, sin_lat


@njit(cache=True, nogil=True, inline="always")
def chord2(ax, ay, az, bx, by, bz):
    """``geo.chord2`` for one pair: the same operations in the same order."""
    dx = ax - bx
    dy = ay - by
    dz = az - bz
    return (dx * dx + dy * dy) + dz * dz


@njit(cache=True, nogil=True)
def chord2_array(ax, ay, az, bx, by, bz):
    """``chord2`` over arrays (for the test that pins it to ``geo.chord2``)."""
    out = np.empty(len(ax))
    for i in range(len(ax)):
        out[i] = chord2(ax[i], ay[i], az[i], bx[i], by[i], bz[i])
    return out


@njit(cache=True, nogil=True)
def unit_vectors_array(lat, lon, sin_table, cos_table):
    """``unit_vector`` over arrays (used by the test that pins it to ``geo.unit_vectors``)."""
    n = len(lat)
    x, y, z = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        x[i], y[i], z[i] = unit_vector(lat[i], lon[i], sin_table, cos_table)
    return x, y, z


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def is_time_ordered(t):
    for i in range(1, len(t)):
        if t[i] < t[i - 1]:
            return False
    return True


@njit(cache=True, nogil=True)
def _distinct(values, m, scratch):
    """Distinct values among values[:m] (scratch: room for m values)."""
    if m <= _SMALL_RUN:
        d = 0
        for i in range(m):
            v = values[i]
            seen = False
            for j in range(i):
                if values[j] == v:
                    seen = True
                    break
            if not seen:
                d += 1
        return d
    scratch[:m] = values[:m]
    scratch[:m].sort()
    d = 1
    for i in range(1, m):
        if scratch[i] != scratch[i - 1]:
            d += 1
    return d


@njit(cache=True, nogil=True, inline="always")
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


@njit(cache=True, nogil=True, inline="always")
def _slot(dense, cell_base, dense_b0, offsets, hkey, shift, hmask, band, j, n):
    """Slot of cell j of a band (j may be one off either end: it wraps), or -1 (hashed, and
    not in the table). Dense numbering never wraps (``dense_layout``)."""
    if dense:
        return cell_base[band - dense_b0] + j
    if j < 0:
        j += n
    elif j >= n:
        j -= n
    return _find(hkey, shift, hmask, offsets[band] + j)


@njit(cache=True, nogil=True, inline="always")
def _sort_run(run_m, run_c2, m):
    """Members (time positions, distinct) ascending, their chords alongside: insertion sort,
    as the lists of a few cells interleave only a little."""
    for i in range(1, m):
        v = run_m[i]
        c = run_c2[i]
        j = i - 1
        while j >= 0 and run_m[j] > v:
            run_m[j + 1] = run_m[j]
            run_c2[j + 1] = run_c2[j]
            j -= 1
        run_m[j + 1] = v
        run_c2[j + 1] = c


@njit(cache=True, nogil=True)
def lat_lon_bounds(lat, lon):
    """(least lat, most lat, least lon, most lon) in one pass."""
    la_min, la_max, lo_min, lo_max = np.inf, -np.inf, np.inf, -np.inf
    for i in range(len(lat)):
        la_min = min(la_min, lat[i])
        la_max = max(la_max, lat[i])
        lo_min = min(lo_min, lon[i])
        lo_max = max(lo_max, lon[i])
    return la_min, la_max, lo_min, lo_max


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True, inline="always")
def finish_anchor(a_pos, qa, ala, alo, mb, k, j0, perm, lat, lon, dev, c2_in, c2_out, tables,  # noqa: C901 (to split)
                  units, have_u, run_m, run_c2, run_dev, dev_scratch, outs, defs, def_c2, fills):
    """Decide anchor ``a_pos`` (local ``qa``) from the hits ``run_m[:mb]`` (local positions)
    that passed the box: chords, then its window is written out, deferred with its band pairs,
    or dropped. Shared by both scans, inlined in each (hence the tuples: a call of more than 30
    arguments cannot be inlined). ``tables``: (sin, cos); ``units``: (ux, uy, uz); ``outs``:
    (out_anchor, out_size, out_ndev, out_members); ``defs``: (def_anchor, def_count,
    def_members); ``fills``: (na, nm, nda, ndm). Returns (status, fills)."""
    sin_table, cos_table = tables
    ux, uy, uz = units
    out_anchor, out_size, out_ndev, out_members = outs
    def_anchor, def_count, def_members = defs
    na, nm, nda, ndm = fills
    if not have_u[qa]:
        ux[qa], uy[qa], uz[qa] = unit_vector(ala, alo, sin_table, cos_table)
        have_u[qa] = 1
    ax, ay, az = ux[qa], uy[qa], uz[qa]
    m = 0
    in_band = False
    for i in range(mb):
        r = run_m[i]
        if not have_u[r]:
            r_idx = j0 + r if perm is None else perm[j0 + r]
            ux[r], uy[r], uz[r] = unit_vector(lat[r_idx], lon[r_idx], sin_table, cos_table)
            have_u[r] = 1
        c2 = chord2(ax, ay, az, ux[r], uy[r], uz[r])
        if c2 <= c2_out:
            run_m[m] = r
            run_c2[m] = c2
            m += 1
            if c2 > c2_in:
                in_band = True
    if m < k and not in_band:
        return OK, (na, nm, nda, ndm)
    _sort_run(run_m, run_c2, m)
    if in_band:  # the caller decides the band pairs with geo.within_radius
        if nda >= len(def_anchor):
            return DEFERRED_FULL, (na, nm, nda, ndm)
        if ndm + m > len(def_members):
            return DEFERRED_MEMBERS_FULL, (na, nm, nda, ndm)
        def_anchor[nda] = a_pos
        def_count[nda] = m
        nda += 1
        for i in range(m):
            def_members[ndm + i] = j0 + run_m[i]
            def_c2[ndm + i] = run_c2[i]
        ndm += m
        return OK, (na, nm, nda, ndm)
    for i in range(m):
        r_idx = j0 + run_m[i] if perm is None else perm[j0 + run_m[i]]
        run_dev[i] = dev[r_idx]
    nd = _distinct(run_dev, m, dev_scratch)
    if nd < k:
        return OK, (na, nm, nda, ndm)
    if na >= len(out_anchor):
        return ANCHORS_FULL, (na, nm, nda, ndm)
    if nm + m > len(out_members):
        return MEMBERS_FULL, (na, nm, nda, ndm)
    out_anchor[na] = a_pos
    out_size[na] = m
    out_ndev[na] = nd
    na += 1
    for i in range(m):
        out_members[nm + i] = j0 + run_m[i]
    nm += m
    return OK, (na, nm, nda, ndm)


@njit(cache=True, nogil=True)
def scan_chunk(ts, perm, lat, lon, dev, mask, j0, i0, i1, i2, tau, k, c2_in, c2_out,
               bands_per_deg, n_bands, lon_cells, offsets, dlat, dlon_band,
               dense_b0, cell_base, sin_table, cos_table, prev, hslot, ux, uy, uz, have_u,
               hkey, hdat, hshift, block, out_anchor, out_size, out_ndev, out_members,
               def_anchor, def_count, def_members, def_c2, run_m, run_c2, run_dev, dev_scratch,
               fill):
    """Scan time positions [j0, i2) and evaluate anchors in [i0, i1) (see the module doc).

    ``ts``: times in time order (only differences are used); ``perm``: time position -> input
    index (None: identity); ``mask``: per input index, anchors to evaluate (None: all). With
    None numba compiles a version without the indirection or the test.
    Cells are numbered densely (``cell_base`` from ``dense_layout``; the lengths and counts
    of ``hdat`` must then be zero, and are left so) or, with an empty ``cell_base``, through the hash table
    ``hkey``. ``hdat[6 s: 6 s + 6]``: last hit and length of slot s's list (linked newest
    first through ``prev``; only its first ``length`` links are ever read), then its hits per
    quadrant of the cell; ``hslot``: 4 * slot +
    quadrant per hit; ``block``: room for the slots of one disc's cells. ``fill`` (int64[4]):
    entries used in out_anchor, out_members, def_anchor, def_members; updated only when the
    scan returns OK. Outputs hold time positions.
    """
    dense = len(cell_base) > 0
    if not dense:
        hkey[:] = -1
    status, entered, left = _scan(ts, perm, lat, lon, dev, mask, j0, i0, i1, i2, tau, k, c2_in, c2_out,
                            bands_per_deg, n_bands, lon_cells, offsets, dlat, dlon_band, dense, dense_b0, cell_base,
                            sin_table, cos_table, prev,
                            hslot, ux, uy, uz, have_u, hkey, hdat, hshift, block, out_anchor,
                            out_size, out_ndev, out_members, def_anchor, def_count, def_members,
                            def_c2, run_m, run_c2, run_dev, dev_scratch, fill)
    if dense:  # the hits still in their lists leave, so every count is zero for the next chunk
        for e in range(left, entered):
            sq = hslot[e]
            h = _SLOT * (sq >> 2)
            hdat[h + 1] -= 1
            hdat[h + 2 + (sq & 3)] -= 1
    return status


@njit(cache=True, nogil=True)
def _scan(ts, perm, lat, lon, dev, mask, j0, i0, i1, i2, tau, k, c2_in, c2_out,  # noqa: C901 (to split)
          bands_per_deg, n_bands, lon_cells, offsets, dlat, dlon_band,
          dense, dense_b0, cell_base, sin_table, cos_table, prev, hslot, ux, uy, uz, have_u,
          hkey, hdat, hshift, block, out_anchor, out_size, out_ndev, out_members,
          def_anchor, def_count, def_members, def_c2, run_m, run_c2, run_dev, dev_scratch, fill):
    """``scan_chunk``'s loop; returns (status, hits entered, hits left)."""
    n_loc = i2 - j0
    cap = len(hkey)
    hmask = cap - 1
    shift = hshift  # 64 - log2(cap)
    have_u[:n_loc] = 0
    # finish_anchor's grouped arguments, packed once
    tables, units = (sin_table, cos_table), (ux, uy, uz)
    outs, defs = (out_anchor, out_size, out_ndev, out_members), (def_anchor, def_count, def_members)
    used = 0
    na, nm, nda, ndm = fill[0], fill[1], fill[2], fill[3]
    enter = 0  # next hit to enter its list
    leave = 0  # next hit to leave its list
    q = i0 - j0
    q_end = i1 - j0
    while q < q_end:  # one group of anchors sharing a time: one window
        tq = ts[j0 + q]
        g_end = q + 1
        while g_end < q_end and ts[j0 + g_end] == tq:
            g_end += 1
        e_end = enter
        while e_end < n_loc and ts[j0 + e_end] - tq <= tau:
            e_end += 1
        for e in range(enter, e_end):
            e_idx = j0 + e if perm is None else perm[j0 + e]
            # the hit's cell and quadrant (cell_quadrant, inlined)
            y = (lat[e_idx] + 90.0) * bands_per_deg
            band = np.int64(y)
            row = np.int64(2.0 * y) - 2 * band
            if band >= n_bands:  # lat = 90
                band = n_bands - 1
                row = 1
            xf = (lon[e_idx] + 180.0) * (1.0 / 360.0)
            if xf >= 1.0:  # lon = 180 is lon = -180
                xf -= 1.0
            n = lon_cells[band]
            x = xf * n
            j = np.int64(x)
            col = np.int64(2.0 * x) - 2 * j
            if j >= n:
                j -= n
            if dense:
                s = cell_base[band - dense_b0] + j
            else:
                key = offsets[band] + j
                s = ((key * _HASH_MUL) >> shift) & hmask
                while hkey[s] != key:
                    if hkey[s] == -1:
                        used += 1
                        if 4 * used > cap:  # keep the load under 1/4: probes stay ~1
                            return TABLE_FULL, enter, leave
                        hkey[s] = key
                        for i in range(1, _SLOT):
                            hdat[_SLOT * s + i] = 0
                        break
                    s = (s + 1) & hmask
            h = _SLOT * s
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
            h = _SLOT * (sq >> 2)
            hdat[h + 1] -= 1
            hdat[h + 2 + (sq & 3)] -= 1
        leave = l_end
        for qa in range(q, g_end):
            a_pos = j0 + qa
            a_idx = a_pos if perm is None else perm[a_pos]
            if mask is not None and not mask[a_idx]:
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
            band = np.int64((ala + 90.0) * bands_per_deg)
            if band >= n_bands:
                band = n_bands - 1
            xf = (alo + 180.0) * (1.0 / 360.0)
            if xf >= 1.0:
                xf -= 1.0
            total = hdat[_SLOT * s_own + 1]
            block[0] = s_own
            nl = 1
            n = lon_cells[band]
            if n > 1:  # the neighbour cell on the side of the point's quadrant: its half
                if dense:  # a band's cells are numbered consecutively, with one spare each side
                    s = s_own + 2 * col - 1
                else:
                    s = _slot(dense, cell_base, dense_b0, offsets, hkey, shift, hmask, band,
                              hkey[s_own] - offsets[band] + 2 * col - 1, n)
                if s >= 0:
                    h = _SLOT * s + 2 + (1 - col)
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
                    s = _slot(dense, cell_base, dense_b0, offsets, hkey, shift, hmask, nb, 0, n)
                    if s >= 0:
                        h = _SLOT * s + 2 + 2 * rr
                        near = hdat[h] + hdat[h + 1]
                        total += near
                        block[nl] = s
                        nl += np.int64(near > 0)
                else:
                    odd = c & 1
                    j = (c - 1) >> 1  # cell of column C - 1; column C + 1 is in cell j + 1
                    s = _slot(dense, cell_base, dense_b0, offsets, hkey, shift, hmask, nb, j, n)
                    if s >= 0:
                        h = _SLOT * s + 2 + 2 * rr
                        near = hdat[h + 1] + hdat[h] * odd
                        total += near
                        block[nl] = s
                        nl += np.int64(near > 0)
                    s = _slot(dense, cell_base, dense_b0, offsets, hkey, shift, hmask, nb, j + 1, n)
                    if s >= 0:
                        h = _SLOT * s + 2 + 2 * rr
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
                r = hdat[_SLOT * s]
                for _ in range(hdat[_SLOT * s + 1]):
                    r_idx = j0 + r if perm is None else perm[j0 + r]
                    d = abs(lon[r_idx] - alo)
                    d = min(d, 360.0 - d)  # the same as 360 - d where d > 180
                    run_m[mb] = r
                    mb += np.int64((abs(lat[r_idx] - ala) <= dlat) & (d <= dlon))
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

"""Compiled (numba) scan of one chunk of time-ordered hits: the fast engine's inner loop.

Why compiled: the vectorised engine must materialise every candidate (anchor, hit) pair and
sort four times per chunk; here each hit costs four hash-table updates and its anchor a walk
of a few list links, so the whole search touches each hit a handful of times.

The scan (same geometry as ``grid.py``, same arithmetic as ``geo.py``):

- Hits of the chunk are visited from the last to the first. Each hit is pushed onto the front
  of a linked list per (grid, cell) of its four shifted-grid cells (an open-addressing hash
  table maps the cell to the list head). A list therefore holds the cell's hits from the
  current time onward, in time order.
- Hits of one time are all pushed before any of them is evaluated, so an anchor's list starts
  at the first hit sharing its time: its *run* (central cell, t in [t_a, t_a + tau]) is the
  list prefix up to t_a + tau, and W(a) is a subset of it (see ``grid.py``).
- The anchor is dropped unless the run holds k hits (at most k - 1 link steps); otherwise the
  run is walked once: squared chord per member by the same float operations as
  ``geo.chord2`` on unit vectors computed by the same operations as ``geo.unit_vectors``
  (no fastmath, so no reassociation or fused multiply-add: the same bits), and distinct
  devices counted. Pairs whose chord falls in ``within_radius``'s thin band around R are not
  decided here: the anchor is handed back ("deferred") with its members and chords, and the
  caller decides them with ``geo.within_radius`` itself.

All arrays are allocated by the caller (so tracemalloc sees them); a full output buffer or
hash table returns a status and the caller grows it and scans the chunk again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .geo import _DEG, _STEP

OK, TABLE_FULL, ANCHORS_FULL, MEMBERS_FULL, DEFERRED_FULL, DEFERRED_MEMBERS_FULL = range(6)
_HASH_MUL = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64 (Fibonacci hashing)
_SMALL_RUN = 24  # distinct devices by pairwise comparison up to this many members


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


@njit(cache=True, nogil=True, inline="always")
def cells(lat, lon, inv_h, n_lon0, off0, n_lon1, off1):
    """``ShiftedGrids.cells`` for one point: (cell in grids 0..3, central grid)."""
    yb = (lat + 90.0) * inv_h
    xf = (lon + 180.0) * (1.0 / 360.0)
    if xf >= 1.0:
        xf -= 1.0
    band = np.int64(yb)
    use_set1 = abs((yb - band) - 0.5) > 0.25
    n = n_lon0[band]
    x = xf * n
    j = np.int64(x)
    shifted0 = abs((x - j) - 0.5) > 0.25
    c0 = j + off0[band]
    j = np.int64(x + 0.5)
    if j >= n:
        j -= n
    c1 = j + off0[band]
    band = np.int64(yb + 0.5)
    n = n_lon1[band]
    x = xf * n
    j = np.int64(x)
    shifted1 = abs((x - j) - 0.5) > 0.25
    c2 = j + off1[band]
    j = np.int64(x + 0.5)
    if j >= n:
        j -= n
    c3 = j + off1[band]
    s1 = np.int64(use_set1)
    central = 2 * s1 + (np.int64(shifted1) if use_set1 else np.int64(shifted0))
    return c0, c1, c2, c3, central


@njit(cache=True, nogil=True, inline="always")
def _push(hkey, hhead, shift, hmask, key, q, nxt, slots, g):
    """Push local hit q onto the list of ``key`` and count it in the run; returns
    (slot, 1 if the key is new). ``hhead[2 s]`` is the head, ``hhead[2 s + 1]`` the count."""
    s = ((key * _HASH_MUL) >> shift) & hmask
    while True:
        kk = hkey[s]
        if kk == key:
            nxt[4 * q + g] = hhead[2 * s]
            hhead[2 * s] = q
            hhead[2 * s + 1] += 1
            slots[4 * q + g] = s
            return s, 0
        if kk == -1:
            hkey[s] = key
            nxt[4 * q + g] = -1
            hhead[2 * s] = q
            hhead[2 * s + 1] = 1
            slots[4 * q + g] = s
            return s, 1
        s = (s + 1) & hmask


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


@njit(cache=True, nogil=True)
def _exact_run(q, head, g, j0, tp, tau, ala, alo, dlat, dlon, c2_in, c2_out,
               ts, perm, lat, lon, sin_table, cos_table, ux, uy, uz, have_u, nxt, run_m, run_c2):
    """Members of anchor q's run with a squared chord <= c2_out, into run_m / run_c2 (time
    order); returns (their number, whether one lies in the band (c2_in, c2_out])."""
    has_perm = len(perm) > 0
    if not have_u[q]:
        ux[q], uy[q], uz[q] = unit_vector(ala, alo, sin_table, cos_table)
        have_u[q] = 1
    ax, ay, az = ux[q], uy[q], uz[q]
    m = 0
    in_band = False
    r = head
    while r >= 0 and ts[j0 + r] - tp <= tau:
        r_idx = perm[j0 + r] if has_perm else j0 + r
        d = abs(lon[r_idx] - alo)
        if d > 180.0:
            d = 360.0 - d
        if abs(lat[r_idx] - ala) <= dlat and d <= dlon:  # outside the box: not within R
            if not have_u[r]:
                ux[r], uy[r], uz[r] = unit_vector(lat[r_idx], lon[r_idx], sin_table, cos_table)
                have_u[r] = 1
            c2 = chord2(ax, ay, az, ux[r], uy[r], uz[r])
            if c2 <= c2_out:
                run_m[m] = r
                run_c2[m] = c2
                m += 1
                if c2 > c2_in:
                    in_band = True
        r = nxt[4 * r + g]
    return m, in_band


@njit(cache=True, nogil=True)
def scan_chunk(ts, perm, lat, lon, dev, mask, j0, i0, i1, i2, tau, k, c2_in, c2_out,
               inv_h, n_lon0, off0, n_lon1, off1, dlat, dlon0, dlon1, sin_table, cos_table,
               nxt, slots, cslot, cgrid, ux, uy, uz, have_u, hkey, hhead, hshift,
               out_anchor, out_size, out_ndev, out_members,
               def_anchor, def_count, def_members, def_c2,
               run_m, run_c2, run_dev, dev_scratch, fill):
    """Scan time positions [j0, i2) and evaluate anchors in [i0, i1) (see the module doc).

    ``ts``: times in time order (only differences are used); ``perm``: time position -> input
    index (empty: identity); ``mask``: per input index, anchors to evaluate (empty: all).
    ``fill`` (int64[4]): entries used in out_anchor, out_members, def_anchor, def_members;
    updated only when the scan returns OK. Outputs hold time positions.
    """
    has_perm = len(perm) > 0
    has_mask = len(mask) > 0
    n_loc = i2 - j0
    cap = len(hkey)
    hmask = cap - 1
    shift = hshift  # 64 - log2(cap)
    hkey[:] = -1
    have_u[:n_loc] = 0
    used = 0
    na, nm, nda, ndm = fill[0], fill[1], fill[2], fill[3]
    p = n_loc - 1
    tail = p
    while p >= 0:
        tp = ts[j0 + p]
        g0 = p
        while g0 > 0 and ts[j0 + g0 - 1] == tp:
            g0 -= 1
        # hits past t + tau leave their runs' counts
        while ts[j0 + tail] - tp > tau:
            for g in range(4):
                hhead[2 * slots[4 * tail + g] + 1] -= 1
            tail -= 1
        # push every hit of this time, then evaluate them
        for q in range(p, g0 - 1, -1):
            idx = perm[j0 + q] if has_perm else j0 + q
            c0, c1, c2, c3, central = cells(lat[idx], lon[idx], inv_h, n_lon0, off0, n_lon1, off1)
            s0, new0 = _push(hkey, hhead, shift, hmask, c0 * 4, q, nxt, slots, 0)
            s1, new1 = _push(hkey, hhead, shift, hmask, c1 * 4 + 1, q, nxt, slots, 1)
            s2, new2 = _push(hkey, hhead, shift, hmask, c2 * 4 + 2, q, nxt, slots, 2)
            s3, new3 = _push(hkey, hhead, shift, hmask, c3 * 4 + 3, q, nxt, slots, 3)
            used += new0 + new1 + new2 + new3
            if 4 * used > cap:  # keep the load under 1/4: probes stay ~1
                return TABLE_FULL
            lo_slot = s1 if central & 1 else s0
            hi_slot = s3 if central & 1 else s2
            cslot[q] = hi_slot if central & 2 else lo_slot
            cgrid[q] = central
        for q in range(g0, p + 1):
            a_pos = j0 + q
            if a_pos < i0 or a_pos >= i1:
                continue
            a_idx = perm[a_pos] if has_perm else a_pos
            if has_mask and not mask[a_idx]:
                continue
            slot = cslot[q]
            if hhead[2 * slot + 1] < k:  # the run holds fewer than k hits
                continue
            g = cgrid[q]
            head = hhead[2 * slot]
            ala = lat[a_idx]
            alo = lon[a_idx]
            # box around the disc: |dlat| <= R and |dlon| <= the band's bound (grid.py)
            band = np.int64((ala + 90.0) * inv_h + (0.5 if g >= 2 else 0.0))
            dlon = dlon1[band] if g >= 2 else dlon0[band]
            cnt = 0
            r = head
            while r >= 0 and ts[j0 + r] - tp <= tau:
                r_idx = perm[j0 + r] if has_perm else j0 + r
                d = abs(lon[r_idx] - alo)
                if d > 180.0:
                    d = 360.0 - d
                cnt += (abs(lat[r_idx] - ala) <= dlat) & (d <= dlon)
                r = nxt[4 * r + g]
            if cnt < k:
                continue
            m, in_band = _exact_run(q, head, g, j0, tp, tau, ala, alo, dlat, dlon, c2_in, c2_out,
                                    ts, perm, lat, lon, sin_table, cos_table, ux, uy, uz, have_u,
                                    nxt, run_m, run_c2)
            if in_band:  # the caller decides the band pairs with geo.within_radius
                if nda >= len(def_anchor):
                    return DEFERRED_FULL
                if ndm + m > len(def_members):
                    return DEFERRED_MEMBERS_FULL
                def_anchor[nda] = a_pos
                def_count[nda] = m
                nda += 1
                for i in range(m):
                    def_members[ndm + i] = j0 + run_m[i]
                    def_c2[ndm + i] = run_c2[i]
                ndm += m
                continue
            if m < k:
                continue
            for i in range(m):
                r_idx = perm[j0 + run_m[i]] if has_perm else j0 + run_m[i]
                run_dev[i] = dev[r_idx]
            nd = _distinct(run_dev, m, dev_scratch)
            if nd < k:
                continue
            if na >= len(out_anchor):
                return ANCHORS_FULL
            if nm + m > len(out_members):
                return MEMBERS_FULL
            out_anchor[na] = a_pos
            out_size[na] = m
            out_ndev[na] = nd
            na += 1
            for i in range(m):
                out_members[nm + i] = j0 + run_m[i]
            nm += m
        p = g0 - 1
    fill[0], fill[1], fill[2], fill[3] = na, nm, nda, ndm
    return OK

"""The last step of both compiled scans: decide one anchor's window from the hits its grid and
box tests let through (inlined into each scan).

The candidate members (``Scratch.run_m[:mb]``, local positions, the anchor among them) get unit
vectors (``distance.unit_vector``, each hit's computed once per chunk) and squared chords to the
anchor (``distance.chord2_scalar``). Members with c2 > ``Rule.c2_out`` are out. If any member
lies in the band (c2_in, c2_out] the distance must be decided by ``distance.within_radius``:
the anchor is handed back ("deferred") with its members and chords. Otherwise the window is
complete; it triggers when its members come from at least k distinct devices, and is written
to the ``Output``.

The four fill counters (windows, members, deferred anchors, deferred members) travel as a tuple
in registers and are stored by the scan when it finishes; a buffer that would overflow returns
its status with the counters unchanged, and the caller grows it and scans the chunk again.

How the code is shaped, for speed: numba counts references to arrays, and a helper that takes
arrays (or structures of arrays) can cost an atomic increment and decrement per array per
call, which on a per-hit or per-anchor path costs more than the work itself. So the scans bind
their structures' arrays to locals once per chunk, their loops call only helpers of scalars
(``unit_vector``, ``chord2_scalar``), ``finish_anchor`` unpacks its structures once, and
helpers that take arrays run only on the rare paths (anchors with k members within R).
"""

from __future__ import annotations

from .compiled import compiled
from .distance import chord2_scalar, unit_vector
from .scan_structs import ANCHORS_FULL, DEFERRED_FULL, DEFERRED_MEMBERS_FULL, MEMBERS_FULL, OK, input_index

SMALL_RUN = 24  # distinct devices by pairwise comparison up to this many members


@compiled
def distinct_count(values, m, scratch):
    """Distinct values among values[:m] (scratch: room for m values)."""
    if m <= SMALL_RUN:
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


@compiled(inline=True)
def _sort_run(run_m, run_c2, m):
    """Members (local positions, distinct) ascending, their chords alongside: insertion sort,
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


@compiled(inline=True)
def _defer(a_pos, m, j0, run_m, run_c2, deferred, nda, ndm):
    """Hand the anchor back with its members and chords: (status, nda, ndm)."""
    anchor, count, members, c2 = deferred
    if nda >= len(anchor):
        return DEFERRED_FULL, nda, ndm
    if ndm + m > len(members):
        return DEFERRED_MEMBERS_FULL, nda, ndm
    anchor[nda] = a_pos
    count[nda] = m
    for i in range(m):
        members[ndm + i] = j0 + run_m[i]
        c2[ndm + i] = run_c2[i]
    return OK, nda + 1, ndm + m


@compiled(inline=True)
def _devices(m, j0, perm, dev, run_m, run_dev, dev_scratch):
    """Distinct devices among the members."""
    for i in range(m):
        run_dev[i] = dev[input_index(perm, j0 + run_m[i])]
    return distinct_count(run_dev, m, dev_scratch)


@compiled(inline=True)
def _emit(a_pos, m, nd, j0, run_m, found, na, nm):
    """Write a triggered window: (status, na, nm)."""
    anchor, size, ndev, members = found
    if na >= len(anchor):
        return ANCHORS_FULL, na, nm
    if nm + m > len(members):
        return MEMBERS_FULL, na, nm
    anchor[na] = a_pos
    size[na] = m
    ndev[na] = nd
    for i in range(m):
        members[nm + i] = j0 + run_m[i]
    return OK, na + 1, nm + m


@compiled(inline=True)
def finish_anchor(a_pos, qa, mb, j0, rule, fills, points, window, found, deferred):
    """Decide anchor ``a_pos`` (local ``qa``) from the members ``window.run_m[:mb]`` (module
    doc). ``points``: ``HitPoints``, built by the scan once per chunk (passing the scan's
    whole ``ScanHits`` here measurably slows the scan); ``fills``: (na, nm, nda, ndm);
    returns (status, fills).

    Most anchors stop after the chords, so those are computed here rather than in a helper;
    the helpers below run only for anchors with k members within R."""
    na, nm, nda, ndm = fills
    perm, lat, lon, dev = points
    ux, uy, uz, have_u, run_m, run_c2, run_dev, dev_scratch = window
    if not have_u[qa]:
        a_idx = input_index(perm, j0 + qa)
        ux[qa], uy[qa], uz[qa] = unit_vector(lat[a_idx], lon[a_idx])
        have_u[qa] = 1
    ax, ay, az = ux[qa], uy[qa], uz[qa]
    m = 0
    in_band = False
    for i in range(mb):
        r = run_m[i]
        if not have_u[r]:
            r_idx = input_index(perm, j0 + r)
            ux[r], uy[r], uz[r] = unit_vector(lat[r_idx], lon[r_idx])
            have_u[r] = 1
        c2 = chord2_scalar(ax, ay, az, ux[r], uy[r], uz[r])
        if c2 <= rule.c2_out:
            run_m[m] = r
            run_c2[m] = c2
            m += 1
            in_band |= c2 > rule.c2_in
    if m < rule.k:  # fewer than k hits within R: no k devices, whatever the band decides
        return OK, fills
    _sort_run(run_m, run_c2, m)
    if in_band:
        status, nda, ndm = _defer(a_pos, m, j0, run_m, run_c2, deferred, nda, ndm)
        return status, (na, nm, nda, ndm)
    nd = _devices(m, j0, perm, dev, run_m, run_dev, dev_scratch)
    if nd < rule.k:
        return OK, fills
    status, na, nm = _emit(a_pos, m, nd, j0, run_m, found, na, nm)
    return status, (na, nm, nda, ndm)

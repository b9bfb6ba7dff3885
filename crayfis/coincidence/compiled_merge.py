"""Compiled (numba) merge of triggered windows over hits in time order: ``merge.merge_windows``
for the common case where hit indices already sort as (t, index).

Why: on time-ordered input the general merge (np.unique, a sparse graph, connected components,
lexsorts) costs about as much as the whole compiled scan. Here a union-find over the hit
indices, followed by two passes over the hits the windows touch (not their whole index
range), gives the same candidates in the same order: candidates by earliest anchor, members
and anchors ascending.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_SMALL_SORT = 16  # members per candidate sorted by insertion up to this many


@njit(cache=True, nogil=True, inline="always")
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(cache=True, nogil=True, inline="always")
def _sort_small(a, lo, hi):
    """a[lo:hi] ascending: insertion sort for short runs (members come nearly sorted)."""
    if hi - lo > _SMALL_SORT:
        a[lo:hi].sort()
        return
    for i in range(lo + 1, hi):
        v = a[i]
        j = i - 1
        while j >= lo and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


@njit(cache=True, nogil=True)
def merge_ordered(anchors, offsets, members, local, parent, comp, touched, a_local, out_offsets,  # noqa: C901 (to split)
                  out_members, out_anchor_offsets, out_anchors, out_first, scratch):
    """Connected components of windows (anchors ascending; members of each window are
    indices). ``local`` (int32, one per hit) must hold -1; ``parent``, ``comp`` and
    ``touched`` need room for every node, ``a_local`` for every anchor; the outputs and
    ``scratch`` room for every node, every anchor and one offset more than candidates.
    Returns (candidates, members written).

    Each hit a window touches gets a local id, in the order first seen (``touched`` maps it
    back); the union-find and every later pass work on those few ids, so the per-hit array
    is read once per window entry and nothing sweeps the index range the windows span.
    A parent is always a smaller id (roots are linked under smaller roots), so after the
    union-find ``parent`` is overwritten, in ascending order, with each id's candidate."""
    na = len(anchors)
    nt = 0
    for i in range(na):
        a = anchors[i]
        ia = np.int64(local[a])
        if ia < 0:
            ia = nt
            local[a] = nt
            touched[nt] = a
            parent[nt] = nt
            nt += 1
        a_local[i] = ia
        ra = _find(parent, ia)
        for j in range(offsets[i], offsets[i + 1]):
            m = members[j]
            im = np.int64(local[m])
            if im < 0:  # first seen: a new id, below a's root
                local[m] = nt
                touched[nt] = m
                parent[nt] = ra
                nt += 1
                continue
            rm = _find(parent, im)
            if ra < rm:
                parent[rm] = ra
            elif rm < ra:
                parent[ra] = rm
                ra = rm
    comp[:nt] = -1
    nc = 0
    for i in range(na):  # ascending anchors: candidates numbered by earliest anchor
        r = _find(parent, a_local[i])
        if comp[r] < 0:
            comp[r] = nc
            out_first[nc] = anchors[i]
            nc += 1
    for x in range(nt):  # a parent is a smaller id, so ascending ids take their candidate
        y = parent[x]
        parent[x] = comp[x] if y == x else parent[y]
    out_offsets[: nc + 1] = 0
    out_anchor_offsets[: nc + 1] = 0
    for x in range(nt):
        out_offsets[parent[x] + 1] += 1
    for i in range(na):
        out_anchor_offsets[parent[a_local[i]] + 1] += 1
    for c in range(nc):
        out_offsets[c + 1] += out_offsets[c]
        out_anchor_offsets[c + 1] += out_anchor_offsets[c]
    fill = scratch
    fill[:nc] = out_offsets[:nc]
    for x in range(nt):
        c = parent[x]
        out_members[fill[c]] = touched[x]
        fill[c] += 1
    for c in range(nc):  # each candidate's members ascending
        _sort_small(out_members, out_offsets[c], out_offsets[c + 1])
    fill[:nc] = out_anchor_offsets[:nc]
    for i in range(na):
        c = parent[a_local[i]]
        out_anchors[fill[c]] = anchors[i]
        fill[c] += 1
    return nc, out_offsets[nc]

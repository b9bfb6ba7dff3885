"""Compiled (numba) merge of triggered windows over hits in time order: ``merge.merge_windows``
for the common case where hit indices already sort as (t, index).

Why: on time-ordered input the general merge (np.unique, a sparse graph, connected components,
lexsorts) costs about as much as the whole compiled scan. Here a union-find over the hit
indices, followed by two passes over the touched index range, gives the same candidates in
the same order: candidates by earliest anchor, members and anchors ascending.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(cache=True, nogil=True)
def merge_ordered(anchors, offsets, members, parent, comp, out_offsets, out_members,
                  out_anchor_offsets, out_anchors, out_first, scratch):
    """Connected components of windows (anchors ascending; members of each window are
    indices). ``parent`` and ``comp`` (int32, one per hit) must hold -1; the outputs and
    ``scratch`` must have room for every node, every anchor and one offset more than
    candidates. Returns (candidates, members written)."""
    na = len(anchors)
    lo, hi = np.int64(len(parent)), np.int64(-1)
    for i in range(na):
        a = anchors[i]
        if parent[a] < 0:
            parent[a] = a
        lo, hi = min(lo, a), max(hi, a)
        for j in range(offsets[i], offsets[i + 1]):
            m = members[j]
            if parent[m] < 0:
                parent[m] = m
            lo, hi = min(lo, m), max(hi, m)
            ra, rm = _find(parent, a), _find(parent, m)
            if ra < rm:
                parent[rm] = ra
            elif rm < ra:
                parent[ra] = rm
    nc = 0
    for i in range(na):  # ascending anchors: candidates numbered by earliest anchor
        r = _find(parent, anchors[i])
        if comp[r] < 0:
            comp[r] = nc
            out_first[nc] = anchors[i]
            nc += 1
    out_offsets[: nc + 1] = 0
    out_anchor_offsets[: nc + 1] = 0
    for p in range(lo, hi + 1):
        if parent[p] >= 0:
            out_offsets[comp[_find(parent, p)] + 1] += 1
    for i in range(na):
        out_anchor_offsets[comp[_find(parent, anchors[i])] + 1] += 1
    for c in range(nc):
        out_offsets[c + 1] += out_offsets[c]
        out_anchor_offsets[c + 1] += out_anchor_offsets[c]
    fill = scratch
    fill[:nc] = out_offsets[:nc]
    for p in range(lo, hi + 1):  # ascending, so each candidate's members come out sorted
        if parent[p] >= 0:
            c = comp[_find(parent, p)]
            out_members[fill[c]] = p
            fill[c] += 1
    fill[:nc] = out_anchor_offsets[:nc]
    for i in range(na):
        c = comp[_find(parent, anchors[i])]
        out_anchors[fill[c]] = anchors[i]
        fill[c] += 1
    return nc, out_offsets[nc]

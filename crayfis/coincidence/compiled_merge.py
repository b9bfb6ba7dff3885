"""Compiled (numba) merge of triggered windows over hits in time order: ``merge.merge_windows``
for the common case where hit indices already sort as (t, index).

Why: on time-ordered input the general merge (np.unique, a sparse graph, connected components,
lexsorts) costs about as much as the whole compiled scan. Here a union-find over the hit
indices, followed by two passes over the hits the windows touch (not their whole index
range), gives the same candidates in the same order: candidates by earliest anchor, members
and anchors ascending.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .compiled import compiled

_SMALL_SORT = 16  # members per candidate sorted by insertion up to this many


@compiled(inline=True)
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@compiled(inline=True)
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


class MergeWork(NamedTuple):
    """Scratch of one merge (int64 unless said): ``local`` (int32, one per hit, all -1 on entry
    and left so only where the caller discards it), ``parent``, ``comp`` and ``touched`` with
    room for every node (anchors + members), ``a_local`` for every anchor, ``scratch`` for one
    entry more than there can be candidates."""

    local: np.ndarray
    parent: np.ndarray
    comp: np.ndarray
    touched: np.ndarray
    a_local: np.ndarray
    scratch: np.ndarray


class MergeOut(NamedTuple):
    """Candidates in CSR form (room for every node and anchor): members and anchors of
    candidate c at ``offsets[c]:offsets[c+1]`` and ``anchor_offsets[c]:...``; ``first``: its
    earliest anchor."""

    offsets: np.ndarray
    members: np.ndarray
    anchor_offsets: np.ndarray
    anchors: np.ndarray
    first: np.ndarray


@compiled
def merge_ordered(anchors, offsets, members, work, out):
    """Connected components of windows (anchors ascending; members of each window are
    indices): (candidates, members written).

    Each hit a window touches gets a local id, in the order first seen (``touched`` maps it
    back); the union-find and every later pass work on those few ids, so the per-hit array
    is read once per window entry and nothing sweeps the index range the windows span.
    A parent is always a smaller id (roots are linked under smaller roots), so after the
    union-find ``parent`` is overwritten, in ascending order, with each id's candidate."""
    nt = _union(anchors, offsets, members, work.local, work.parent, work.touched, work.a_local)
    nc = _number_candidates(anchors, nt, work.parent, work.comp, work.a_local, out.first)
    _group(anchors, nt, nc, work.parent, work.touched, work.a_local, work.scratch, out)
    return nc, out.offsets[nc]


@compiled(inline=True)
def _union(anchors, offsets, members, local, parent, touched, a_local):
    """Union-find over the local ids of the windows' hits; returns the number of ids."""
    nt = 0
    for i in range(len(anchors)):
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
    return nt


@compiled(inline=True)
def _number_candidates(anchors, nt, parent, comp, a_local, first):
    """Number the components by earliest anchor (anchors ascend) and put each id's candidate
    in ``parent``; returns the number of candidates."""
    comp[:nt] = -1
    nc = 0
    for i in range(len(anchors)):
        r = _find(parent, a_local[i])
        if comp[r] < 0:
            comp[r] = nc
            first[nc] = anchors[i]
            nc += 1
    for x in range(nt):  # a parent is a smaller id, so ascending ids take their candidate
        y = parent[x]
        parent[x] = comp[x] if y == x else parent[y]
    return nc


@compiled(inline=True)
def _group(anchors, nt, nc, cand, touched, a_local, fill, out):
    """Write each candidate's members (ascending) and anchors (ascending) in CSR form."""
    offsets, members, anchor_offsets, out_anchors = out.offsets, out.members, out.anchor_offsets, out.anchors
    offsets[: nc + 1] = 0
    anchor_offsets[: nc + 1] = 0
    for x in range(nt):
        offsets[cand[x] + 1] += 1
    for i in range(len(anchors)):
        anchor_offsets[cand[a_local[i]] + 1] += 1
    for c in range(nc):
        offsets[c + 1] += offsets[c]
        anchor_offsets[c + 1] += anchor_offsets[c]
    fill[:nc] = offsets[:nc]
    for x in range(nt):
        c = cand[x]
        members[fill[c]] = touched[x]
        fill[c] += 1
    for c in range(nc):
        _sort_small(members, offsets[c], offsets[c + 1])
    fill[:nc] = anchor_offsets[:nc]
    for i in range(len(anchors)):
        c = cand[a_local[i]]
        out_anchors[fill[c]] = anchors[i]
        fill[c] += 1

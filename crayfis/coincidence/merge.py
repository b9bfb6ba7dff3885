"""Merge triggered windows that share a hit into candidates (connected components).

Shared by ``find_coincidences``, the Spark job (windows from many partitions, global hit ids)
and the continuous search. ``merge_windows`` takes any ids; ``merge_time_ordered`` gives the
same candidates, compiled (``compiled_merge.py``), where ids are indices of hits that sort as
(t, index). A candidate keeps as its identity its earliest triggered anchor, so
``candidate_id`` hashes that anchor's hit id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .compiled_merge import MergeOut, MergeWork, merge_ordered


@dataclass
class MergedCandidates:
    """Candidates in CSR form, ordered by their earliest anchor (time, then id).

    ``members[offsets[i]:offsets[i+1]]`` are the hit ids of candidate i sorted by (time, id);
    ``anchors[anchor_offsets[i]:anchor_offsets[i+1]]`` its triggered anchors, same order;
    ``first_anchor[i]`` the earliest of them. Without times, "time" is left out of the orders.
    """

    offsets: np.ndarray
    members: np.ndarray
    anchor_offsets: np.ndarray
    anchors: np.ndarray
    first_anchor: np.ndarray

    @property
    def n_candidates(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_triggered_anchors(self) -> np.ndarray:
        return np.diff(self.anchor_offsets)


def _empty() -> MergedCandidates:
    z = np.zeros(0, dtype=np.int64)
    return MergedCandidates(np.zeros(1, np.int64), z, np.zeros(1, np.int64), z.copy(), z.copy())


def _group_sorted(labels: np.ndarray, ids: np.ndarray, times, n_groups: int):
    """Sort ids by (label, time, id); return CSR offsets and sorted ids."""
    keys = (ids, labels) if times is None else (ids, times, labels)
    order = np.lexsort(keys)
    counts = np.bincount(labels, minlength=n_groups)
    offsets = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets, ids[order]


def merge_windows(anchors, member_offsets, members, *, anchor_t=None, member_t=None) -> MergedCandidates:
    """Connected components of triggered windows linked through shared hits.

    ``anchors[i]`` is the anchor of window i and ``members[member_offsets[i]:member_offsets[i+1]]``
    its hits (any int64 ids: input indices or global hit ids). Windows given twice are fine.
    ``anchor_t`` / ``member_t`` (times aligned with ``anchors`` / ``members``) make every order
    (time, id) instead of id alone.
    """
    anchors = np.asarray(anchors, dtype=np.int64)
    members = np.asarray(members, dtype=np.int64)
    member_offsets = np.asarray(member_offsets, dtype=np.int64)
    if len(anchors) == 0:
        return _empty()
    with_t = anchor_t is not None and member_t is not None
    ids_all = np.concatenate((anchors, members))
    nodes, inverse = np.unique(ids_all, return_inverse=True)
    n_nodes = len(nodes)
    a_node = inverse[: len(anchors)]
    src_node = a_node[np.repeat(np.arange(len(anchors)), np.diff(member_offsets))]
    dst_node = inverse[len(anchors):]
    # imported here: a Spark worker imports this module (through the kernel) but never merges
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix(
        (np.ones(len(dst_node), dtype=np.int8), (src_node, dst_node)), shape=(n_nodes, n_nodes)
    ).tocsr()
    _, label = connected_components(graph, directed=True, connection="weak")

    node_t = None
    if with_t:
        node_t = np.empty(n_nodes, dtype=np.int64)
        node_t[dst_node] = np.asarray(member_t, dtype=np.int64)
        node_t[a_node] = np.asarray(anchor_t, dtype=np.int64)

    # Order components by their earliest anchor (time, id), then renumber 0..n-1.
    anchor_nodes = np.unique(a_node)
    a_label = label[anchor_nodes]
    if with_t:
        order = np.lexsort((nodes[anchor_nodes], node_t[anchor_nodes]))
    else:
        order = np.argsort(nodes[anchor_nodes], kind="stable")
    first_seen = np.unique(a_label[order], return_index=True)[1]
    first_nodes = anchor_nodes[order[first_seen]]  # earliest anchor per label (labels ascending)
    labels_with_anchor = label[first_nodes]
    if with_t:
        cand_order = np.lexsort((nodes[first_nodes], node_t[first_nodes]))
    else:
        cand_order = np.argsort(nodes[first_nodes], kind="stable")
    n_cand = len(first_nodes)
    rank = np.full(label.max() + 1, -1, dtype=np.int64)
    rank[labels_with_anchor[cand_order]] = np.arange(n_cand)

    node_rank = rank[label]  # every node is linked to an anchor, so every rank is >= 0
    offsets, cand_members = _group_sorted(node_rank, nodes, node_t, n_cand)
    anchor_offsets, cand_anchors = _group_sorted(
        node_rank[anchor_nodes], nodes[anchor_nodes],
        None if node_t is None else node_t[anchor_nodes], n_cand,
    )
    return MergedCandidates(
        offsets=offsets,
        members=cand_members,
        anchor_offsets=anchor_offsets,
        anchors=cand_anchors,
        first_anchor=nodes[first_nodes[cand_order]],
    )


def merge_time_ordered(anchors, offsets, members, n_hits: int) -> MergedCandidates:
    """``merge_windows`` for hit indices in [0, n_hits) that sort as (t, index) (time-ordered
    input): the same candidates, in the same order, by ``compiled_merge.merge_ordered``."""
    na, nm = len(anchors), len(members)
    nodes = na + nm
    work = MergeWork(np.full(n_hits, -1, dtype=np.int32), np.empty(nodes, np.int64),
                     np.empty(nodes, np.int64), np.empty(nodes, np.int64), np.empty(na, np.int64),
                     np.empty(na + 1, np.int64))
    out = MergeOut(np.empty(na + 1, np.int64), np.empty(nodes, np.int64), np.empty(na + 1, np.int64),
                   np.empty(na, np.int64), np.empty(na, np.int64))
    nc, n_members = merge_ordered(anchors, offsets, members, work, out)
    return MergedCandidates(offsets=out.offsets[:nc + 1], members=out.members[:n_members],
                            anchor_offsets=out.anchor_offsets[:nc + 1], anchors=out.anchors,
                            first_anchor=out.first[:nc])


def candidate_id(first_anchor_hit_id: str) -> str:
    """Stable id of a candidate from its earliest triggered anchor's hit id."""
    return "c" + hashlib.sha1(str(first_anchor_hit_id).encode("utf-8")).hexdigest()[:16]


def candidate_ids(first_anchor_hit_ids) -> list[str]:
    """``candidate_id`` for each hit id (one hash per candidate, not per hit); ``bytes`` items
    are taken as the UTF-8 of the id (a job's Arrow strings, without decoding and
    re-encoding)."""
    sha1 = hashlib.sha1
    return ["c" + sha1(h if isinstance(h, bytes) else str(h).encode("utf-8")).hexdigest()[:16]
            for h in first_anchor_hit_ids]

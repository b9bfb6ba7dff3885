"""Triggered windows from all partitions -> candidates, on the driver.

Triggered windows are few next to hits (each is an anchor that met k devices), so they are
collected and merged on the driver: every windowed hit is numbered in canonical (t_ms, hit_id)
order and the kernel's compiled union-find (``merge.merge_time_ordered``) finds the
connected components, already in canonical order. Memory bound: one row per (triggered anchor,
member), about 60 bytes each; 10^7 such pairs fit in ~1 GB of driver memory. The members'
hit_id strings come from the search tasks (time-ordered Parquet) or are read back from the
input (their Parquet row groups, or a broadcast semi-join on hit_code).

Order and identity do not depend on input row order or partitioning: members are listed by
(t_ms, hit_id), a candidate's first anchor is its earliest triggered anchor by (t_ms, hit_id),
candidate_id hashes that hit_id (``merge.candidate_id``), and candidates are sorted by it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import functions as F

from crayfis.coincidence.distance import centroid_lat_lon, unit_vectors
from crayfis.coincidence.merge import candidate_ids, merge_time_ordered


@dataclass
class Windows:
    """Triggered windows in CSR form over hit codes, and the members' attributes."""

    anchors: np.ndarray  # hit codes, ascending
    offsets: np.ndarray
    members: np.ndarray  # hit codes
    window_devices: np.ndarray  # distinct devices per window
    hit_code: np.ndarray  # every hit in some window, ascending, with its attributes:
    device_code: np.ndarray
    t_ms: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    member_index: np.ndarray | None = None  # each member's place in hit_code, where known

    @property
    def n_windows(self) -> int:
        return len(self.anchors)

    def attr_index(self, codes: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.hit_code, codes)


def windows_from_rows(rows: pa.Table) -> Windows:
    """Build CSR windows from the kernel stage's (anchor, member) rows (search.WINDOW_PAIRS)."""
    anchor = rows.column("anchor").to_numpy()
    member = rows.column("member").to_numpy()
    if pairs_in_order(anchor, member):  # tasks of time-ordered Parquet send them so
        order = None
    else:
        order = np.lexsort((member, anchor))
        anchor, member = anchor[order], member[order]
    new = np.ones(len(anchor), dtype=bool)
    new[1:] = anchor[1:] != anchor[:-1]
    starts = np.flatnonzero(new)
    offsets = np.append(starts, len(anchor)).astype(np.int64)
    wdev = rows.column("window_devices").to_numpy()
    wdev = (wdev if order is None else wdev[order])[starts]
    first, member_index = first_and_index(member)
    codes = member[first]
    pick = first if order is None else order[first]

    def attr(name):
        return rows.column(name).to_numpy()[pick]

    return Windows(anchors=anchor[starts], offsets=offsets, members=member, window_devices=wdev,
                   hit_code=codes, device_code=attr("device_code"), t_ms=attr("t_ms"),
                   lat=attr("lat"), lon=attr("lon"), member_index=member_index)


def pairs_in_order(anchor: np.ndarray, member: np.ndarray) -> bool:
    """Whether (anchor, member) pairs are sorted and distinct: one pass instead of a lexsort."""
    if len(anchor) < 2:
        return True
    step = anchor[1:] - anchor[:-1]  # hit codes are far below 2^62: no overflow
    return bool(np.all((step > 0) | ((step == 0) & (member[1:] > member[:-1]))))


def first_and_index(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``first_of_each(values)``, each value's place among the distinct values), from one sort."""
    order = np.argsort(values, kind="stable")
    v = values[order]
    new = np.ones(len(v), dtype=bool)
    new[1:] = v[1:] != v[:-1]
    index = np.empty(len(v), dtype=np.int64)
    index[order] = np.cumsum(new) - 1
    return order[new], index


def first_of_each(values: np.ndarray) -> np.ndarray:
    """Index of the first occurrence of each distinct value, in ascending value order (a sort,
    not numpy's hash-based unique, which is many times slower on int64)."""
    order = np.argsort(values, kind="stable")
    v = values[order]
    return order[np.r_[True, v[1:] != v[:-1]]] if len(v) else order


def distinct_names(names: pa.Table) -> pa.Table:
    """(hit_code, hit_id) once per hit code (tasks whose halos overlap name a hit twice)."""
    return names.take(pa.array(first_of_each(names.column("hit_code").to_numpy())))


@dataclass
class Candidates:
    """Candidates in CSR form over member hits, in canonical order (see module doc)."""

    offsets: np.ndarray
    member_code: np.ndarray
    member_hit_id: pa.Array  # string
    member_t: np.ndarray
    first_anchor_hit_id: pa.Array  # string
    n_triggered_anchors: np.ndarray
    multiplicity: np.ndarray  # most distinct devices in one of its windows
    n_devices: np.ndarray
    t_start_ms: np.ndarray
    t_end_ms: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    member_device_rank: np.ndarray  # of each member's device_id in sorted string order,
    device_id_by_rank: pa.Array  # which names (strings listed by rank)

    @property
    def n(self) -> int:
        return len(self.offsets) - 1

    def ids(self) -> list[str]:
        return candidate_ids(self.first_anchor_hit_id.cast(pa.binary()).to_pylist())


def string_ranks(values: pa.Array) -> np.ndarray:
    """Rank of each string in sorted (code point) order, by Arrow's sort."""
    rank = np.empty(len(values), dtype=np.int64)
    rank[pc.sort_indices(values).to_numpy()] = np.arange(len(values))
    return rank


def tie_ranks(names: pa.Array, t: np.ndarray) -> np.ndarray:
    """Ranks that order hits of equal ``t`` by name (code point order): only hits that share
    their time with another need a string sort, so only those are ranked (others get 0)."""
    order = np.argsort(t, kind="stable")
    st = t[order]
    tied = np.zeros(len(t), dtype=bool)
    if len(t) > 1:
        same = st[1:] == st[:-1]
        tied[order[1:][same]] = True
        tied[order[:-1][same]] = True
    rank = np.zeros(len(t), dtype=np.int64)
    which = np.flatnonzero(tied)
    if len(which):
        rank[which] = string_ranks(names.take(pa.array(which)))
    return rank


def string_codes(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(code per value, distinct strings by code); codes follow sorted string order."""
    enc = pc.dictionary_encode(values)
    dictionary = enc.dictionary
    rank = string_ranks(dictionary)
    names = np.empty(len(dictionary), dtype=object)
    names[rank] = dictionary.to_pylist()
    return rank[enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)], names


def distinct_pairs(group: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Distinct (group, code) pairs of non-negative int arrays, sorted, as a 2 x n array."""
    key = np.sort(np.asarray(group, np.int64) << 32 | np.asarray(code, np.int64))
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key  # sort, not hash unique
    return np.stack([key >> 32, key & 0xFFFFFFFF])


def merge_candidates(w: Windows, hit_ids: pa.Table, device_names: pa.Array | None = None) -> Candidates:
    """Connected components of the windows, ordered canonically; ``hit_ids`` (hit_code, hit_id,
    device_id) names every member. ``device_names``: the device_id of each device code, where
    codes are device table rows (then ``hit_ids`` needs no device_id and no hash can collide)."""
    if w.n_windows == 0:
        z, no = np.zeros(0, dtype=np.int64), pa.array([], pa.string())
        return Candidates(np.zeros(1, np.int64), z, no, z, no, z, z, z, z, z, np.zeros(0),
                          np.zeros(0), z, no)
    codes = hit_ids.column("hit_code").to_numpy()
    order = None if np.all(codes[1:] > codes[:-1]) else np.argsort(codes)  # distinct_names sorts
    if order is not None:
        codes = codes[order]
    if not np.array_equal(codes, w.hit_code):
        raise RuntimeError("hit_id lookup did not return exactly the window members")
    names = hit_ids.column("hit_id").combine_chunks()  # strings stay in Arrow
    if order is not None:
        names = names.take(pa.array(order))
    name_rank = tie_ranks(names, w.t_ms)  # (t, hit_id) orders below sort integers, not strings
    if device_names is None:
        dev_names = hit_ids.column("device_id").combine_chunks()
        dev_code_of, dev_names = string_codes(dev_names if order is None
                                              else dev_names.take(pa.array(order)))

    t_of = w.t_ms
    # every windowed hit's place in canonical (t, hit_id) order; windows renumbered by it, the
    # compiled union-find gives candidates by earliest anchor with members and anchors in order
    by_rank = canonical_order(t_of, name_rank)
    rank = np.empty(len(by_rank), dtype=np.int64)
    rank[by_rank] = np.arange(len(by_rank))
    a_rank = rank[w.attr_index(w.anchors)]
    wo = np.argsort(a_rank, kind="stable")
    per = np.diff(w.offsets)[wo]
    w_off = np.zeros(len(wo) + 1, dtype=np.int64)
    np.cumsum(per, out=w_off[1:])
    take = np.repeat(w.offsets[:-1][wo] - w_off[:-1], per) + np.arange(w_off[-1])
    m_index = w.member_index if w.member_index is not None else w.attr_index(w.members)
    m_rank = rank[m_index][take]
    mc = merge_time_ordered(a_rank[wo], w_off, m_rank, len(rank))
    nc = mc.n_candidates
    offsets = mc.offsets
    mi = by_rank[mc.members]
    first = by_rank[mc.first_anchor]
    wd_of_rank = np.zeros(len(rank), dtype=np.int64)
    wd_of_rank[a_rank] = w.window_devices
    multiplicity = np.maximum.reduceat(wd_of_rank[mc.anchors], mc.anchor_offsets[:-1])
    counts = np.diff(offsets)
    starts = offsets[:-1]
    x, y, z = unit_vectors(w.lat[mi], w.lon[mi])
    c_lat, c_lon = centroid_lat_lon(np.add.reduceat(x, starts), np.add.reduceat(y, starts),
                                    np.add.reduceat(z, starts))
    dev = w.device_code[mi]
    lab = np.repeat(np.arange(nc), counts)
    n_devices = np.bincount(distinct_pairs(lab, dev)[0], minlength=nc)
    if device_names is not None:
        by_code = pc.cast(device_names, pa.string())
        if is_sorted(by_code):  # the device table is in device_id order: codes are ranks
            dev_rank, by_rank_names = dev, by_code
        else:
            dev_rank, names_of_rank = string_codes(by_code.take(pa.array(dev)))
            by_rank_names = pa.array(names_of_rank, pa.string())
    else:
        dev_rank, by_rank_names = dev_code_of[mi], pa.array(dev_names, pa.string())
        if not np.array_equal(np.bincount(distinct_pairs(lab, dev_rank)[0], minlength=nc),
                              n_devices):
            raise RuntimeError("two device ids of one candidate share a 64-bit hash")
    return Candidates(
        offsets=offsets, member_code=w.hit_code[mi], member_hit_id=names.take(pa.array(mi)),
        member_t=t_of[mi], first_anchor_hit_id=names.take(pa.array(first)),
        n_triggered_anchors=np.diff(mc.anchor_offsets),
        multiplicity=multiplicity.astype(np.int64), n_devices=n_devices,
        t_start_ms=t_of[mi][starts], t_end_ms=t_of[mi][offsets[1:] - 1],
        lat=c_lat, lon=c_lon, member_device_rank=dev_rank, device_id_by_rank=by_rank_names)


def canonical_order(t: np.ndarray, tie_rank: np.ndarray) -> np.ndarray:
    """Indices that sort by (t, tie_rank), as ``np.lexsort((tie_rank, t))``: one stable sort
    of a combined key where it fits in int64 (nearly sorted times make that sort cheap)."""
    if len(t) == 0:
        return np.zeros(0, dtype=np.int64)
    t0, span = int(t.min()), int(t.max()) - int(t.min()) + 1
    ranks = int(tie_rank.max()) + 1
    if span * ranks >= 1 << 62:
        return np.lexsort((tie_rank, t))
    return np.argsort((t - t0) * ranks + tie_rank, kind="stable")


def is_sorted(strings: pa.Array) -> bool:
    """Strictly ascending in code point order (the order ``string_ranks`` sorts by)."""
    n = len(strings)
    return n < 2 or bool(pc.all(pc.less(strings.slice(0, n - 1), strings.slice(1))).as_py())


def lookup_hit_ids(spark, hits, codes: np.ndarray) -> pa.Table:
    """(hit_code, hit_id, device_id) for the given codes: one pass over the input."""

    if len(codes) == 0:
        return pa.table({"hit_code": pa.array([], pa.int64()), "hit_id": pa.array([], pa.string()),
                         "device_id": pa.array([], pa.string())})
    wanted = spark.createDataFrame(pa.table({"hit_code": pa.array(np.asarray(codes, np.int64))}))
    return (hits.select("hit_code", "hit_id", "device_id").join(F.broadcast(wanted), "hit_code")
            .toArrow())

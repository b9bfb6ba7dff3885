"""Exact coincidence search (docs/coincidence.md, "The definition"): the public API.

``triggered_windows`` finds the window W(a) of every anchor a that triggers; ``find_coincidences``
also merges them into candidates and describes each. The windows come from the compiled engine
(``numba_engine.py``: a sliding-window scan over a cell grid, ``compiled_scan.py`` and
``compiled_uniform_scan.py``), whose every distance decision is ``distance.py``'s; the tests
check both functions against the O(N^2) reference of the definition and a second, vectorised
engine (``tests/reference/``), including hits exactly tau apart and pairs exactly R apart.

Inputs are validated once here: 1-d arrays of one length, positions in range and not NaN, a
time span below 2**61 ms, and the parameters as ``definition.SearchParams`` states them.
For speed on VMs where page faults are slow, batch jobs may call
``malloc_tuning.keep_freed_memory()`` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from crayfis.definition import MAX_WINDOW_MS, SearchParams

from .compiled_checks import input_summary
from .distance import centroid_lat_lon, unit_vectors
from .merge import merge_time_ordered, merge_windows
from .numba_engine import GRIDS, triggered_windows_compiled
from .packed_keys import csr_take, distinct_counts

CHUNK_SIZE = 1 << 16  # anchors per chunk: the chunk's scratch stays in cache
_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass
class TriggeredWindows:
    """Windows of triggered anchors: CSR over anchors (input indices, ascending); members of
    each window are input indices sorted by (t, index). Unpacks as (anchors, offsets, members)."""

    anchors: np.ndarray
    member_offsets: np.ndarray
    members: np.ndarray
    window_sizes: np.ndarray
    window_devices: np.ndarray

    def __iter__(self):
        return iter((self.anchors, self.member_offsets, self.members))

    def __len__(self) -> int:
        return len(self.anchors)

    @classmethod
    def empty(cls) -> TriggeredWindows:
        return cls(_EMPTY, np.zeros(1, np.int64), _EMPTY, _EMPTY, _EMPTY)


@dataclass
class CoincidenceResult:
    """Triggered anchors and candidates; all hit references are indices into the input.

    Candidate i has hits ``cand_members[cand_offsets[i]:cand_offsets[i+1]]`` sorted by
    (t, index) and triggered anchors ``cand_anchors[cand_anchor_offsets[i]:...]``, same
    order. Candidates are ordered by their first (earliest) triggered anchor.
    ``cand_multiplicity`` is the largest number of distinct devices in one of its windows
    (what the significance model scores); ``cand_n_devices`` counts the whole candidate.
    """

    window_ms: int
    radius_m: float
    min_devices: int
    triggered: np.ndarray
    window_sizes: np.ndarray
    n_window_devices: np.ndarray
    cand_offsets: np.ndarray
    cand_members: np.ndarray
    cand_first_anchor: np.ndarray
    cand_anchor_offsets: np.ndarray
    cand_anchors: np.ndarray
    cand_n_triggered_anchors: np.ndarray
    cand_n_hits: np.ndarray
    cand_n_devices: np.ndarray
    cand_multiplicity: np.ndarray
    cand_t_start_ms: np.ndarray
    cand_t_end_ms: np.ndarray
    cand_lat: np.ndarray
    cand_lon: np.ndarray
    windows: TriggeredWindows = field(repr=False, default=None)

    @property
    def n_candidates(self) -> int:
        return len(self.cand_offsets) - 1

    def candidate_members(self, i: int) -> np.ndarray:
        return self.cand_members[self.cand_offsets[i]:self.cand_offsets[i + 1]]


def validated_hits(t_ms, lat, lon, device):
    """(t, lat, lon, device) as contiguous int64/float64 arrays, and whether t ascends (one
    compiled pass checks that and the ranges); ValueError for input the search cannot take."""
    t = np.ascontiguousarray(t_ms, dtype=np.int64)
    la = np.ascontiguousarray(lat, dtype=np.float64)
    lo = np.ascontiguousarray(lon, dtype=np.float64)
    dev = np.ascontiguousarray(device, dtype=np.int64)
    if not (t.ndim == la.ndim == lo.ndim == dev.ndim == 1 and len(la) == len(lo) == len(dev) == len(t)):
        raise ValueError("t_ms, lat, lon and device must be 1-d arrays of one length")
    if len(t) == 0:
        return t, la, lo, dev, True
    ok, t_min, t_max, ordered = input_summary(t, la, lo)  # NaN fails every comparison
    if not ok:
        raise ValueError("lat must lie in [-90, 90] and lon in [-180, 180] (and not NaN)")
    if int(t_max) - int(t_min) >= MAX_WINDOW_MS:
        raise ValueError("t_ms spans more than 2**61 ms")
    return t, la, lo, dev, bool(ordered)


def validated_params(window_ms, radius_m, min_devices) -> tuple[int, float, int]:
    """(tau, R, k) as int, float, int; ValueError where ``SearchParams`` refuses them."""
    p = SearchParams(window_ms, radius_m, min_devices)
    return int(p.window_ms), float(p.radius_m), int(p.min_devices)


def triggered_windows(t_ms, lat, lon, device, window_ms, radius_m, min_devices, anchor_mask=None,
                      *, grid: str = "auto", chunk_size: int | None = None) -> TriggeredWindows:
    """Windows W(a) of every anchor a that triggers (>= min_devices distinct devices).

    With ``anchor_mask`` only anchors where it is True are evaluated, while windows still draw
    on all hits: a partition passes its core as the mask and its halo as extra hits.
    ``grid``: "auto" (the uniform grid where the hits allow it) or "block" (the general cell
    grid everywhere); ``chunk_size``: anchors per chunk. Neither changes the result.
    """
    t, lat, lon, dev, ordered = validated_hits(t_ms, lat, lon, device)
    tau, radius, k = validated_params(window_ms, radius_m, min_devices)
    tw, _ = _windows(t, lat, lon, dev, tau, radius, k, anchor_mask, grid, chunk_size, ordered)
    return tw


def _windows(t, lat, lon, dev, tau, radius, k, anchor_mask, grid, chunk_size, ordered):
    """(``triggered_windows`` on validated inputs, whether t ascends)."""
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, not {grid!r}")
    n = len(t)
    if anchor_mask is not None:
        anchor_mask = np.ascontiguousarray(anchor_mask, dtype=bool)
        if anchor_mask.shape != (n,):
            raise ValueError("anchor_mask must have one entry per hit")
    if n == 0 or (anchor_mask is not None and not anchor_mask.any()):
        return TriggeredWindows.empty(), ordered
    size = CHUNK_SIZE if chunk_size is None else max(1, int(chunk_size))
    anchors, sizes, ndev, members, perm = triggered_windows_compiled(
        t, lat, lon, dev, tau, radius, k, anchor_mask, size, ordered, grid)
    offsets = np.zeros(len(anchors) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    if len(perm):  # time positions -> input indices
        anchors, members = perm[anchors], perm[members]
    if len(anchors) > 1 and not bool(np.all(anchors[1:] > anchors[:-1])):
        order = np.argsort(anchors, kind="stable")
        offsets, members = csr_take(offsets, members, order)
        anchors, sizes, ndev = anchors[order], sizes[order], ndev[order]
    return TriggeredWindows(anchors, offsets, members, sizes, ndev), ordered


def find_coincidences(t_ms, lat, lon, device, window_ms, radius_m, min_devices, *,
                      grid: str = "auto", chunk_size: int | None = None) -> CoincidenceResult:
    """All triggered anchors and the candidates they merge into (docs/coincidence.md).
    ``grid``, ``chunk_size``: as in ``triggered_windows``."""
    t, lat, lon, dev, ordered = validated_hits(t_ms, lat, lon, device)
    tau, radius, k = validated_params(window_ms, radius_m, min_devices)
    tw, ordered = _windows(t, lat, lon, dev, tau, radius, k, None, grid, chunk_size, ordered)
    return coincidences_from_windows(t, lat, lon, dev, tw, tau, radius, k, time_ordered=ordered)


def coincidences_from_windows(t, lat, lon, dev, tw: TriggeredWindows, tau: int, radius: float,
                              k: int, *, time_ordered: bool) -> CoincidenceResult:
    """Candidates of the triggered windows ``tw`` of validated hits, described.

    ``time_ordered``: t ascends, so input indices sort as (t, index) and the compiled merge
    (``merge.merge_time_ordered``) applies; otherwise ``merge.merge_windows`` with times."""
    if len(tw.anchors) and time_ordered:
        mc = merge_time_ordered(tw.anchors, tw.member_offsets, tw.members, len(t))
    else:
        mc = merge_windows(tw.anchors, tw.member_offsets, tw.members,
                           anchor_t=t[tw.anchors], member_t=t[tw.members])
    nc = mc.n_candidates
    n_hits = np.diff(mc.offsets)
    label = np.repeat(np.arange(nc, dtype=np.int64), n_hits)
    members = mc.members
    if nc:
        starts = mc.offsets[:-1]
        x, y, z = unit_vectors(lat[members], lon[members])
        c_lat, c_lon = centroid_lat_lon(np.add.reduceat(x, starts), np.add.reduceat(y, starts),
                                        np.add.reduceat(z, starts))
        a_dev = tw.window_devices[np.searchsorted(tw.anchors, mc.anchors)]
        multiplicity = np.maximum.reduceat(a_dev, mc.anchor_offsets[:-1])
        t_start, t_end = t[members[starts]], t[members[mc.offsets[1:] - 1]]
    else:
        c_lat = c_lon = np.zeros(0)
        multiplicity = t_start = t_end = _EMPTY
    return CoincidenceResult(
        window_ms=tau, radius_m=radius, min_devices=k,
        triggered=tw.anchors, window_sizes=tw.window_sizes, n_window_devices=tw.window_devices,
        cand_offsets=mc.offsets, cand_members=members, cand_first_anchor=mc.first_anchor,
        cand_anchor_offsets=mc.anchor_offsets, cand_anchors=mc.anchors,
        cand_n_triggered_anchors=mc.n_triggered_anchors, cand_n_hits=n_hits,
        cand_n_devices=distinct_counts(label, dev[members], nc),
        cand_multiplicity=multiplicity.astype(np.int64), cand_t_start_ms=t_start,
        cand_t_end_ms=t_end, cand_lat=c_lat, cand_lon=c_lon, windows=tw,
    )

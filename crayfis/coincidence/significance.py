"""Accidental-coincidence background and candidate significance (docs/significance.md).

The trigger needs k distinct devices, so the background is modelled over devices:

* Device d's rate r_d = its hits inside its live intervals / its live time. Without live
  intervals (``observed_live``; the Spark job builds its devices with the same function), a
  device is live up to each edge of the searched span unless its silence there is too long
  for a phone that was live all along (chance < ``EDGE_SILENCE_P``); past such a silence its
  interval starts (ends) one mean gap before its first (after its last) hit; r_d = its hits
  over that interval. Taking only [first hit, last hit] would leave each device out of the
  windows of the ~1/r_d before its first hit and after its last: on searches a few mean gaps
  long, most of the background.
* Devices are placed at the median of their hits' unit vectors (phones rarely move far).
* For an anchor hit a of device d at t_a, every OTHER device e within R of d (same distance as
  the search) and live at t_a fires in the window with p_e = 1 - exp(-r_e * w), w = tau + 1 ms
  (integer ms, both ends inclusive), cut to w = end - t_a for an anchor whose window reaches
  the end of the searched span (the search sees no hits there). The count of firing devices
  is Poisson-binomial; a triggers by accident with P[PB >= k - 1]. Expected accidental
  triggers = sum over anchors.

Vectorised by grouping: an anchor's probability depends only on (its device, which neighbours
are live), which changes only at neighbours' interval edges, so anchors are grouped by (device,
live segment) and one Poisson-binomial DP (a loop over the neighbour column, vectorised over
groups) serves each group: O(devices x segments x neighbours), not O(hits x neighbours).

Candidates. A candidate's multiplicity m is its largest number of distinct devices in one
triggered window (``CoincidenceResult.cand_multiplicity``; merged windows can hold more
devices in total than any single window, which the window model does not describe). Then

    Lambda(m)     = sum over anchors of P[PB >= m - 1]   (expected accidental windows with at
                                                          least m devices in this search)
    p_value       = 1 - exp(-Lambda(m))                  (P[at least one such window])
    far_per_year  = Lambda(m) / searched live time in years

where the searched live time is the union of all devices' live intervals.

``time_slides`` checks the model: each device's times move by its own large random offset
(modulo the searched span), the search runs again, and real coincidences cannot survive. The
offsets (``slide_offsets``) and the shift (``slid_times``) are the rule the Spark job's slides
follow too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crayfis.definition import YEAR_MS

from .compiled_segments import segment_ids
from .distance import centroid_lat_lon, chord2, chord2_of_radius, unit_vectors, within_radius
from .kernel import find_coincidences

_EXPANSION_BLOCK = 1 << 20  # (group, neighbour) pairs handled at once: bounds memory
_EMPTY_I64 = np.zeros(0, dtype=np.int64)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by one sort: numpy 2.4's hash-based unique is many times slower on int64."""
    v = np.sort(values)
    return v[np.r_[True, v[1:] != v[:-1]]] if len(v) else v


@dataclass
class DeviceBackground:
    """Per device (codes ascending): rate, static position, live intervals (half-open, CSR);
    and where the searched span ends (windows of anchors within tau of it are cut there)."""

    codes: np.ndarray
    rate_per_ms: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    live_offsets: np.ndarray
    live_start: np.ndarray
    live_end: np.ndarray
    search_end_ms: int | None = None  # exclusive; None: windows are never cut

    @property
    def searched_live_ms(self) -> int:
        """Length of the union of all devices' live intervals."""
        if len(self.live_start) == 0:
            return 0
        order = np.argsort(self.live_start, kind="stable")
        s, e = self.live_start[order], self.live_end[order]
        reach = np.maximum.accumulate(e)
        new = np.ones(len(s), dtype=bool)
        new[1:] = s[1:] > reach[:-1]
        starts = s[new]
        ends = np.maximum.reduceat(e, np.flatnonzero(new))
        return int((ends - starts).sum())


@dataclass
class BackgroundEstimate:
    """Analytic background of one search; ``expected_windows(m)`` gives Lambda(m)."""

    window_ms: int
    radius_m: float
    min_devices: int
    expected_triggers: float  # sum over anchors of P[>= k - 1 other devices fire]
    searched_live_ms: int
    devices: DeviceBackground
    _group_tails: np.ndarray  # [group, j] = P[>= j other devices fire]
    _group_anchors: np.ndarray  # evaluated anchors per group

    def expected_windows(self, multiplicity) -> np.ndarray:
        """Lambda(m): expected accidental windows with >= m distinct devices."""
        m = np.atleast_1d(np.asarray(multiplicity, dtype=np.int64))
        per_threshold = self._group_anchors @ self._group_tails  # Lambda for m = 1 .. n_states
        j = np.clip(m - 1, 0, None)
        out = np.zeros(len(m))
        inside = j < len(per_threshold)
        out[inside] = per_threshold[j[inside]]
        return out


@dataclass
class CandidateSignificance:
    expected_background: np.ndarray  # Lambda(multiplicity)
    p_value: np.ndarray
    far_per_year: np.ndarray


@dataclass
class TimeSlides:
    offsets_ms: np.ndarray  # [slide, device] shifts applied (devices in code order)
    triggered_counts: np.ndarray  # triggered anchors per slide
    candidate_counts: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.triggered_counts.mean())

    @property
    def std_error(self) -> float:
        n = len(self.triggered_counts)
        return float(self.triggered_counts.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")


# ----------------------------------------------------------------------------- devices


def merge_intervals(dev, start, end, n_dev: int):
    """Union of half-open intervals per device (device indices 0..n_dev-1; empty intervals
    dropped): (CSR offsets over devices, starts, ends), each device's intervals ascending,
    overlapping or touching ones merged."""
    dev, start, end = (np.asarray(x, dtype=np.int64) for x in (dev, start, end))
    keep = end > start
    dev, start, end = dev[keep], start[keep], end[keep]
    order = np.lexsort((start, dev))
    d, s, e = dev[order], start[order], end[order]
    # a running maximum of the ends, keyed by device so that it never carries over from one
    # device to the next
    if len(d):
        t0 = int(s.min())
        span = int(e.max()) - t0 + 1
        if (n_dev + 1) * span >= 1 << 62:
            raise ValueError("time span too wide for the live-interval index")
        reach = np.maximum.accumulate(d * span + (e - t0)) - d * span + t0
    else:
        reach = e
    new = np.ones(len(d), dtype=bool)
    new[1:] = (d[1:] != d[:-1]) | (s[1:] > reach[:-1])
    first = np.flatnonzero(new)
    starts, devs = s[first], d[first]
    ends = np.maximum.reduceat(e, first) if len(first) else e[:0]
    offsets = np.zeros(n_dev + 1, dtype=np.int64)
    np.cumsum(np.bincount(devs, minlength=n_dev), out=offsets[1:])
    return offsets, starts, ends


EDGE_SILENCE_P = 0.01  # a device without live intervals is live at a search edge unless its
# silence there would be rarer than this for a phone live over the whole searched span


def observed_live(n_hits, first_ms, last_ms, span: tuple[int, int]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, rate per ms) of devices without declared live intervals, from their hit
    count and first and last hit inside the searched span [span[0], span[1]).

    Was the device live at a search edge? Had it been live over the whole span S, its n hits
    would leave x ms or more at that edge silent with chance (1 - x / S)^n. Where that chance
    is below ``EDGE_SILENCE_P`` the silence is taken as the phone being off, and its interval
    starts one mean gap g before its first hit (ends g after its last): the expected wait of a
    Poisson process for its first hit, with g = (last - first) / (n - 1). Otherwise the
    interval reaches the edge: on a search a few mean gaps long, cutting it at the first and
    last hit would leave every device out of the windows of the ~1/r before and after them,
    most of the background. A device with one hit, or all its hits in one millisecond, has no
    gap to judge by and is live over the whole span. The rate is n / the interval's length,
    so rate x live time = hits whatever interval a device is given.
    """
    n = np.asarray(n_hits, dtype=np.int64)
    first = np.asarray(first_ms, dtype=np.int64)
    last = np.asarray(last_ms, dtype=np.int64)
    s0, s1 = int(span[0]), int(span[1])
    length = max(s1 - s0, 1)
    has_gap = (n >= 2) & (last > first)
    gap = np.where(has_gap, (last - first) / np.maximum(n - 1, 1), length / np.maximum(n, 1))

    def off(silence_ms):
        chance = (1.0 - np.clip(silence_ms, 0, length) / length) ** n
        return has_gap & (chance < EDGE_SILENCE_P)

    start = np.where(off(first - s0), np.maximum(s0, np.floor(first - gap)), s0).astype(np.int64)
    end = np.where(off(s1 - 1 - last), np.minimum(s1, np.ceil(last + 1 + gap)), s1).astype(np.int64)
    start = np.minimum(start, first)  # a span that misses a device's hits never drops them
    end = np.maximum(end, last + 1)
    return start, end, n / np.maximum(end - start, 1)


def declared_live(n_dev: int, live_dev, live_start, live_end, counted, n_hits, first_ms, last_ms,
                  span: tuple[int, int]):
    """(CSR offsets, starts, ends, rate per ms) of devices 0..n_dev-1 with declared live
    intervals (device index, [start, end)) and the hits counted inside them: each device's
    intervals merged, its rate = counted hits / their merged length, then clipped to the
    searched span. A device without any declared interval falls back to ``observed_live``
    (its hits, first and last hit)."""
    offsets, starts, ends = merge_intervals(live_dev, live_start, live_end, n_dev)
    iv_dev = np.repeat(np.arange(n_dev), np.diff(offsets))
    live_ms = np.bincount(iv_dev, weights=(ends - starts).astype(np.float64), minlength=n_dev)
    o_start, o_end, o_rate = observed_live(n_hits, first_ms, last_ms, span)
    declared = np.diff(offsets) > 0
    rate = np.where(declared, np.asarray(counted, dtype=np.float64) / np.maximum(live_ms, 1), o_rate)
    iv_dev = np.concatenate((iv_dev, np.flatnonzero(~declared)))
    starts = np.maximum(np.concatenate((starts, o_start[~declared])), span[0])
    ends = np.minimum(np.concatenate((ends, o_end[~declared])), span[1])
    offsets, starts, ends = merge_intervals(iv_dev, starts, ends, n_dev)
    return offsets, starts, ends, rate


def _live_index(offsets, starts, ends, dev, t):
    """Whether device ``dev`` (dense index) is live at ``t``, elementwise."""
    if len(starts) == 0:
        return np.zeros(len(dev), dtype=bool)
    t0 = min(int(starts.min()), int(t.min()) if len(t) else 0)
    span = max(int(ends.max()), int(t.max()) if len(t) else 0) - t0 + 2
    if (len(offsets) + 1) * span >= 1 << 62:
        raise ValueError("time span too wide for the live-interval index")
    iv_dev = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    key = iv_dev * span + (starts - t0)
    q = dev * span + (t - t0)
    i = np.searchsorted(key, q, "right") - 1
    ok = i >= 0
    i = np.maximum(i, 0)
    return ok & (iv_dev[i] == dev) & (t < ends[i])


def device_background(t_ms, lat, lon, device, live=None,
                      span: tuple[int, int] | None = None) -> DeviceBackground:
    """Rates, positions and live intervals of every device that has hits.

    ``live``: optional (device codes, start_ms, end_ms) arrays of half-open live intervals
    (``declared_live``); without them each device's interval and rate come from its hits
    (``observed_live``).
    ``span``: the searched [start, end) (default: the hits' own, [min t, max t + 1)).
    """
    t = np.asarray(t_ms, dtype=np.int64)
    codes, dev_idx = np.unique(np.asarray(device, dtype=np.int64), return_inverse=True)
    dev_idx = dev_idx.reshape(-1)
    n_dev = len(codes)
    if n_dev == 0:
        z, f = np.zeros(0, np.int64), np.zeros(0)
        return DeviceBackground(z, f, f, f, np.zeros(1, np.int64), z, z)
    if span is None:
        span = (int(t.min()), int(t.max()) + 1)
    n_hits = np.bincount(dev_idx, minlength=n_dev)
    first = np.full(n_dev, np.iinfo(np.int64).max)
    last = np.full(n_dev, np.iinfo(np.int64).min)
    np.minimum.at(first, dev_idx, t)
    np.maximum.at(last, dev_idx, t)
    if live is None:
        starts, ends, rate = observed_live(n_hits, first, last, span)
        offsets = np.arange(n_dev + 1)
    else:
        l_dev, l_start, l_end = (np.asarray(x, dtype=np.int64) for x in live)
        pos = np.searchsorted(codes, l_dev)
        known = (pos < n_dev) & (codes[np.minimum(pos, n_dev - 1)] == l_dev)
        l_dev, l_start, l_end = pos[known], l_start[known], l_end[known]
        inside = _live_index(*merge_intervals(l_dev, l_start, l_end, n_dev), dev_idx, t)
        counted = np.bincount(dev_idx[inside], minlength=n_dev)
        offsets, starts, ends, rate = declared_live(n_dev, l_dev, l_start, l_end, counted, n_hits,
                                                    first, last, span)
    # static position: per-coordinate median of the device's unit vectors
    x, y, z = unit_vectors(lat, lon)
    counts = np.bincount(dev_idx, minlength=n_dev)
    first = np.zeros(n_dev, dtype=np.int64)
    np.cumsum(counts[:-1], out=first[1:])
    mid = first + (counts - 1) // 2
    med = []
    for c in (x, y, z):
        med.append(c[np.lexsort((c, dev_idx))][mid] if len(c) else c)
    d_lat, d_lon = centroid_lat_lon(*med)
    return DeviceBackground(codes, rate, d_lat, d_lon, offsets, starts, ends, int(span[1]))


def _neighbours(dev: DeviceBackground, radius_m: float):
    """Directed pairs (d, e), d != e, of devices within R (positions as placed)."""
    n = len(dev.codes)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # imported here: Spark workers import this module to estimate, never to build a model
    from scipy.spatial import cKDTree

    x, y, z = unit_vectors(dev.lat, dev.lon)
    tree = cKDTree(np.column_stack((x, y, z)))
    r = np.sqrt(chord2_of_radius(radius_m)) * (1 + 1e-9) + 1e-15
    pairs = tree.query_pairs(r, output_type="ndarray").astype(np.int64)
    if len(pairs):
        a, b = pairs[:, 0], pairs[:, 1]
        keep = within_radius(chord2(x[a], y[a], z[a], x[b], y[b], z[b]), radius_m)
        pairs = pairs[keep]
    # (src, dst) in lexicographic order, by one sort of src * n + dst (pairs are distinct)
    key = np.sort(np.concatenate((pairs[:, 0] * n + pairs[:, 1], pairs[:, 1] * n + pairs[:, 0])))
    return key // n, key % n


# ----------------------------------------------------------------------------- the DP


def _tails(p_offsets, p, n_states):
    """P[>= j] for j < n_states of a Poisson-binomial per group (CSR of probabilities)."""
    n_groups = len(p_offsets) - 1
    lengths = np.diff(p_offsets)
    out = np.zeros((n_groups, n_states))
    out[:, 0] = 1.0
    order = np.argsort(lengths, kind="stable")
    block = 1 << 14
    for b0 in range(0, n_groups, block):  # groups of similar length: little padding
        g = order[b0:b0 + block]
        width = int(lengths[g].max()) if len(g) else 0
        if width == 0:
            continue
        mat = np.zeros((len(g), width))
        row = np.repeat(np.arange(len(g)), lengths[g])
        col = np.arange(len(row)) - np.repeat(np.cumsum(lengths[g]) - lengths[g], lengths[g])
        src = np.repeat(p_offsets[g], lengths[g]) + col
        mat[row, col] = p[src]
        state = np.zeros((len(g), n_states))
        state[:, 0] = 1.0  # last state absorbs ">= n_states - 1"
        for c in range(width):  # a loop over the neighbour column, vectorised over groups
            q = mat[:, c:c + 1]
            moved = state * q
            state *= 1.0 - q
            state[:, 1:] += moved[:, :-1]
            state[:, -1] += moved[:, -1]
        out[g] = np.cumsum(state[:, ::-1], axis=1)[:, ::-1]
    return out


@dataclass
class SegmentModel:
    """The device-level half of the background model, built once per search.

    An anchor's trigger probability depends only on its device and on which of that device's
    neighbours are live, which changes only at the neighbours' interval edges. Per device this
    holds its neighbours (CSR) and those edge times (CSR, sorted, distinct); segment j of
    device d is [edge j-1, edge j) and gets the global number ``segment_offsets[d] + j``. The
    model depends on devices only, so a distributed search builds it once on the driver and
    each task just counts its anchors per segment (``segment_ids``).
    """

    devices: DeviceBackground
    radius_m: float
    nb_offsets: np.ndarray  # CSR over devices into nb_dst
    nb_dst: np.ndarray  # neighbour device indices
    edge_offsets: np.ndarray  # CSR over devices into edge_times
    edge_times: np.ndarray
    sweep_dev: np.ndarray  # every edge's device (int32), in time order (for anchors in time order)
    sweep_time: np.ndarray

    @classmethod
    def build(cls, devices: DeviceBackground, radius_m: float) -> SegmentModel:
        n_dev = len(devices.codes)
        src, dst = _neighbours(devices, radius_m)
        nb_off = np.zeros(n_dev + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n_dev), out=nb_off[1:])
        # every neighbour's interval starts and ends, as edges of the device
        iv_per_dev = np.diff(devices.live_offsets)
        per_pair = iv_per_dev[dst]
        e_dev = np.repeat(src, 2 * per_pair)
        iv = np.repeat(devices.live_offsets[dst], per_pair) + (
            np.arange(per_pair.sum()) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair))
        e_t = np.concatenate((devices.live_start[iv], devices.live_end[iv])).reshape(2, -1).T.reshape(-1)
        t0 = int(e_t.min()) if len(e_t) else 0
        span = (int(e_t.max()) + 1 - t0) if len(e_t) else 1
        if (n_dev + 1) * span >= 1 << 62:
            raise ValueError("time span too wide for the segment index")
        key = _sorted_unique(e_dev * span + (e_t - t0))
        edge_dev = key // span
        edge_off = np.zeros(n_dev + 1, dtype=np.int64)
        np.cumsum(np.bincount(edge_dev, minlength=n_dev), out=edge_off[1:])
        edge_times = key % span + t0
        by_time = np.argsort(edge_times)  # order among equal times does not matter to the sweep
        return cls(devices, float(radius_m), nb_off, dst, edge_off, edge_times,
                   edge_dev[by_time].astype(np.int32), edge_times[by_time])

    @property
    def segment_offsets(self) -> np.ndarray:
        """Global number of each device's first segment (a device has edges + 1 segments)."""
        return self.edge_offsets + np.arange(len(self.edge_offsets))

    @property
    def n_segments(self) -> int:
        return len(self.edge_times) + len(self.edge_offsets) - 1

    def segment_ids(self, dev_idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Global segment of each (device index, time): a search among the device's own edges."""
        return segment_ids(dev_idx, t, self.edge_offsets, self.edge_times, self.sweep_dev,
                           self.sweep_time)

    def segment_time(self, segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(device, a time inside) of each global segment: its lower edge, or just before the
        device's first edge (a device without edges has no neighbours: any time will do)."""
        seg_off = self.segment_offsets
        dev = np.searchsorted(seg_off, segments, "right") - 1
        j = segments - seg_off[dev]
        if len(self.edge_times) == 0:
            return dev, np.zeros(len(dev), np.int64)
        idx = np.minimum(self.edge_offsets[dev] + np.maximum(j - 1, 0), len(self.edge_times) - 1)
        edge = self.edge_times[idx]
        return dev, np.where(j > 0, edge, edge - 1)

    def tails(self, segments: np.ndarray, widths_ms: np.ndarray, n_states: int) -> np.ndarray:
        """[i, j] = P[>= j other devices fire] for an anchor in segment ``segments[i]`` whose
        window holds ``widths_ms[i]`` milliseconds (tau + 1, less where the search ends)."""
        dev = self.devices
        g_dev, g_time = self.segment_time(np.asarray(segments, dtype=np.int64))
        widths = np.asarray(widths_ms, dtype=np.int64)
        n_groups = len(g_dev)
        out = np.zeros((n_groups, n_states))
        common = int(widths.max()) if n_groups else 0  # tau + 1: all but the last tau's groups
        p_common = -np.expm1(-dev.rate_per_ms * common)
        per_group = np.diff(self.nb_offsets)[g_dev]
        cum = np.cumsum(per_group)
        cuts = np.searchsorted(cum, np.arange(_EXPANSION_BLOCK, int(cum[-1]) if len(cum) else 0,
                                              _EXPANSION_BLOCK))
        starts = np.unique(np.r_[0, cuts, n_groups])
        for g0, g1 in zip(starts[:-1], starts[1:]):  # blocks of groups bound the memory
            gs = np.arange(g0, g1)
            cnt = per_group[gs]
            rows = np.repeat(np.arange(len(gs)), cnt)
            e = self.nb_dst[np.repeat(self.nb_offsets[g_dev[gs]], cnt) + np.arange(cnt.sum())
                            - np.repeat(np.cumsum(cnt) - cnt, cnt)]
            live_now = _live_index(dev.live_offsets, dev.live_start, dev.live_end, e,
                                   g_time[gs][rows])
            rows, e = rows[live_now], e[live_now]
            offsets = np.zeros(len(gs) + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=len(gs)), out=offsets[1:])
            p = p_common[e]
            narrow = widths[gs][rows] < common
            if narrow.any():
                p[narrow] = -np.expm1(-dev.rate_per_ms[e[narrow]] * widths[gs][rows][narrow])
            out[g0:g1] = _tails(offsets, p, n_states)
        return out

    def _groups(self, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distinct segments, anchors in each) of the given anchors' segments."""
        if self.n_segments <= 4 * len(seg) + (1 << 20):
            counts = np.bincount(seg, minlength=self.n_segments)
            used = np.flatnonzero(counts)
            return used, counts[used]
        # few anchors over many devices: a sort instead of a huge count array
        s = np.sort(seg)
        first = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if len(s) else _EMPTY_I64
        return s[first], np.diff(np.r_[first, len(s)])

    def estimate(self, dev_idx, t_ms, window_ms: int, min_devices: int,
                 n_states: int) -> BackgroundEstimate:
        """The background of the given anchors (device indices into ``devices``, times).

        Anchors are grouped by segment; the few whose window reaches the end of the search
        (``DeviceBackground.search_end_ms``) by (segment, window width), one group each."""
        t_ms = np.asarray(t_ms, dtype=np.int64)
        seg = self.segment_ids(dev_idx, t_ms)
        full = int(window_ms) + 1
        end = self.devices.search_end_ms
        cut = (t_ms > end - full) if end is not None else np.zeros(len(seg), dtype=bool)
        used, counts = self._groups(seg[~cut] if cut.any() else seg)
        widths = np.full(len(used), full, dtype=np.int64)
        if cut.any():  # the last tau of the search: groups by one sort of (segment, width)
            c_seg, c_width = seg[cut], end - t_ms[cut]
            order = np.lexsort((c_width, c_seg))
            c_seg, c_width = c_seg[order], c_width[order]
            first = np.flatnonzero(np.r_[True, (c_seg[1:] != c_seg[:-1]) | (c_width[1:] != c_width[:-1])])
            used = np.r_[used, c_seg[first]]
            counts = np.r_[counts, np.diff(np.r_[first, len(c_seg)])]
            widths = np.r_[widths, c_width[first]]
        tails = self.tails(used, widths, n_states)
        g_count = counts.astype(np.float64)
        k = int(min_devices)
        expected = float(g_count @ tails[:, k - 1]) if k - 1 < n_states and len(used) else 0.0
        return BackgroundEstimate(
            window_ms=int(window_ms), radius_m=self.radius_m, min_devices=k,
            expected_triggers=expected, searched_live_ms=self.devices.searched_live_ms,
            devices=self.devices, _group_tails=tails, _group_anchors=g_count)


def estimate_background(t_ms, lat, lon, device, window_ms, radius_m, min_devices, *,
                        live=None, anchor_mask=None, max_multiplicity: int | None = None,
                        devices: DeviceBackground | None = None,
                        model: SegmentModel | None = None) -> BackgroundEstimate:
    """Expected accidental triggers of a search (the sum over anchors), and the per-group
    tails that give Lambda(m) for m up to ``max_multiplicity`` (default: k + 10).

    ``model`` (built from ``devices`` and the same radius) skips the device-level work, which
    a distributed search does once instead of once per task.
    """
    t = np.asarray(t_ms, dtype=np.int64)
    k = int(min_devices)
    if model is None:
        dev = devices if devices is not None else device_background(t, lat, lon, device, live)
        model = SegmentModel.build(dev, radius_m)
    codes = model.devices.codes
    n_states = max(k, int(max_multiplicity or k + 10))
    device = np.asarray(device, dtype=np.int64)
    dense = len(codes) and int(codes[0]) == 0 and int(codes[-1]) == len(codes) - 1  # 0..D-1
    dev_idx = device if dense else np.searchsorted(codes, device)
    if anchor_mask is not None:
        dev_idx, t = dev_idx[anchor_mask], t[anchor_mask]
    return model.estimate(dev_idx, t, window_ms, k, n_states)


def candidate_significance(multiplicity, background: BackgroundEstimate) -> CandidateSignificance:
    """Lambda(m), p-value and false-alarm rate per year for candidates of multiplicity m."""
    lam = background.expected_windows(multiplicity)
    years = background.searched_live_ms / YEAR_MS
    far = lam / years if years > 0 else np.full(len(lam), np.inf)
    return CandidateSignificance(expected_background=lam, p_value=-np.expm1(-lam), far_per_year=far)


# ----------------------------------------------------------------------------- time slides


def min_slide_shift_ms(window_ms: int) -> int:
    """Least shift of a time slide: 100 windows, so no real coincidence survives a slide."""
    return 100 * (int(window_ms) + 1)


def slide_offsets(rng: np.random.Generator, n_slides: int, n_devices: int, span_ms: int,
                  min_shift_ms: int) -> np.ndarray:
    """[slide, device] offsets, each uniform in [min_shift, span - min_shift] ms; ValueError
    where the span is too short for such shifts."""
    if span_ms <= 2 * min_shift_ms:
        raise ValueError(f"searched span {span_ms} ms is too short for shifts of at least "
                         f"{min_shift_ms} ms")
    return rng.integers(min_shift_ms, span_ms - min_shift_ms + 1, size=(n_slides, n_devices))


def slid_times(t_ms, t0_ms: int, span_ms: int, offset_ms):
    """Times moved by their device's offset, modulo the searched span [t0, t0 + span)."""
    return t0_ms + (t_ms - t0_ms + offset_ms) % span_ms


def time_slides(t_ms, lat, lon, device, window_ms, radius_m, min_devices, n_slides: int,
                rng: np.random.Generator, *, min_shift_ms: int | None = None,
                **tuning) -> TimeSlides:
    """Background by time slides: per slide, every device's times move by its own random
    offset (``slide_offsets``; default least shift ``min_slide_shift_ms``), modulo the
    searched span (``slid_times``), and the search runs again."""
    t = np.asarray(t_ms, dtype=np.int64)
    codes, dev_idx = np.unique(np.asarray(device, dtype=np.int64), return_inverse=True)
    dev_idx = dev_idx.reshape(-1)
    tau = int(window_ms)
    shift = int(min_shift_ms if min_shift_ms is not None else min_slide_shift_ms(tau))
    t0 = int(t.min()) if len(t) else 0
    span = (int(t.max()) - t0 + 1) if len(t) else 1
    offsets = slide_offsets(rng, n_slides, len(codes), span, shift)
    trig, cand = np.zeros(n_slides, np.int64), np.zeros(n_slides, np.int64)
    for i in range(n_slides):  # a loop over slides; each slide is one search
        ts = slid_times(t, t0, span, offsets[i][dev_idx])
        res = find_coincidences(ts, lat, lon, device, tau, radius_m, min_devices, **tuning)
        trig[i], cand[i] = len(res.triggered), res.n_candidates
    return TimeSlides(offsets, trig, cand)

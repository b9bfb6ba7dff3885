"""Compiled (numba) shape features of every event's main cluster, and the class they give.

Per event (pixels ``start[e]:start[e + 1]`` of crayfis.morphology.pixels.EventPixels):
  1. pedestal: median of the unlit pixels when there are MIN_DARK_PIXELS of them, else the frame
     mean the event carries; noise: the larger of 1.4826 x their MAD, the frame's std and
     MIN_NOISE_DN;
  2. clusters: lit pixels linked when at most LINK_PX apart (union-find; a cluster is named by its
     earliest lit pixel); the main cluster holds the largest summed excess over the pedestal
     (ties: the earlier cluster);
  3. shape of the main cluster's lit pixel centres (unweighted, so the shape is the lit region's):
     second moments -> major axis; length = extent along it + 1; elongation = sqrt(l1 / max(l2,
     1/12)) (1/12: the variance of one pixel's width, so a one-pixel-wide line stays finite);
     width = sqrt(l2); bend = largest distance between the least-squares cubic and straight
     line through the centres (minor against major coordinate); fill = pixels /
     the area 4 pi sqrt(l1 l2) of the ellipse of the moments (1 for a filled disc);
  4. charge sharing of a one-pixel main cluster: its brightest neighbour's excess against
     SHARE_FRACTION of its own and SHARE_SIGMA noise sigmas;
  5. the brightest pixel's excess over the pedestal, and that excess in noise sigmas.
Then `decide_event` applies the rules (crayfis.morphology.classify states them). Written as one
compiled loop because it runs at index time for every event: a Python call per event would cost
more than the whole budget (docs/morphology.md).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from crayfis.morphology import rules
from crayfis.morphology.rules import NOISE, NONE, SPOT, TRACK, WORM

FEATURES = ("n_lit", "n_clusters", "n_main", "length", "elongation", "width", "bend", "fill", "shared",
            "peak_excess", "significance")
"""Columns of the feature matrix, in order."""
(N_LIT, N_CLUSTERS, N_MAIN, LENGTH, ELONGATION, WIDTH, BEND, FILL, SHARED, PEAK_EXCESS,
 SIGNIFICANCE) = range(len(FEATURES))
N_FEATURES = len(FEATURES)

LIMITS = ("LINK_PX", "MIN_DARK_PIXELS", "MIN_NOISE_DN", "SHARE_FRACTION", "SHARE_SIGMA", "LONG_PX",
          "MIN_ELONGATION", "MIN_FILL", "BEND_PX", "MAX_TRACK_WIDTH_PX", "SCATTER_CLUSTERS", "MIN_SIGNIFICANCE")
"""The limits of crayfis.morphology.rules the compiled code reads, in the order of `limits()`."""
(LIM_LINK, LIM_MIN_DARK, LIM_MIN_NOISE, LIM_SHARE_FRACTION, LIM_SHARE_SIGMA, LIM_LONG, LIM_ELONGATION,
 LIM_FILL, LIM_BEND, LIM_WIDTH, LIM_SCATTER, LIM_SIGNIFICANCE) = range(len(LIMITS))


def limits() -> np.ndarray:
    """The rules' limits as the array every compiled function here takes. They are passed at run
    time, not compiled in: numba's cache only notices edits to this file, so a limit read as a
    global from rules.py would stay at its old value after an edit there."""
    return np.array([getattr(rules, name) for name in LIMITS], dtype=np.float64)


MAD_TO_SIGMA = 1.4826       # sigma of a normal distribution per unit of median absolute deviation
PIXEL_VARIANCE = 1.0 / 12.0  # variance of a uniform one-pixel width
ORTHO_EPS = 1e-10           # a polynomial degree whose residual norm^2 per point is below this is absent


COUNTING_RANGE = 1024        # integer values spanning at most this many are counted, not sorted
SMALL_CLUSTER = 16           # up to this many lit pixels are linked pair by pair, without sorting


@njit(cache=True, nogil=True)
def _sorted_stats(d, n):
    """(median, median absolute deviation) of d[:n], sorting it in place."""
    d[:n].sort()
    med = 0.5 * (d[(n - 1) // 2] + d[n // 2])
    j = 0  # merge the deviations outward from the median: both sides grow away from it
    while j < n and d[j] < med:
        j += 1
    i = j - 1
    lo_rank, hi_rank = (n - 1) // 2, n // 2
    lo_dev = dev = 0.0
    for rank in range(hi_rank + 1):
        if j >= n or (i >= 0 and med - d[i] <= d[j] - med):
            dev = med - d[i]
            i -= 1
        else:
            dev = d[j] - med
            j += 1
        if rank == lo_rank:
            lo_dev = dev
    return med, 0.5 * (lo_dev + dev)


@njit(cache=True, nogil=True, inline="always")
def _at_or_below(cum, span, b):
    """How many values lie in bins 0..b (cum: running counts)."""
    return 0 if b < 0 else cum[min(b, span - 1)]


@njit(cache=True, nogil=True)
def _kth_bin(cum, span, rank):
    """The bin of the value of this rank (0-based) in sorted order."""
    lo, hi = 0, span - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[mid] > rank:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True, nogil=True)
def _kth_twice_dev(cum, span, twice_med, rank):
    """2 x the deviation from the median (bin units) of this rank: the smallest D such that more
    than `rank` values v have |2 v - 2 med| <= D."""
    lo, hi = 0, 2 * span
    while lo < hi:
        mid = (lo + hi) >> 1
        upper = _at_or_below(cum, span, (twice_med + mid) // 2)
        inside = upper - _at_or_below(cum, span, -((mid - twice_med) // 2) - 1)
        if inside > rank:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True, nogil=True)
def _counted_stats(d, n, base, span, cum):
    """_sorted_stats for integer values base..base+span-1, from a histogram (no sort: the cost
    is n + span whatever the order of the values)."""
    cum[:span] = 0
    for i in range(n):
        cum[int(d[i] - base)] += 1
    for b in range(1, span):
        cum[b] += cum[b - 1]
    twice_med = _kth_bin(cum, span, (n - 1) // 2) + _kth_bin(cum, span, n // 2)
    mad = 0.25 * (_kth_twice_dev(cum, span, twice_med, (n - 1) // 2) + _kth_twice_dev(cum, span, twice_med, n // 2))
    return base + 0.5 * twice_med, mad


@njit(cache=True, nogil=True)
def _order_stats(d, n, cum):
    """(median, median absolute deviation) of d[:n] (reordering it)."""
    lo, hi, whole = d[0], d[0], True
    for i in range(n):
        lo, hi = min(lo, d[i]), max(hi, d[i])
        whole &= d[i] == math.floor(d[i])
    if whole and hi - lo < COUNTING_RANGE:
        return _counted_stats(d, n, lo, int(hi - lo) + 1, cum)
    return _sorted_stats(d, n)


@njit(cache=True, nogil=True)
def _pedestal(dark, n_dark, frame_mean, frame_std, cum, lim):
    """(pedestal, noise sigma) of one event. The noise is never below the frame's own std: the
    block's few dark values are integers, often clipped at 0, and their MAD can read 0."""
    std = frame_std if math.isfinite(frame_std) else 0.0
    if n_dark >= lim[LIM_MIN_DARK]:
        med, mad = _order_stats(dark, n_dark, cum)
        return med, max(MAD_TO_SIGMA * mad, std, lim[LIM_MIN_NOISE])
    ped = frame_mean if math.isfinite(frame_mean) else 0.0
    return ped, max(std, lim[LIM_MIN_NOISE])


@njit(cache=True, nogil=True, inline="always")
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(cache=True, nogil=True)
def _union(parent, i, j):
    ri, rj = _find(parent, i), _find(parent, j)
    if ri < rj:
        parent[rj] = ri
    elif rj < ri:
        parent[ri] = rj


@njit(cache=True, nogil=True)
def _link(lx, ly, n, parent, link):
    """Union-find of lit pixels within `link` in both axes; parent[i] ends as the cluster's
    smallest index. Past SMALL_CLUSTER pixels they are visited by row, so each meets only those
    within `link` rows. Returns the number of clusters."""
    for i in range(n):
        parent[i] = i
    if n <= SMALL_CLUSTER:
        for i in range(n):
            for j in range(i + 1, n):
                if abs(lx[i] - lx[j]) <= link and abs(ly[i] - ly[j]) <= link:
                    _union(parent, i, j)
    else:
        by_row = np.argsort(ly[:n], kind="mergesort")
        for a in range(n):
            i = by_row[a]
            for b in range(a + 1, n):
                j = by_row[b]
                if ly[j] - ly[i] > link:
                    break
                if abs(lx[i] - lx[j]) <= link:
                    _union(parent, i, j)
    n_clusters = 0
    for i in range(n):
        parent[i] = _find(parent, i)
        if parent[i] == i:
            n_clusters += 1
    return n_clusters


@njit(cache=True, nogil=True)
def _main_root(parent, lv, n, ped, sums):
    """The cluster with the largest summed excess (ties: the smaller root)."""
    sums[:n] = 0.0
    for i in range(n):
        sums[parent[i]] += lv[i] - ped
    best = 0
    for i in range(n):
        if parent[i] == i and sums[i] > sums[best]:
            best = i
    return best


@njit(cache=True, nogil=True)
def _bend(u, v, m, half, q, curve):
    """Largest distance, over the m pixel centres, between the least-squares cubic v(u) and the
    least-squares line: the bent part of the centre line, which a straight cluster's thickness and
    pixel steps leave near zero. Computed as the projection of v on the discrete polynomials of
    degree 2 and 3 orthogonal over the points (Gram-Schmidt of 1, t, t^2, t^3 with t = u / half
    in [-1, 1]); a degree the points cannot carry (fewer distinct u) is left out, as a least-
    squares fit of lower rank would. q: 4 scratch rows, curve: 1 scratch row."""
    for i in range(m):
        t = u[i] / half
        q[0, i], q[1, i], q[2, i], q[3, i] = 1.0, t, t * t, t * t * t
        curve[i] = 0.0
    for k in range(4):
        for j in range(k):
            dot = 0.0
            for i in range(m):
                dot += q[k, i] * q[j, i]
            for i in range(m):
                q[k, i] -= dot * q[j, i]
        norm2 = 0.0
        for i in range(m):
            norm2 += q[k, i] * q[k, i]
        scale = 1.0 / math.sqrt(norm2) if norm2 > ORTHO_EPS * m else 0.0
        coef = 0.0
        for i in range(m):
            q[k, i] *= scale
            coef += q[k, i] * v[i]
        if k >= 2:
            for i in range(m):
                curve[i] += coef * q[k, i]
    worst = 0.0
    for i in range(m):
        worst = max(worst, abs(curve[i]))
    return worst


@njit(cache=True, nogil=True)
def _shape(mx, my, m, work):
    """(length, elongation, width, bend, fill) of m pixel centres; work: 7 scratch rows."""
    cx = cy = 0.0
    for i in range(m):
        cx += mx[i]
        cy += my[i]
    cx, cy = cx / m, cy / m
    cxx = cyy = cxy = 0.0
    for i in range(m):
        cxx += (mx[i] - cx) ** 2
        cyy += (my[i] - cy) ** 2
        cxy += (mx[i] - cx) * (my[i] - cy)
    cxx, cyy, cxy = cxx / m, cyy / m, cxy / m
    half = 0.5 * (cxx + cyy)
    disc = math.sqrt((0.5 * (cxx - cyy)) ** 2 + cxy * cxy)
    l1, l2 = half + disc, max(half - disc, 0.0)
    phi = 0.5 * math.atan2(2.0 * cxy, cxx - cyy)
    c, s = math.cos(phi), math.sin(phi)
    u, v = work[0], work[1]
    u_min, u_max = math.inf, -math.inf
    for i in range(m):
        dx, dy = mx[i] - cx, my[i] - cy
        u[i] = dx * c + dy * s
        v[i] = dy * c - dx * s
        u_min, u_max = min(u_min, u[i]), max(u_max, u[i])
    half = max(0.5 * (u_max - u_min), 0.5)
    bend = _bend(u, v, m, half, work[2:6], work[6])
    fill = m / (4.0 * math.pi * math.sqrt(max(l1, PIXEL_VARIANCE) * max(l2, PIXEL_VARIANCE)))
    return u_max - u_min + 1.0, math.sqrt(l1 / max(l2, PIXEL_VARIANCE)), math.sqrt(l2), bend, fill


@njit(cache=True, nogil=True)
def _shared(x, y, val, lo, hi, px, py, ped, sigma, peak_excess, lim):
    """1.0 when the brightest neighbour of (px, py) shows the charge a deposit shares, else 0.0."""
    best = -math.inf
    for k in range(lo, hi):
        if abs(x[k] - px) <= 1 and abs(y[k] - py) <= 1 and (x[k] != px or y[k] != py):
            best = max(best, float(val[k]))
    excess = best - ped
    return 1.0 if excess >= lim[LIM_SHARE_FRACTION] * peak_excess and excess >= lim[LIM_SHARE_SIGMA] * sigma else 0.0


@njit(cache=True, nogil=True)
def _split(lo, hi, x, y, val, lit, lx, ly, lv, dark):
    """Copy the event's lit pixels to lx/ly/lv and unlit values to dark; (n_lit, n_dark)."""
    n_lit = n_dark = 0
    for k in range(lo, hi):
        if lit[k]:
            lx[n_lit], ly[n_lit], lv[n_lit] = x[k], y[k], val[k]
            n_lit += 1
        else:
            dark[n_dark] = val[k]
            n_dark += 1
    return n_lit, n_dark


@njit(cache=True, nogil=True)
def _main_pixels(parent, root, lx, ly, lv, n, mx, my):
    """Gather the main cluster into mx/my; (size, index of its brightest pixel)."""
    m, peak = 0, -1
    for i in range(n):
        if parent[i] == root:
            mx[m], my[m] = lx[i], ly[i]
            m += 1
            if peak < 0 or lv[i] > lv[peak]:
                peak = i
    return m, peak


@njit(cache=True, nogil=True)
def _event(e, start, x, y, val, lit, frame_mean, frame_std, buf, parent, counts, out, lim):
    lo, hi = start[e], start[e + 1]
    lx, ly, lv, dark, sums, mx, my = buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6]
    n_lit, n_dark = _split(lo, hi, x, y, val, lit, lx, ly, lv, dark)
    out[e, N_LIT] = n_lit
    if n_lit == 0:
        return
    ped, sigma = _pedestal(dark, n_dark, frame_mean[e], frame_std[e], counts, lim)
    out[e, N_CLUSTERS] = _link(lx, ly, n_lit, parent, lim[LIM_LINK])
    root = _main_root(parent, lv, n_lit, ped, sums)
    m, peak = _main_pixels(parent, root, lx, ly, lv, n_lit, mx, my)
    peak_excess = lv[peak] - ped
    out[e, N_MAIN] = m
    if m > 1:
        out[e, LENGTH], out[e, ELONGATION], out[e, WIDTH], out[e, BEND], out[e, FILL] = _shape(mx, my, m, buf[7:])
        out[e, SHARED] = 1.0
    else:
        out[e, LENGTH], out[e, ELONGATION], out[e, WIDTH], out[e, BEND], out[e, FILL] = 1.0, 0.0, 0.0, 0.0, 1.0
        out[e, SHARED] = _shared(x, y, val, lo, hi, lx[peak], ly[peak], ped, sigma, peak_excess, lim)
    out[e, PEAK_EXCESS] = peak_excess
    out[e, SIGNIFICANCE] = peak_excess / sigma


@njit(cache=True, nogil=True)
def event_features(start, x, y, val, lit, frame_mean, frame_std, lim):
    """Feature matrix (n_events x N_FEATURES); NaN where an event has no lit pixel. lim: limits()."""
    n = len(start) - 1
    out = np.full((n, N_FEATURES), np.nan)
    widest = 1
    for e in range(n):
        widest = max(widest, start[e + 1] - start[e])
    # rows: lit x, y, value; unlit values; cluster sums; main x, y; then _shape's scratch
    buf = np.empty((14, widest))
    parent = np.empty(widest, dtype=np.int64)
    counts = np.empty(COUNTING_RANGE, dtype=np.int64)
    for e in range(n):
        _event(e, start, x, y, val, lit, frame_mean, frame_std, buf, parent, counts, out, lim)
    return out


@njit(cache=True, nogil=True)
def shape_class(length, elongation, width, bend, fill, lim):
    """SPOT, TRACK or WORM of a shape: compact or a filled round blob; long, thin and straight;
    long otherwise (bent, wide, or a path curled on itself)."""
    if length < lim[LIM_LONG]:
        return SPOT
    if elongation < lim[LIM_ELONGATION]:
        return SPOT if fill >= lim[LIM_FILL] else WORM
    if bend >= lim[LIM_BEND] or width > lim[LIM_WIDTH]:
        return WORM
    return TRACK


@njit(cache=True, nogil=True)
def cluster_shape(x, y):
    """(length, elongation, width, bend, fill) of pixel centres, as for an event's main cluster:
    the simulator's truth for the pixels a particle's path covers."""
    m = len(x)
    work = np.empty((7, m))
    return _shape(x.astype(np.float64), y.astype(np.float64), m, work)


@njit(cache=True, nogil=True)
def decide_event(f, crowded, lim):
    """Class code of one event from its feature row (the rules of crayfis.morphology.classify)."""
    if crowded:
        return NOISE
    n_lit = f[N_LIT]
    if n_lit == 0:
        return NONE
    lone = f[N_MAIN] == 1 and f[SHARED] == 0
    scattered = f[N_CLUSTERS] >= lim[LIM_SCATTER] and 2 * f[N_MAIN] < n_lit
    if lone or scattered or f[SIGNIFICANCE] < lim[LIM_SIGNIFICANCE]:
        return NOISE
    return shape_class(f[LENGTH], f[ELONGATION], f[WIDTH], f[BEND], f[FILL], lim)


@njit(cache=True, nogil=True)
def decide_all(features, crowded, lim):
    """Class codes (int8) of every row of a feature matrix."""
    codes = np.empty(len(features), dtype=np.int8)
    for e in range(len(features)):
        codes[e] = decide_event(features[e], crowded[e], lim)
    return codes

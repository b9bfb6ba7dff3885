"""Score a coincidence search against simulation truth (the closed-loop study's yardsticks).

* ``match_showers``: a shower counts as found when one candidate holds hits of it from at
  least k distinct devices; per shower, how many devices the best candidate holds, how many
  candidates share it (a split shower), and that candidate's purity (its share of the
  candidate's hits).
* ``count_accidentals``: on noise only, the triggered windows with >= m devices, and the
  candidates they merge into, for several m from one search at the lowest k (a window with
  >= m devices is exactly a trigger of the search at k = m).
* ``naive_poisson_expectation``: the plain Poisson-of-hits background docs/significance.md
  warns against, kept for contrast with the device-level model.
* ``time_slide_counts``: the same counts after shifting every device's times by its own
  large random offset (as ``significance.time_slides``), which destroys real coincidences.
* ``binomial_interval``: Wilson intervals for efficiencies (scipy).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import binomtest, poisson

from crayfis.coincidence import CoincidenceResult, find_coincidences, merge_windows
from crayfis.coincidence.distance import chord2, chord2_of_radius, unit_vectors, within_radius
from crayfis.coincidence.significance import min_slide_shift_ms, slid_times, slide_offsets

ONE_SIGMA = 0.6827


@dataclass
class ShowerMatch:
    """Per shower (index = shower_id) and per candidate results of matching a search to truth."""

    min_devices: int
    found_devices: np.ndarray  # most distinct devices of the shower inside one candidate
    n_candidates: np.ndarray  # candidates holding >= k of its devices (> 1: split shower)
    best_candidate: np.ndarray  # the candidate with most of its devices (-1: none with >= k)
    purity: np.ndarray  # shower hits / all hits of the best candidate (nan: none)
    significant: np.ndarray  # a matched candidate passes ``candidate_passes``
    candidate_shower: np.ndarray  # per candidate: its matched shower (-1: accidental)

    @property
    def detected(self) -> np.ndarray:
        return self.found_devices >= self.min_devices


def candidate_of_member(res: CoincidenceResult) -> np.ndarray:
    """Candidate index of every entry of ``res.cand_members``."""
    return np.repeat(np.arange(res.n_candidates, dtype=np.int64), np.diff(res.cand_offsets))


def match_showers(res: CoincidenceResult, shower_id, device, n_showers: int,
                  candidate_passes=None) -> ShowerMatch:
    """Match candidates to showers through the truth labels of their member hits.

    ``shower_id`` and ``device`` are per input hit (shower_id -1 = noise); ``candidate_passes``
    optionally flags candidates that pass a significance cut (e.g. false alarms < 1 per year).
    """
    k = res.min_devices
    shower_id = np.asarray(shower_id, dtype=np.int64)
    device = np.asarray(device, dtype=np.int64)
    nc = res.n_candidates
    passes = np.ones(nc, bool) if candidate_passes is None else np.asarray(candidate_passes, bool)
    members = res.cand_members
    sid = shower_id[members]
    labelled = sid >= 0
    cand = candidate_of_member(res)[labelled]
    sid, dev = sid[labelled], device[members][labelled]
    # (candidate, shower) pairs: hits and distinct devices, from one lexsort.
    order = np.lexsort((dev, sid, cand))
    cand, sid, dev = cand[order], sid[order], dev[order]
    new_pair = np.ones(len(cand), bool)
    new_pair[1:] = (cand[1:] != cand[:-1]) | (sid[1:] != sid[:-1])
    new_dev = new_pair.copy()
    new_dev[1:] |= dev[1:] != dev[:-1]
    pair = np.cumsum(new_pair) - 1
    first = np.flatnonzero(new_pair)
    p_cand, p_sid = cand[first], sid[first]
    p_hits = np.bincount(pair, minlength=len(first))
    p_devs = np.bincount(pair, weights=new_dev, minlength=len(first)).astype(np.int64)
    matched = p_devs >= k

    found = np.zeros(n_showers, np.int64)
    np.maximum.at(found, p_sid, p_devs)
    n_cands = np.bincount(p_sid[matched], minlength=n_showers)
    significant = np.zeros(n_showers, bool)
    significant[p_sid[matched & passes[p_cand]]] = True
    # Best pair per shower: most devices, then most hits, then the earliest candidate.
    best_order = np.lexsort((p_cand, -p_hits, -p_devs, p_sid))
    is_first = np.ones(len(best_order), bool)
    is_first[1:] = p_sid[best_order][1:] != p_sid[best_order][:-1]
    best = best_order[is_first]
    best = best[matched[best]]
    best_candidate = np.full(n_showers, -1, np.int64)
    best_candidate[p_sid[best]] = p_cand[best]
    purity = np.full(n_showers, np.nan)
    purity[p_sid[best]] = p_hits[best] / res.cand_n_hits[p_cand[best]]
    # Per candidate: the matched shower with most devices in it.
    cand_order = np.lexsort((p_sid, -p_devs, p_cand))
    cand_order = cand_order[matched[cand_order]]
    lead = np.ones(len(cand_order), bool)
    lead[1:] = p_cand[cand_order][1:] != p_cand[cand_order][:-1]
    candidate_shower = np.full(nc, -1, np.int64)
    candidate_shower[p_cand[cand_order[lead]]] = p_sid[cand_order[lead]]
    return ShowerMatch(k, found, n_cands, best_candidate, purity, significant, candidate_shower)


@dataclass
class AccidentalCounts:
    multiplicity: np.ndarray  # m
    triggered: np.ndarray  # anchors whose window holds >= m distinct devices
    candidates: np.ndarray  # candidates those windows merge into
    largest_candidate_hits: np.ndarray  # hits in the biggest of them


def count_accidentals(res: CoincidenceResult, t_ms, multiplicities) -> AccidentalCounts:
    """Triggers and candidates at every k = m >= the search's k, from the search's windows."""
    m = np.asarray(multiplicities, dtype=np.int64)
    if (m < res.min_devices).any():
        raise ValueError("multiplicities below the search's min_devices are not in its windows")
    t = np.asarray(t_ms, dtype=np.int64)
    tw = res.windows
    sizes = np.diff(tw.member_offsets)
    trig, cands, largest = (np.zeros(len(m), np.int64) for _ in range(3))
    for i, mi in enumerate(m):  # a loop over thresholds; each merge is vectorised
        keep = tw.window_devices >= mi
        trig[i] = int(keep.sum())
        if not trig[i]:
            continue
        offsets = np.zeros(trig[i] + 1, np.int64)
        np.cumsum(sizes[keep], out=offsets[1:])
        member_keep = np.repeat(keep, sizes)
        anchors, members = tw.anchors[keep], tw.members[member_keep]
        merged = merge_windows(anchors, offsets, members, anchor_t=t[anchors], member_t=t[members])
        cands[i] = merged.n_candidates
        largest[i] = int(np.diff(merged.offsets).max())
    return AccidentalCounts(m, trig, cands, largest)


def time_slide_counts(t_ms, lat, lon, device, window_ms: int, radius_m: float,
                      min_devices: int, multiplicities, n_slides: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Triggers with >= m devices per slide, shape (n_slides, len(multiplicities)).

    The slides of ``crayfis.coincidence.significance.time_slides`` (its ``slide_offsets`` and
    ``slid_times``), but every m is counted from one search per slide. A shift moves a
    device's live intervals with its hits, so slides lose the correlation of phones that plug
    in at the same hour.
    """
    t = np.asarray(t_ms, dtype=np.int64)
    codes, dev_idx = np.unique(np.asarray(device, dtype=np.int64), return_inverse=True)
    dev_idx = dev_idx.reshape(-1)
    t0, span = int(t.min()), int(t.max()) - int(t.min()) + 1
    offsets = slide_offsets(rng, n_slides, len(codes), span, min_slide_shift_ms(window_ms))
    out = np.zeros((n_slides, len(np.atleast_1d(multiplicities))), np.int64)
    for i in range(n_slides):  # one search per slide
        ts = slid_times(t, t0, span, offsets[i][dev_idx])
        res = find_coincidences(ts, lat, lon, device, window_ms, radius_m, min_devices)
        nd = res.n_window_devices
        out[i] = [(nd >= m).sum() for m in np.atleast_1d(multiplicities)]
    return out


def naive_poisson_expectation(dev_lat, dev_lon, hits_per_device, span_ms: int, window_ms: int,
                              radius_m: float, multiplicities) -> np.ndarray:
    """Expected triggers with >= m devices if hits were a plain Poisson process (the model
    docs/significance.md rejects): per anchor of device d, lambda = w * sum of the hit rates of
    the other devices within R, rates = hits / searched span (live time ignored), and
    P[Poisson(lambda) >= m - 1]; summed over anchors."""
    n = np.asarray(hits_per_device, dtype=np.float64)
    x, y, z = unit_vectors(np.asarray(dev_lat, float), np.asarray(dev_lon, float))
    tree = cKDTree(np.column_stack((x, y, z)))
    pairs = tree.query_pairs(np.sqrt(chord2_of_radius(radius_m)) * (1 + 1e-9),
                             output_type="ndarray")
    a, b = pairs[:, 0], pairs[:, 1]
    keep = within_radius(chord2(x[a], y[a], z[a], x[b], y[b], z[b]), radius_m)
    a, b = a[keep], b[keep]
    rate_sum = (np.bincount(a, weights=n[b], minlength=len(n))
                + np.bincount(b, weights=n[a], minlength=len(n))) / span_ms
    lam = rate_sum * (int(window_ms) + 1)
    m = np.atleast_1d(np.asarray(multiplicities, dtype=np.int64))
    return np.array([float(n @ poisson.sf(mi - 2, lam)) for mi in m])


def binomial_interval(successes, trials, confidence: float = ONE_SIGMA):
    """Wilson score interval per pair (nan where there are no trials)."""
    k = np.atleast_1d(np.asarray(successes, dtype=np.int64))
    n = np.atleast_1d(np.asarray(trials, dtype=np.int64))
    lo, hi = np.full(len(k), np.nan), np.full(len(k), np.nan)
    for i in np.flatnonzero(n > 0):  # a handful of bins
        ci = binomtest(int(k[i]), int(n[i])).proportion_ci(confidence, method="wilson")
        lo[i], hi[i] = ci.low, ci.high
    return lo, hi

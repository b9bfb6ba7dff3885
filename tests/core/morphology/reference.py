"""Per-event reference of the morphology classifier, written independently of the compiled batch.

One event at a time from the decoder's EventRecord (pixels and hits), with numpy and
scipy.ndimage: clusters by `ndimage.label` (see _labels), moments by `np.cov`, axes by `np.linalg.eigh`, the cubic
and straight centre lines by `np.polyfit`. Conventions it shares with the batch because they are part
of the definition: the main cluster is the one with the largest summed excess, ties going to the
cluster of the earliest lit pixel; its peak is its first brightest pixel; a cluster whose two
second moments are equal takes its major axis at half the angle atan2(2 cxy, cxx - cyy).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import ndimage

from crayfis.morphology import rules
from crayfis.morphology.compiled_features import FEATURES
from crayfis.wire.records import EventRecord

F = {name: i for i, name in enumerate(FEATURES)}


def _pedestal(dark: list[int], ev: EventRecord) -> tuple[float, float]:
    std = ev.std if ev.std is not None and math.isfinite(ev.std) else 0.0
    if len(dark) >= rules.MIN_DARK_PIXELS:
        ped = float(np.median(dark))
        return ped, max(1.4826 * float(np.median(np.abs(np.array(dark) - ped))), std, rules.MIN_NOISE_DN)
    ped = ev.avg if ev.avg is not None and math.isfinite(ev.avg) else 0.0
    return ped, max(std, rules.MIN_NOISE_DN)


def _labels(lit: list[tuple[int, int, int]]) -> np.ndarray:
    """Cluster label of each lit pixel: ndimage.label (8-connectivity) over an image where each lit
    pixel is a LINK_PX x LINK_PX block; two blocks touch exactly when their pixels lie within
    LINK_PX of each other in both axes."""
    k = rules.LINK_PX
    xs = np.array([p[0] for p in lit]) - min(p[0] for p in lit)
    ys = np.array([p[1] for p in lit]) - min(p[1] for p in lit)
    image = np.zeros((ys.max() + k, xs.max() + k), dtype=bool)
    for dy in range(k):
        for dx in range(k):
            image[ys + dy, xs + dx] = True
    labelled, _ = ndimage.label(image, structure=np.ones((3, 3), dtype=int))
    return labelled[ys, xs]


def shape(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float, float, float, float]:
    """(length, elongation, width, bend, fill) of pixel centres."""
    if len(xs) == 1:
        return 1.0, 0.0, 0.0, 0.0, 1.0
    cov = np.cov(np.vstack([xs, ys]).astype(float), bias=True)
    values, vectors = np.linalg.eigh(cov)
    l2, l1 = max(values[0], 0.0), values[1]
    if l1 - l2 <= 1e-12 * max(l1, 1e-300):
        phi = 0.5 * math.atan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1])
        major = np.array([math.cos(phi), math.sin(phi)])
    else:
        major = vectors[:, 1]
    minor = np.array([-major[1], major[0]])
    d = np.vstack([xs - xs.mean(), ys - ys.mean()]).T
    u, v = d @ major, d @ minor
    length = u.max() - u.min() + 1.0
    with warnings.catch_warnings():   # fewer distinct u than the degree: a lower-rank fit, as meant
        warnings.simplefilter("ignore", np.exceptions.RankWarning)
        cubic = np.polyval(np.polyfit(u, v, 3), u)
        straight = np.polyval(np.polyfit(u, v, 1), u)
    bend = float(np.abs(cubic - straight).max())
    fill = len(xs) / (4 * math.pi * math.sqrt(max(l1, 1 / 12) * max(l2, 1 / 12)))
    return float(length), math.sqrt(l1 / max(l2, 1.0 / 12.0)), math.sqrt(l2), bend, fill


def features(ev: EventRecord) -> np.ndarray:
    """The feature row of one event with pixels (NaN but n_lit for an event with no lit pixel)."""
    out = np.full(len(FEATURES), np.nan)
    hits = set(ev.hits)
    pixels = ev.pixels or []
    lit = [p for p in pixels if (p[0], p[1]) in hits]
    dark = [p[2] for p in pixels if (p[0], p[1]) not in hits]
    out[F["n_lit"]] = len(lit)
    if not lit:
        return out
    ped, sigma = _pedestal(dark, ev)
    labels = _labels(lit)
    names = list(dict.fromkeys(labels.tolist()))   # in order of their earliest lit pixel
    sums = [sum(v - ped for (_, _, v), lab in zip(lit, labels) if lab == name) for name in names]
    main = names[int(np.argmax(sums))]             # argmax: the first of equal maxima
    members = [p for p, lab in zip(lit, labels) if lab == main]
    peak = max(members, key=lambda p: p[2])        # max: the first of equal maxima
    out[F["n_clusters"]], out[F["n_main"]] = len(names), len(members)
    xs = np.array([p[0] for p in members], dtype=float)
    ys = np.array([p[1] for p in members], dtype=float)
    out[[F["length"], F["elongation"], F["width"], F["bend"], F["fill"]]] = shape(xs, ys)
    out[F["peak_excess"]] = peak[2] - ped
    out[F["significance"]] = (peak[2] - ped) / sigma
    out[F["shared"]] = 1.0 if len(members) > 1 else _shared(pixels, peak, ped, sigma)
    return out


def _shared(pixels, peak, ped: float, sigma: float) -> float:
    around = [v for x, y, v in pixels if max(abs(x - peak[0]), abs(y - peak[1])) == 1]
    if not around:
        return 0.0
    excess = max(around) - ped
    ok = excess >= rules.SHARE_FRACTION * (peak[2] - ped) and excess >= rules.SHARE_SIGMA * sigma
    return 1.0 if ok else 0.0


def decide(f: np.ndarray, n_hits: int) -> str | None:
    """The class name by the rules, as written in crayfis.morphology.classify's docstring."""
    if n_hits > rules.MAX_LIT_PIXELS:
        return "noise"
    if f[F["n_lit"]] == 0:
        return None
    lone = f[F["n_main"]] == 1 and f[F["shared"]] == 0
    scattered = f[F["n_clusters"]] >= rules.SCATTER_CLUSTERS and 2 * f[F["n_main"]] < f[F["n_lit"]]
    if lone or scattered or f[F["significance"]] < rules.MIN_SIGNIFICANCE:
        return "noise"
    if f[F["length"]] < rules.LONG_PX:
        return "spot"
    if f[F["elongation"]] < rules.MIN_ELONGATION:
        return "spot" if f[F["fill"]] >= rules.MIN_FILL else "worm"
    if f[F["bend"]] >= rules.BEND_PX or f[F["width"]] > rules.MAX_TRACK_WIDTH_PX:
        return "worm"
    return "track"


def classify(ev: EventRecord) -> str | None:
    if len(ev.hits) > rules.MAX_LIT_PIXELS:
        return "noise"
    return decide(features(ev), len(ev.hits))

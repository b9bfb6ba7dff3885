"""What the compiled scans take and give back: small typed structures, and the two lookups that
numba specialises on whether an input is given.

Each structure is a ``NamedTuple`` of numpy arrays and scalars, which numba passes by value as
its fields; the caller (``numba_engine``) builds them once per chunk from buffers it owns. A
scan binds the arrays it needs to locals once per chunk (``compiled_window`` says why). Scalars
must keep one Python type per field (int or float) so that every call hits the same compiled
specialisation.

``perm`` and ``mask`` may be None. ``input_index`` and ``selected`` are resolved by type when a
scan is compiled: with None the indirection or the test is not in the machine code at all.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import types
from numba.extending import overload

# What a scan returns: OK, or which buffer was too small (the caller grows it and scans the
# chunk again; ``Output.fill`` is updated only on OK).
OK, TABLE_FULL, ANCHORS_FULL, MEMBERS_FULL, DEFERRED_FULL, DEFERRED_MEMBERS_FULL = range(6)


class ScanHits(NamedTuple):
    """The hits: times in time order, the rest in input order (``perm`` maps between)."""

    t: np.ndarray  # int64 per time position (only differences are used)
    perm: np.ndarray | None  # int64: time position -> input index; None: the identity
    lat: np.ndarray  # float64 degrees
    lon: np.ndarray
    dev: np.ndarray  # int64 device codes
    mask: np.ndarray | None  # bool per input index: anchors to evaluate; None: all


class HitPoints(NamedTuple):
    """What deciding a window reads of the hits (``ScanHits`` without times and mask)."""

    perm: np.ndarray | None
    lat: np.ndarray
    lon: np.ndarray
    dev: np.ndarray


class Span(NamedTuple):
    """One chunk: hits at time positions [j0, i2) are scanned, anchors in [i0, i1) evaluated."""

    j0: int
    i0: int
    i1: int
    i2: int


class Rule(NamedTuple):
    """The definition in the scans' terms: tau, k, and the squared-chord band of R
    (``distance.chord2_band``): c2 <= c2_in is within R, c2 > c2_out is not."""

    tau: int
    k: int
    c2_in: float
    c2_out: float


class HitLists(NamedTuple):
    """The cell lists, per local hit of one chunk (time position - j0), int32."""

    prev: np.ndarray  # next older hit in the same cell list
    slot: np.ndarray  # block grid: 4 * list slot + quadrant; uniform grid: quadrant
    cell: np.ndarray  # uniform grid: cell


class WindowScratch(NamedTuple):
    """What deciding one anchor's window works in: unit vectors per local hit (computed when
    first needed; ``have_u`` says which), and the anchor's candidate members."""

    ux: np.ndarray  # float64
    uy: np.ndarray
    uz: np.ndarray
    have_u: np.ndarray  # uint8
    run_m: np.ndarray  # int32: candidate members (local positions)
    run_c2: np.ndarray  # float64: their squared chords to the anchor
    run_dev: np.ndarray  # int64: their devices
    dev_scratch: np.ndarray  # int64: room to sort those devices


class Found(NamedTuple):
    """Triggered windows (int64): anchor, members and distinct devices per window, members
    (time positions) of all windows concatenated."""

    anchor: np.ndarray
    size: np.ndarray
    ndev: np.ndarray
    members: np.ndarray


class Deferred(NamedTuple):
    """Anchors left to ``distance.within_radius``: members per anchor, and the members (int64
    time positions) with their squared chords (float64), concatenated."""

    anchor: np.ndarray
    count: np.ndarray
    members: np.ndarray
    c2: np.ndarray


class Output(NamedTuple):
    """What a scan writes; ``fill`` (int64[4]) counts the entries used in found.anchor,
    found.members, deferred.anchor and deferred.members."""

    found: Found
    deferred: Deferred
    fill: np.ndarray


def input_index(perm, pos):
    """The input index of time position ``pos``."""
    return pos if perm is None else perm[pos]


def selected(mask, idx):
    """Whether the hit at input index ``idx`` is evaluated as an anchor."""
    return True if mask is None else mask[idx]


@overload(input_index, inline="always")
def _input_index(perm, pos):
    if isinstance(perm, types.NoneType):
        return lambda perm, pos: pos
    return lambda perm, pos: perm[pos]


@overload(selected, inline="always")
def _selected(mask, idx):
    if isinstance(mask, types.NoneType):
        return lambda mask, idx: True
    return lambda mask, idx: mask[idx]

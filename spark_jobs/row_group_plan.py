"""Which row groups each task of the shuffle-free path reads, from the footers' time statistics.

The tasks cut the searched time range into consecutive intervals, their *cores*: task i
searches every hit with t in [core_lo, core_hi] as an anchor and keeps, besides, the hits
with t in (core_hi, core_hi + tau], so every window of a core anchor is complete in the task
and each hit is a core anchor of exactly one task (the slab argument of partitioning.py, with
one slab per task and no tiles). A task reads every row group whose [t_min, t_max] meets
[core_lo, core_hi + tau] and keeps only the rows in that interval.

Where the cuts go. The footers give each row group's row count and time range; spreading a
group's rows evenly over its range gives an estimated number of rows before any time. Cuts
are placed at equal shares of that estimate, each moved to the nearest start of a row group
when one lies within half a share, so that on time-ordered files tasks take whole row groups
and read nothing twice. On row groups that overlap in time (rows written in any order) the
cuts stay where the shares put them: every task then reads each overlapping row group but
searches only its own interval.

What it costs is measured here, not assumed: ``RowGroupPlan.read_rows`` counts every row the
tasks read (a row group read by two tasks counts twice), ``searched_rows`` the rows expected
in the tasks' intervals. A row read and dropped costs a few per cent of a row searched
(docs/coincidence.md), so the shuffle-free path is taken while the reads stay within
``MAX_READ_SHARE`` of the input; beyond that (many tasks over row groups that each span the
whole range) the general path, which reads each row once, is cheaper.
Pure numpy: no Spark here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_READ_SHARE = 8.0  # the shuffle-free path reads at most this many rows per input row
SNAP_SHARE = 0.5  # a cut moves to a row group's start within this share of a task's rows


@dataclass(frozen=True)
class RowGroup:
    file_no: int
    index: int
    first_row: int  # row index of its first row within the file
    n_rows: int
    t_min: int | None  # None: the footer gives no time range
    t_max: int | None


@dataclass(frozen=True)
class OrderedTask:
    reads: tuple[int, ...]  # indices into the row group list, by (t_min, t_max)
    core_lo: int  # core anchors: t in [core_lo, core_hi]
    core_hi: int
    keep_hi: int  # rows kept: t in [core_lo, keep_hi], keep_hi = core_hi + tau (or the end)


@dataclass(frozen=True)
class RowGroupPlan:
    tasks: list[OrderedTask]
    input_rows: int  # rows of the row groups that meet the searched range
    read_rows: int  # rows the tasks read, a row group read by two tasks counted twice
    searched_rows: float  # rows expected in the tasks' intervals (core + tau), from the footers
    largest_task_rows: float  # the most of those in one task

    @property
    def read_share(self) -> float:
        return self.read_rows / self.input_rows if self.input_rows else 0.0


class _RowsBefore:
    """Estimated rows with t < x: each row group's rows spread evenly over its [a, b]; a
    piecewise-linear function of x, exact between the groups' edges (so ``np.interp`` is)."""

    def __init__(self, a: np.ndarray, b: np.ndarray, rows: np.ndarray):
        width = (b - a + 1).astype(np.float64)
        edges = np.concatenate((a, b + 1))
        slope = np.concatenate((rows / width, -rows / width))
        order = np.argsort(edges, kind="stable")
        edges, slope = edges[order], slope[order]
        self.x = np.unique(edges)
        # slope right of each distinct edge, then the integral up to each edge
        at = np.searchsorted(self.x, edges)
        step = np.bincount(at, weights=slope, minlength=len(self.x))
        right = np.cumsum(step)
        self.y = np.concatenate(([0.0], np.cumsum(right[:-1] * np.diff(self.x).astype(np.float64))))

    def __call__(self, x) -> np.ndarray:
        return np.interp(np.asarray(x, dtype=np.float64), self.x, self.y)

    def inverse(self, rows) -> np.ndarray:
        """The least time with about ``rows`` rows before it (flat stretches: their start)."""
        y, keep = self.y, np.r_[True, np.diff(self.y) > 0]
        return np.interp(np.asarray(rows, dtype=np.float64), y[keep], self.x[keep])


def _cuts(before: _RowsBefore, starts: np.ndarray, n_tasks: int, lo: int, hi: int) -> np.ndarray:
    """Interior cut times (sorted, distinct, in (lo, hi]): equal shares of the estimated rows,
    each moved to the nearest row group start within ``SNAP_SHARE`` of a share."""
    total = float(before(hi + 1))
    if n_tasks <= 1 or total <= 0:
        return np.zeros(0, dtype=np.int64)
    share = total / n_tasks
    targets = share * np.arange(1, n_tasks)
    cuts = np.round(before.inverse(targets)).astype(np.int64)
    starts = np.unique(starts[(starts > lo) & (starts <= hi)])
    if len(starts):
        at = before(starts)  # nondecreasing
        right = np.minimum(np.searchsorted(at, targets), len(starts) - 1)
        left = np.maximum(right - 1, 0)
        pick = np.where(np.abs(at[left] - targets) <= np.abs(at[right] - targets), left, right)
        cuts = np.where(np.abs(at[pick] - targets) <= SNAP_SHARE * share, starts[pick], cuts)
    cuts = np.unique(cuts)
    return cuts[(cuts > lo) & (cuts <= hi)]


def plan_tasks(groups: list[RowGroup], window_ms: int, start_ms: int | None, end_ms: int | None,
               n_tasks: int) -> RowGroupPlan:
    """About ``n_tasks`` tasks over the searched range (module doc), with what they cost."""
    t_min = np.array([g.t_min for g in groups], dtype=np.int64)
    t_max = np.array([g.t_max for g in groups], dtype=np.int64)
    rows = np.array([g.n_rows for g in groups], dtype=np.int64)
    if not groups:
        return RowGroupPlan([], 0, 0, 0.0, 0.0)
    lo = start_ms if start_ms is not None else int(t_min.min())
    hi = end_ms - 1 if end_ms is not None else int(t_max.max())
    a, b = np.maximum(t_min, lo), np.minimum(t_max, hi)
    keep = np.flatnonzero(a <= b)
    if not len(keep):
        return RowGroupPlan([], 0, 0, 0.0, 0.0)
    keep = keep[np.lexsort((keep, t_max[keep], t_min[keep]))]
    a, b, rows = a[keep], b[keep], rows[keep]
    lo, hi = int(a.min()), int(b.max())
    before = _RowsBefore(a, b, rows)
    bounds = np.r_[lo, _cuts(before, a, n_tasks, lo, hi), hi + 1]
    tasks, read_rows, searched = [], 0, []
    for core_lo, next_lo in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        core_hi = next_lo - 1
        keep_hi = min(core_hi + int(window_ms), hi)
        reads = np.flatnonzero((b >= core_lo) & (a <= keep_hi))
        read_rows += int(rows[reads].sum())
        searched.append(float(before(keep_hi + 1) - before(core_lo)))
        tasks.append(OrderedTask(tuple(keep[reads].tolist()), core_lo, core_hi, keep_hi))
    return RowGroupPlan(tasks, int(rows.sum()), read_rows, float(sum(searched)), max(searched))

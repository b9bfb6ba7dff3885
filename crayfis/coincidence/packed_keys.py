"""Integer keys packed into one int64 and sorted once: the kernel's array plumbing.

Packing (high part, low part) into one integer and sorting it is one ``np.sort`` instead of an
``np.lexsort`` or an argsort plus gathers; every function here falls back to the general form
where the parts do not fit in 63 bits together.
"""

from __future__ import annotations

import numpy as np


def bits(x: int) -> int:
    """Bits needed for the non-negative integer x (at least 1)."""
    return max(1, int(x).bit_length())


def time_order(t: np.ndarray):
    """(perm or None, time-sorted t minus t0); stable: equal times keep index order. None
    means t already ascends."""
    n = len(t)
    t0 = int(t.min())
    if n < 2 or bool(np.all(t[1:] >= t[:-1])):
        return None, t - t0
    ib = bits(n - 1)
    if bits(int(t.max()) - t0) + ib <= 63:
        key = ((t - t0) << ib) | np.arange(n, dtype=np.int64)
        key.sort()
        perm = key & ((1 << ib) - 1)
        key >>= ib
        return perm, key
    perm = np.argsort(t, kind="stable")
    return perm, t[perm] - t0


def dense_codes(values: np.ndarray, spare_bits: int) -> tuple[np.ndarray, int]:
    """(non-negative codes preserving equality and order, their bit width), fitting in
    ``63 - spare_bits`` bits."""
    if len(values) == 0:
        return values, 1
    vmin = int(values.min())
    span = int(values.max()) - vmin
    if bits(span) + spare_bits <= 63:
        return values - vmin, bits(span)
    _, inv = np.unique(values, return_inverse=True)
    inv = inv.reshape(-1).astype(np.int64)
    return inv, bits(len(values))


def distinct_counts(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Number of distinct ``values`` per group id in [0, n_groups), by one packed sort."""
    if len(groups) == 0:
        return np.zeros(n_groups, dtype=np.int64)
    gb = bits(n_groups)
    codes, vb = dense_codes(values, gb)
    key = (groups.astype(np.int64) << vb) | codes
    key.sort()
    new = np.ones(len(key), dtype=bool)
    new[1:] = key[1:] != key[:-1]
    return np.bincount(key[new] >> vb, minlength=n_groups).astype(np.int64)


def csr_take(offsets: np.ndarray, values: np.ndarray, order: np.ndarray):
    """Rows ``order`` of a CSR array, as a new CSR array (offsets, values)."""
    counts = np.diff(offsets)[order]
    new_off = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(counts, out=new_off[1:])
    idx = np.repeat(offsets[:-1][order] - new_off[:-1], counts) + np.arange(new_off[-1])
    return new_off, values[idx]


def chunk_spans(ts: np.ndarray, tau: int, chunk_size: int, sel: np.ndarray | None = None):
    """(i0, i1, j0, i2) per chunk of time-sorted hits: anchors i0:i1, and the hits j0:i2 their
    windows can reach (every hit sharing the first anchor's time, up to tau after the last one).
    Chunks without a selected anchor are skipped."""
    n = len(ts)
    for i0 in range(0, n, chunk_size):
        i1 = min(i0 + chunk_size, n)
        if sel is not None and not sel[i0:i1].any():
            continue
        yield (i0, i1, int(np.searchsorted(ts, ts[i0], "left")),
               int(np.searchsorted(ts, ts[i1 - 1] + tau, "right")))

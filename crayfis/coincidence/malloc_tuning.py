"""Opt-in glibc malloc tuning for batch processes that run the search on large arrays.

Why: glibc serves large blocks (over ~128 KiB, a threshold that adapts) with fresh ``mmap``
pages and hands them back on ``free``; the numpy arrays of a batch (candidates, merges, the
background model, Arrow conversions) are that size, so every operation page-faults its output
in again, and on virtual machines a page fault is slow. Raising the thresholds makes glibc
reuse freed memory instead. It is process-wide, so it is left to batch entry points (the Spark
job's driver and workers, the benchmark) to call; a web process has no need for it.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Ask glibc to keep freed blocks for reuse; False where that is not glibc or refused.

    glibc caps the mmap threshold at 32 MiB on 64-bit systems: larger arrays stay mmapped.
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, min(int(mmap_threshold), (1 << 31) - 1))
    ok_trim = mallopt(_M_TRIM_THRESHOLD, min(int(trim_threshold), (1 << 31) - 1))
    return bool(ok_mmap and ok_trim)

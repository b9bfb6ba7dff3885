"""Opt-in memory tuning for batch processes that run the search on large arrays.

Why: on virtual machines fresh memory is slow, and a batch's numpy arrays (candidates, merges,
the background model, Arrow conversions) are large enough to get it again and again:
- glibc serves large blocks (over ~128 KiB, a threshold that adapts) with fresh ``mmap`` pages
  and hands them back on ``free``, so every operation page-faults its output in again; raising
  the thresholds makes glibc reuse freed memory instead;
- numpy asks the kernel for transparent huge pages on its large arrays (``madvise``); with THP
  defrag "madvise" (the kernel's default) a fault on such memory can stall while the kernel
  compacts memory to find a huge page. On this project's 2-core VM a new Spark worker's first
  search task took about twice its second, and the job's driver step that merges candidates
  twice as long, until numpy stopped asking (docs/benchmarks.md, the cold job).
Both are process-wide, so they are left to batch entry points (the Spark job's driver and
workers, the benchmark) to call; a web process has no need for them.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Ask glibc to keep freed blocks for reuse and numpy to stop asking for huge pages (module
    doc); False where that is not glibc or glibc refused.

    glibc caps the mmap threshold at 32 MiB on 64-bit systems: larger arrays stay mmapped.
    """
    no_huge_page_advice()
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


def no_huge_page_advice() -> bool:
    """Stop numpy's ``madvise(MADV_HUGEPAGE)`` on arrays allocated from now on: the switch numpy
    reads ``NUMPY_MADVISE_HUGEPAGE`` into at import. False where this numpy has no such switch."""
    switch = getattr(np._core.multiarray, "_set_madvise_hugepage", None)
    if switch is None:
        return False
    switch(False)
    return True

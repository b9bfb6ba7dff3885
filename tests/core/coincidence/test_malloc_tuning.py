"""malloc_tuning: a batch process keeps freed memory and stops asking for huge pages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_a_tuned_process_stops_numpy_asking_for_huge_pages():
    # in a new process, as a Spark worker or the job's driver calls it: numpy starts out
    # asking (on Linux >= 4.6, unless NUMPY_MADVISE_HUGEPAGE says otherwise) and stops
    code = ("import numpy as np\n"
            "from crayfis.coincidence.malloc_tuning import keep_freed_memory\n"
            "before = np._core.multiarray._get_madvise_hugepage()\n"
            "keep_freed_memory()\n"
            "print(before, np._core.multiarray._get_madvise_hugepage())\n")
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, cwd=ROOT).stdout.split()
    assert out == ["True", "False"]

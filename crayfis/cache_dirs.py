"""Where a process may keep its on-disk caches (numba machine code, the JVM's class archive)."""
from __future__ import annotations

import tempfile
from pathlib import Path


def is_writable_dir(directory: Path) -> bool:
    """True when ``directory`` exists or can be made, and a file can be created in it: a
    cache directory that fails this is replaced by one under the system's temporary folder."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError:
        return False
    return True

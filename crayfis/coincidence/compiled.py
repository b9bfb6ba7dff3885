"""How the package compiles: one decorator for every numba function, and where the machine
code is cached on disk.

``compiled`` is ``numba.njit`` with ``cache=True`` and ``nogil=True`` and never ``fastmath``:
without fastmath LLVM may neither reassociate nor fuse a multiply and an add, so each float
operation is the correctly rounded IEEE one, in the order the source writes it. That is what
lets a formula written once (``distance.py``) give the same bits wherever it runs.

The cache. numba keys a cached function on its own source file only, so code that inlines a
function from another module (the scans inline ``distance.unit_vector``) would be loaded stale
after that other module changed. The cache therefore lives in a directory named after the
numba version and a hash of this package's sources and of ``crayfis/definition.py`` (whose
constants compiled code may hold): any edit to them selects a fresh
directory, and a fresh process with unchanged sources loads everything instead of compiling.
The directory is ``$NUMBA_CACHE_DIR`` when set (the operator's choice, used as it is), else
under ``$XDG_CACHE_HOME`` (default ``~/.cache``) in ``crayfis/numba/``, else, where that cannot
be written, under the system's temporary directory; never inside the package, which may be
read-only. numba reads the choice from its configuration, so it is set there (and in the
environment, which numba re-reads and which child processes inherit) before any function of
the package is decorated.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib import resources
from pathlib import Path

import numba
from numba.core import config as numba_config

from crayfis.cache_dirs import is_writable_dir


def source_key(paths) -> str:
    """Hex digest of the given files' names and contents (order-independent). Paths, or
    importlib.resources Traversables (sources inside a zip, as Spark's --py-files ships them)."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: (p.name, str(p))):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def package_sources() -> list:
    """This package's .py files and crayfis/definition.py, read through the import system, so
    that a package loaded from a zip is hashed as well as one on disk."""
    package = resources.files(__package__)
    return [*(f for f in package.iterdir() if f.name.endswith(".py")),
            resources.files(__package__.rsplit(".", 1)[0]) / "definition.py"]


def cache_dir() -> Path:
    """The directory numba caches this package's machine code in (module doc)."""
    given = os.environ.get("NUMBA_CACHE_DIR")
    if given:
        return Path(given)
    key = f"numba-{numba.__version__}-{source_key(package_sources())}"
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crayfis" / "numba" / key
    if is_writable_dir(user):
        return user
    return Path(tempfile.gettempdir()) / f"crayfis-numba-{os.getuid()}" / key


CACHE_DIR_GIVEN = bool(os.environ.get("NUMBA_CACHE_DIR"))  # by the operator, before this module
CACHE_DIR = cache_dir()
os.environ["NUMBA_CACHE_DIR"] = numba_config.CACHE_DIR = str(CACHE_DIR)


def compiled(function=None, *, inline: bool = False):
    """``numba.njit(cache=True, nogil=True)``; ``inline=True`` inlines the function into its
    callers at numba's IR level (small helpers of the scans' inner loops)."""
    options = dict(cache=True, nogil=True)
    if inline:
        options["inline"] = "always"
    if function is None:
        return numba.njit(**options)
    return numba.njit(**options)(function)

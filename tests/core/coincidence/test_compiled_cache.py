"""Compiled code is cached on disk outside the package, keyed by the package's sources, so a
fresh process loads the kernel instead of compiling it, and an edit is never served stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from numba.core.registry import CPUDispatcher

import crayfis.coincidence as package
from crayfis.coincidence import compiled
from crayfis.coincidence.kernel import find_coincidences

PACKAGE_DIR = Path(package.__file__).resolve().parent
ROOT = PACKAGE_DIR.parents[1]

# A fresh interpreter: the kernel on tiny input (time-ordered, shuffled, with a mask, both
# grids), then how many compiled functions numba loaded from disk and how many it compiled.
CHILD = """
import json, numpy as np
from numba.core.registry import CPUDispatcher
import crayfis.coincidence as package
from crayfis.coincidence import compiled
from crayfis.coincidence.kernel import find_coincidences, triggered_windows
t = np.array([0, 0, 1, 5, 7], dtype=np.int64)
lat = np.array([10.0, 10.0, 10.0001, 10.0, 10.0])
lon = np.array([20.0, 20.0001, 20.0, 20.0, 20.0001])
dev = np.array([1, 2, 3, 1, 2], dtype=np.int64)
for grid in ("auto", "block"):
    find_coincidences(t, lat, lon, dev, 2, 100.0, 2, grid=grid)
    find_coincidences(t[::-1].copy(), lat, lon, dev, 2, 100.0, 2, grid=grid)
    triggered_windows(t, lat, lon, dev, 2, 100.0, 2, anchor_mask=t > 0, grid=grid)
hits = misses = 0
for name in dir(package):
    module = getattr(package, name)
    for value in vars(module).values() if hasattr(module, "__file__") else ():
        if isinstance(value, CPUDispatcher):
            hits += sum(value.stats.cache_hits.values())
            misses += sum(value.stats.cache_misses.values())
print(json.dumps({"hits": hits, "misses": misses, "dir": str(compiled.CACHE_DIR)}))
"""


def _dispatchers():
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        module = __import__(f"crayfis.coincidence.{path.stem}", fromlist=["_"])
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and value.__module__ == module.__name__:
                yield value


def test_every_compiled_function_caches_outside_the_package():
    found = list(_dispatchers())
    assert len(found) > 20
    for dispatcher in found:
        path = Path(dispatcher.stats.cache_path).resolve()
        assert path.is_relative_to(compiled.CACHE_DIR.resolve()), dispatcher
        assert not path.is_relative_to(PACKAGE_DIR), dispatcher


def test_the_cache_directory_changes_with_the_sources(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("y = 2\n")
    before = compiled.source_key([a, b])
    assert compiled.source_key([b, a]) == before
    b.write_text("y = 3\n")
    assert compiled.source_key([a, b]) != before
    if not compiled.CACHE_DIR_GIVEN:
        assert compiled.source_key([*PACKAGE_DIR.glob("*.py"), PACKAGE_DIR.parent / "definition.py"]) \
            in compiled.CACHE_DIR.name


def test_a_fresh_process_loads_the_kernel_instead_of_compiling(tmp_path):
    t = np.array([0, 0, 1, 5, 7], dtype=np.int64)  # compiled (or loaded) here first
    find_coincidences(t, np.full(5, 10.0), np.full(5, 20.0), np.arange(5), 2, 100.0, 2)
    env = dict(os.environ)
    if not compiled.CACHE_DIR_GIVEN:  # the child works out the directory by itself
        env.pop("NUMBA_CACHE_DIR")
    for _ in range(2):  # the first child may still compile variants this process did not need
        done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                              timeout=600, env=env, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["dir"] == str(compiled.CACHE_DIR)
    assert report["misses"] == 0 and report["hits"] > 5, report


def test_the_package_shipped_as_a_zip_finds_its_cache(tmp_path):
    """Spark's --py-files ships the package as a zip (ops/pyfiles.py): the sources are hashed
    through the import system, not read as files on disk."""
    shipped = tmp_path / "crayfis_backend.zip"
    subprocess.run([sys.executable, "-m", "ops.pyfiles", str(shipped)], cwd=ROOT, check=True,
                   capture_output=True, timeout=120)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import crayfis.coincidence.compiled as c; "
            "assert '.zip' in c.__file__, c.__file__; print(c.CACHE_DIR.name)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    done = subprocess.run([sys.executable, "-c", code, str(shipped)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.strip().startswith("numba-")

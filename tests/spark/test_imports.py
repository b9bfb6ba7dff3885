"""Every module of spark_jobs imports on its own, first, in a fresh interpreter: a Spark Python
worker imports whichever module holds the function it was sent, so an import cycle that works
from the driver's order breaks in a worker."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import spark_jobs

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(m.name for m in pkgutil.iter_modules(spark_jobs.__path__))


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_first(module):
    done = subprocess.run([sys.executable, "-c", f"import spark_jobs.{module}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

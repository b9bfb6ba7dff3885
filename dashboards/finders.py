"""Serve JavaScript that ships inside a PyPI package as a static file, without copying it.

plotly.min.js is bundled in the `plotly` package (package_data/plotly.min.js); this finder
exposes exactly that file as `dashboards/vendor/plotly.min.js`, both to the development server
and to `collectstatic`, so the page never loads a script from anywhere but this server.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from django.contrib.staticfiles import utils
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

PREFIX = "dashboards/vendor"
# static name -> (package, path inside the package)
PACKAGE_FILES = {"plotly.min.js": ("plotly", "package_data/plotly.min.js")}


def package_file(package: str, inner: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / inner
    return path if path.is_file() else None


class PackageFileFinder(BaseFinder):
    """Finds the files of PACKAGE_FILES under the static prefix `dashboards/vendor/`."""

    def check(self, **kwargs):
        return [Error(f"static file {PREFIX}/{name} needs the Python package {pkg!r}",
                      id="dashboards.E001")
                for name, (pkg, inner) in PACKAGE_FILES.items() if package_file(pkg, inner) is None]

    def find(self, path, find_all=False, **kwargs):
        found = []
        name = path.removeprefix(PREFIX + "/") if path.startswith(PREFIX + "/") else None
        if name in PACKAGE_FILES:
            located = package_file(*PACKAGE_FILES[name])
            if located is not None:
                found.append(str(located))
        if find_all:
            return found
        return found[0] if found else []

    def list(self, ignore_patterns):
        for name, (pkg, inner) in PACKAGE_FILES.items():
            located = package_file(pkg, inner)
            if located is None or utils.matches_patterns(name, ignore_patterns or []):
                continue
            storage = FileSystemStorage(location=str(located.parent))
            storage.prefix = PREFIX
            yield located.name, storage  # keys of PACKAGE_FILES are the files' own names

"""Coincidence search (docs/coincidence.md): the exact kernel, window merging and the
device-level background model.

    from crayfis.coincidence import find_coincidences, triggered_windows, merge_windows

The names below are loaded on first use (PEP 562): a process that needs one submodule (a Spark
task counting devices, the archive writing their statistics) does not import the kernel, the
merge and their compiled code and SciPy with it.
"""

from importlib import import_module

_HOME = {
    "CoincidenceResult": "kernel", "TriggeredWindows": "kernel", "find_coincidences": "kernel",
    "triggered_windows": "kernel",
    "MergedCandidates": "merge", "candidate_id": "merge", "candidate_ids": "merge",
    "merge_windows": "merge",
}

__all__ = list(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_HOME[name]}", __name__), name)


def __dir__():
    return sorted([*globals(), *_HOME])

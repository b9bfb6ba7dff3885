"""Coincidence search (docs/coincidence.md): the exact kernel, window merging and the
device-level background model.

    from crayfis.coincidence import find_coincidences, triggered_windows, merge_windows
"""

from .kernel import CoincidenceResult, TriggeredWindows, find_coincidences, triggered_windows
from .merge import MergedCandidates, candidate_id, candidate_ids, merge_windows

__all__ = [
    "CoincidenceResult", "TriggeredWindows", "find_coincidences", "triggered_windows",
    "MergedCandidates", "candidate_id", "candidate_ids", "merge_windows",
]

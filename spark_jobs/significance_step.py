"""The background model of crayfis/coincidence/significance.py, fed from the job's device table.

Device rates and live intervals, by the core's functions:
- without exposures: each device's interval and rate come from its hit count and first and
  last hit in the searched span (``significance.observed_live``, what
  ``significance.device_background(live=None)`` does);
- with exposures (es:// input, ``{prefix}-exposures-*`` DATA blocks): live intervals are the
  blocks' [start_ms, end_ms) merged per device (``significance.merge_intervals``), the rate is
  the blocks' hit counters (n_hits) over their merged length, and devices without any block
  fall back to ``observed_live``.
Windows of anchors within tau of the searched span's end are cut there, as the search cuts
them (``DeviceBackground.search_end_ms``).
The device table is small (one row per phone), so this runs on the driver and the resulting
``DeviceBackground`` travels with the kernel stage, where each partition sums the expected
accidental triggers and Lambda(m) of its core anchors (search_tasks.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from crayfis.coincidence.significance import (
    DeviceBackground,
    candidate_significance,
    declared_live,
    observed_live,
)
from crayfis.definition import YEAR_MS
from crayfis.es.client import make_client
from crayfis.es.partial import require_complete

MULTIPLICITY_MARGIN = 10  # Lambda(m) is summed for m = 1 .. k + this (the core's default)


@dataclass
class LiveBlocks:
    """Exposure blocks: device code, [start_ms, end_ms), and the hits each counted."""

    device_code: np.ndarray
    start_ms: np.ndarray
    end_ms: np.ndarray
    n_hits: np.ndarray


def device_background(devices: pa.Table, blocks: LiveBlocks | None,
                      span: tuple[int, int]) -> DeviceBackground:
    """DeviceBackground over device codes 0..D-1 from the job's device table (see module doc).

    ``span`` = the searched [start, end): where devices without exposures may be live, and
    what exposure intervals are clipped to.
    """
    n_dev = devices.num_rows
    codes = devices.column("device_code").to_numpy()
    n = devices.column("n_hits").to_numpy()
    first = devices.column("t_min_ms").to_numpy()
    last = devices.column("t_max_ms").to_numpy()
    lat = devices.column("lat").to_numpy()
    lon = devices.column("lon").to_numpy()
    if blocks is None or len(blocks.device_code) == 0:
        start, end, rate = observed_live(n, first, last, span)
        return DeviceBackground(codes, rate, lat, lon, np.arange(n_dev + 1, dtype=np.int64),
                                start, end, int(span[1]))
    counted = np.bincount(blocks.device_code, weights=blocks.n_hits.astype(np.float64),
                          minlength=n_dev)
    offsets, starts, ends, rate = declared_live(n_dev, blocks.device_code, blocks.start_ms,
                                                blocks.end_ms, counted, n, first, last, span)
    return DeviceBackground(codes, rate, lat, lon, offsets, starts, ends, int(span[1]))


def read_live_blocks(es_url: str, pattern: str, device_ids: list[str], start_ms: int | None,
                     end_ms: int | None, page: int = 5000) -> LiveBlocks:
    """DATA exposure blocks overlapping [start_ms, end_ms) of the given devices (driver-side)."""
    code_of = {d: i for i, d in enumerate(device_ids)}
    es = make_client(es_url, request_timeout=120)
    out: dict[str, list] = {"d": [], "s": [], "e": [], "n": []}
    try:
        if not es.indices.exists(index=pattern, allow_no_indices=False, ignore_unavailable=True):
            return LiveBlocks(*(np.zeros(0, np.int64) for _ in range(4)))
        flt: list[dict[str, Any]] = [{"term": {"state": "DATA"}}, {"exists": {"field": "end_ms"}}]
        if start_ms is not None:
            flt.append({"range": {"end_ms": {"gt": start_ms, "format": "epoch_millis"}}})
        if end_ms is not None:
            flt.append({"range": {"start_ms": {"lt": end_ms, "format": "epoch_millis"}}})
        pit = es.open_point_in_time(index=pattern, keep_alive="2m").body["id"]
        body: dict[str, Any] = {"size": page, "query": {"bool": {"filter": flt}},
                                "_source": ["device", "start_ms", "end_ms", "n_hits"],
                                "sort": ["_shard_doc"], "pit": {"id": pit, "keep_alive": "2m"},
                                "track_total_hits": False}
        try:
            while True:
                hits = require_complete(es.search(**body).body, "exposure blocks")["hits"]["hits"]
                for h in hits:
                    src = h["_source"]
                    code = code_of.get(src.get("device"))
                    if code is None or src.get("start_ms") is None:
                        continue
                    out["d"].append(code)
                    out["s"].append(int(src["start_ms"]))
                    out["e"].append(int(src["end_ms"]))
                    out["n"].append(int(src.get("n_hits") or 0))
                if len(hits) < page:
                    break
                body["search_after"] = hits[-1]["sort"]
        finally:
            es.close_point_in_time(id=pit)
    finally:
        es.close()
    return LiveBlocks(*(np.asarray(out[k], dtype=np.int64) for k in "dsen"))


@dataclass
class Significance:
    per_candidate: dict[str, np.ndarray] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class SummedBackground:
    """Lambda(m) summed over partitions, in the shape candidate_significance reads."""

    lambdas: np.ndarray  # Lambda(m) for m = 1 .. len
    searched_live_ms: int

    def expected_windows(self, multiplicity) -> np.ndarray:
        j = np.atleast_1d(np.asarray(multiplicity, dtype=np.int64)) - 1
        out = np.zeros(len(j))
        inside = (j >= 0) & (j < len(self.lambdas))
        out[inside] = self.lambdas[j[inside]]
        return out


def combine(stats: pa.Table, background: DeviceBackground, multiplicity: np.ndarray,
            live_source: str) -> Significance:
    """Sum the search tasks' expected triggers and Lambda(m) (search.TASK_STATS rows); score
    each candidate."""
    expected = float(np.sum(stats.column("expected").to_numpy()))
    lam_lists = [x for x in stats.column("lambdas").to_pylist() if x is not None]
    lambdas = np.sum(np.asarray(lam_lists), axis=0) if lam_lists else np.zeros(0)
    summed = SummedBackground(lambdas, int(background.searched_live_ms))
    sig = candidate_significance(np.asarray(multiplicity, dtype=np.int64), summed)
    years = summed.searched_live_ms / YEAR_MS
    return Significance(
        per_candidate={"expected_background": sig.expected_background, "p_value": sig.p_value,
                       "far_per_year": sig.far_per_year},
        summary={"expected_accidental_triggers": expected,
                 "searched_live_ms": summed.searched_live_ms,
                 "expected_accidental_triggers_per_year": expected / years if years > 0 else None,
                 "live_time_source": live_source,
                 # Lambda(m) for m = 1, 2, ...: expected accidental windows with >= m devices
                 "expected_windows_by_multiplicity": [float(v) for v in lambdas]})

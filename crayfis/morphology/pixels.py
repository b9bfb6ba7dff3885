"""The pixels of every event of one upload as flat (ragged) arrays: the classifier's input.

Event i owns pixels ``start[i]:start[i + 1]``; each pixel has its frame column x, row y, raw value
and whether it is lit (one of the event's L2 hits; the others are the byte block's surroundings).
`from_records` builds it from decoded events (crayfis.wire.records.EventRecord with pixels), the
form the JSON decoder and `decode_submit(..., with_pixels=True)` give; crayfis.morphology.message
builds the same arrays from a parsed DataChunk (the indexer's path builds them in compiled code,
compiled_pipeline).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from crayfis.morphology.rules import MAX_LIT_PIXELS
from crayfis.wire.records import EventRecord


@dataclass(frozen=True, slots=True)
class EventPixels:
    """Ragged pixels of n events, plus each event's frame mean and std (NaN when not sent).

    An event with more than MAX_LIT_PIXELS hits keeps no pixels and is flagged `crowded`."""

    start: np.ndarray       # int64, n + 1 offsets
    x: np.ndarray           # int64 column
    y: np.ndarray           # int64 row
    val: np.ndarray         # int64 raw value
    lit: np.ndarray         # bool: an L2 hit of its event
    frame_mean: np.ndarray  # float64 per event: Event.avg (weighted frame mean)
    frame_std: np.ndarray   # float64 per event: Event.std
    crowded: np.ndarray     # bool per event: more than MAX_LIT_PIXELS hits, pixels left out


def _finite(v: float | None) -> float:
    return v if v is not None and math.isfinite(v) else math.nan


def from_records(events: Sequence[EventRecord]) -> EventPixels:
    """Pack decoded events; each must carry its pixels when it has hits.

    Raises ValueError for an event decoded with ``with_pixels=False`` (its pixels are None): the
    classifier needs the values, so decode with pixels or classify the DataChunk message instead.
    """
    counts = np.zeros(len(events) + 1, dtype=np.int64)
    lists, lit = [], []
    crowded = np.zeros(len(events), dtype=np.bool_)
    for i, ev in enumerate(events):
        px = ev.pixels
        if px is None:
            if ev.n_pix:
                raise ValueError("an event with hits was decoded without pixels (with_pixels=False); "
                                 "decode with pixels or use crayfis.morphology.classify_message")
            continue
        if len(ev.hits) > MAX_LIT_PIXELS:
            crowded[i] = True
            continue
        hits = set(ev.hits)
        counts[i + 1] = len(px)
        lists.append(px)
        lit.extend([(p[0], p[1]) in hits for p in px])
    flat = np.fromiter(chain.from_iterable(chain.from_iterable(lists)), dtype=np.int64,
                       count=3 * int(counts.sum())).reshape(-1, 3)
    return EventPixels(
        start=np.cumsum(counts), x=flat[:, 0].copy(), y=flat[:, 1].copy(), val=flat[:, 2].copy(),
        lit=np.array(lit, dtype=np.bool_),
        frame_mean=np.array([_finite(ev.avg) for ev in events], dtype=np.float64),
        frame_std=np.array([_finite(ev.std) for ev in events], dtype=np.float64),
        crowded=crowded,
    )

"""The morphology class of every event of an upload: shape features, then rules (both compiled).

Rules, in order of precedence (constants and their physics in crayfis.morphology.rules):
  none   no lit pixel (a zero-bias sample without L2 payload);
  noise  more than MAX_LIT_PIXELS lit pixels; or a lone lit pixel without charge sharing; or
         scattered lit pixels (SCATTER_CLUSTERS or more clusters, the main one holding fewer than
         half of them); or a faint one: the brightest pixel fewer than MIN_SIGNIFICANCE noise
         sigmas above its surroundings;
  spot   the main cluster is shorter than LONG_PX, or long but round (less elongated than
         MIN_ELONGATION) and filled (MIN_FILL);
  worm   long and round but not filled (a curled path), or elongated and bent (BEND_PX) or too
         wide for a straight track (MAX_TRACK_WIDTH_PX);
  track  long, elongated, thin and straight.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crayfis.morphology import compiled_features as cf
from crayfis.morphology.compiled_pipeline import classify_buffer
from crayfis.morphology.message import from_message
from crayfis.morphology.pixels import EventPixels, from_records
from crayfis.morphology.rules import (
    CLASS_NAMES,
    MAX_LIT_PIXELS,
    NOISE,
    NONE,
    SPOT,
    TRACK,
    WORM,
)
from crayfis.wire import crayfis_pb2 as pb
from crayfis.wire.decode import parse_chunk
from crayfis.wire.records import EventRecord

_LIMITS = cf.limits()


def features(pixels: EventPixels) -> np.ndarray:
    """The feature matrix (one row per event, columns compiled_features.FEATURES)."""
    return cf.event_features(pixels.start, pixels.x, pixels.y, pixels.val, pixels.lit,
                             pixels.frame_mean, pixels.frame_std, _LIMITS)


def decide(f: np.ndarray, crowded: np.ndarray) -> np.ndarray:
    """Class codes (int8) from a feature matrix and the crowded flags (see the module rules)."""
    return cf.decide_all(np.ascontiguousarray(f, dtype=np.float64), np.ascontiguousarray(crowded, dtype=np.bool_),
                         _LIMITS)


def classify_pixels(pixels: EventPixels) -> np.ndarray:
    """Class code of every event of `pixels` (NONE for an event without lit pixels)."""
    return decide(features(pixels), pixels.crowded)


def classify_events(events: Sequence[EventRecord]) -> np.ndarray:
    """Class codes of decoded events, each carrying its pixels (decode_submit with_pixels=True,
    or the JSON decoder); ValueError for an event with hits but no pixels."""
    return classify_pixels(from_records(events))


def classify_message(msg: pb.DataChunk) -> np.ndarray:
    """Class codes of every event of a parsed DataChunk, in DecodedChunk.events order, read
    through the protobuf objects (classify_body's fallback)."""
    return classify_pixels(from_message(msg))


def classify_body(body: bytes) -> np.ndarray:
    """Class codes of every event of a serialized DataChunk the decoder accepted, in
    DecodedChunk.events order: the indexer's call, one per upload. One compiled call; a body
    the compiled reader declines goes through protobuf (ValueError for a block that does not
    replay, which the decoder would have rejected)."""
    ok, codes = classify_buffer(np.frombuffer(body, dtype=np.uint8), MAX_LIT_PIXELS, _LIMITS)
    return codes if ok else classify_message(parse_chunk(body))


def class_names(codes: np.ndarray) -> list[str | None]:
    """The stored `morphology` value per code: "spot", "track", "worm", "noise", or None."""
    names = (*CLASS_NAMES, None)   # index -1 (NONE) reads the trailing None
    return [names[c] for c in codes.tolist()]


__all__ = ["features", "decide", "classify_pixels", "classify_events", "classify_message", "classify_body",
           "class_names", "NONE", "SPOT", "TRACK", "WORM", "NOISE"]

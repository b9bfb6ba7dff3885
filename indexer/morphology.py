"""The morphology class of every hit at index time (docs/morphology.md, "At index time").

One compiled call per upload: ``classify_body`` on the raw /submit body the indexer already
holds (after ``decode_submit`` accepted it), or ``classify_events`` on a JSON upload's decoded
events, which carry their pixels. The classes come in ``DecodedChunk.events`` order, the order
``build_actions`` writes the hit documents in (one per event), and go on them as the keyword
`morphology`: "spot", "track", "worm" or "noise"; an event without L2 pixels (a zero-bias
sample) gets no field. A class depends on the event alone, so a replay gets the same one.
"""
from __future__ import annotations

from crayfis.morphology.classify import class_names, classify_body, classify_events
from crayfis.wire import jsonapi
from crayfis.wire.records import DecodedChunk

FIELD = "morphology"


def hit_classes(body: bytes, chunk: DecodedChunk, payload_format: str) -> list[str | None]:
    """The class of every event of the upload, in DecodedChunk.events order."""
    if payload_format == jsonapi.FORMAT:
        return class_names(classify_events(chunk.events))
    return class_names(classify_body(body))


def label_hits(actions: list[dict], classes: list[str | None], hits_prefix: str) -> None:
    """Put each event's class on its hit document; ValueError when the counts differ (the
    upload is then quarantined with that reason, like any upload that does not build)."""
    hits = [a["_source"] for a in actions if a["_index"].startswith(hits_prefix)]
    if len(hits) != len(classes):
        raise ValueError(f"{len(classes)} classified events for {len(hits)} hit documents")
    for source, name in zip(hits, classes):
        if name is not None:
            source[FIELD] = name

"""Morphology of camera hits: spot, track, worm or noise, from the shape of the uploaded pixels.

Entry points (crayfis.morphology.classify): `classify_message(DataChunk)` for the indexer, one call
per upload; `classify_events(events)` for decoded events that carry their pixels; `class_names`
turns the int8 codes into the stored `morphology` values. The classes and their limits are in
`rules`; docs/morphology.md states the physics and the score (`python -m crayfis.morphology.score`).
"""

"""Composable index templates for every CRAYFIS index kind, using only core Elasticsearch features.

Every mapping is strict: a document with a field outside its mapping is refused, so a typo or a
second definition of a document fails loudly. Field types are in crayfis/es/fields.py; the
candidate document's mapping is defined with its builder (crayfis/es/candidates.py).

`location` is the exact position, for the coincidence search only; it is never published. Public
views use `cell` / `cell_location`, the centre of the coarse grid cell (crayfis/privacy.py).

Hits (schema 2, docs/archive.md "What a hit document costs") are the one kind counted in
billions, so their index holds only what a reader asks for; every other field of an event lives
in the Parquet archive (crayfis/archive). Their index:
- keeps no stored `_source`: Elasticsearch rebuilds it from doc values (synthetic source), so
  every field must come back exactly as sent. Hence `t_ms` is a `long` (a synthetic `date` comes
  back as a string), `location` is two doubles (a geo_point's doc values are rounded to about a
  centimetre), and accuracies are doubles (a float comes back in its shortest float form, not as
  the double that was sent). `cell_location` stays a geo_point: readers publish it rounded to the
  cell, and the read API takes the cell centre from `cell`;
- indexes only what is filtered on (`t_ms`, `device`, `is_hit`, `cell_location`); the rest are
  doc values only. `hit_id` equals `_id`, so lookups by id use an `ids` query;
- is sorted by (t_ms, hit_id), so `_shard_doc` order is time order and neighbours in the file
  resemble each other, and stored fields use `best_compression`.
Indices created with schema 1 (crayfis/es/legacy.py) keep their mapping until they age out;
readers handle both (api/es_queries.py, dashboards/queries.py).
"""
from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from crayfis.es import candidates
from crayfis.es.fields import (
    BOOL,
    DATE,
    DOUBLE,
    DOUBLE_DV,
    FLOAT,
    GEO,
    INT,
    INT_DV,
    KW,
    KW_DV,
    LONG,
    LONG_DV,
    STORED_LONGS,
    STORED_TEXT,
)
from crayfis.es.naming import DATED_KINDS, KINDS, SINGLE_KINDS, index_for, index_pattern

__all__ = ["HIT_SCHEMA_VERSION", "INDEX_SETTINGS", "MAPPINGS", "MappingOutdated", "check_index_mapping",
           "ensure_templates", "template_body", "template_name"]

HIT_SCHEMA_VERSION = 2

COUNTER_STAGES = ("l0", "qual", "l1", "l2", "precal")
COUNTERS = {f"{s}_{c}": LONG for s in COUNTER_STAGES for c in ("processed", "pass", "skip")}

_POSITION = {
    "location": GEO, "gps_accuracy": FLOAT, "altitude": DOUBLE,
    "cell": KW, "cell_location": GEO,
}
_DEVICE = {"build": KW, "model": KW}

MAPPINGS: dict[str, dict[str, Any]] = {
    "hits": {
        "dynamic": "strict",
        "_meta": {"schema_version": HIT_SCHEMA_VERSION},
        "properties": {
            "hit_id": KW_DV, "t_ms": LONG, "device": KW, "is_hit": BOOL,
            "location": {"properties": {"lat": DOUBLE_DV, "lon": DOUBLE_DV}},
            "gps_accuracy": DOUBLE_DV, "altitude": DOUBLE_DV, "cell": KW_DV, "cell_location": GEO,
            "t_nano": LONG_DV, "n_pix": INT_DV, "max_val": LONG_DV, "model": KW_DV,
            "morphology": KW,   # spot, track, worm or noise (indexer/morphology.py)
        },
    },
    "exposures": {
        "dynamic": "strict",
        "properties": {
            "xb_id": KW, "device": KW, "run": KW, "xbn": LONG, "state": KW,
            "start_ms": DATE, "end_ms": DATE, "duration_s": DOUBLE, "live_s": DOUBLE,
            **_POSITION,
            "res_x": LONG, "res_y": LONG, "l1_threshold": DOUBLE, "l2_threshold": INT, "l2_task": KW,
            **COUNTERS, "frames_dropped": LONG, "aborted": BOOL,
            "battery_temp_c": FLOAT, "battery_end_temp_c": FLOAT, "hot_hash": INT, "wgt_hash": INT,
            "n_events": INT, "n_hits": INT, "n_zero_bias": INT, **_DEVICE,
        },
    },
    "runs": {
        "dynamic": "strict",
        "properties": {
            "run": KW, "device": KW, "start_ms": DATE, "build": KW, "manufacturer": KW, "model": KW,
            "os_version": KW, "sdk": KW, "camera_id": LONG, "camera_params": STORED_TEXT,
            "client": KW, "version_code": INT,
        },
    },
    "calibrations": {
        "dynamic": "strict",
        "properties": {
            "cal_id": KW, "device": KW, "run": KW, "start_ms": DATE, "end_ms": DATE,
            "n_frames": LONG, "hist_maxpixel": STORED_LONGS, **_DEVICE,
        },
    },
    "precalibrations": {
        "dynamic": "strict",
        "properties": {
            "precal_id": KW, "device": KW, "camera_id": LONG, "res_x": LONG, "res_y": LONG,
            "hot_hash": INT, "wgt_hash": INT, "end_ms": DATE, "run": KW,
            "weights": {"type": "binary"}, "compressed_format": KW, "hotcell": STORED_LONGS,
            "n_hotcells": INT, "interpolation": LONG, "battery_temp_c": FLOAT,
            "precal_config": STORED_TEXT, **_DEVICE,
        },
    },
    "candidates": candidates.MAPPING,
}
assert set(MAPPINGS) == set(KINDS)
LATER_FIELDS: dict[str, frozenset[str]] = {"candidates": candidates.LATER_FIELDS,
                                           "hits": frozenset({"morphology"})}
"""Per kind, fields added to its mapping after indices of it existed (check_index_mapping)."""

# Index settings beyond shards, replicas and refresh, per kind (see the module docstring).
INDEX_SETTINGS: dict[str, dict[str, Any]] = {
    "hits": {
        "mapping.source.mode": "synthetic",
        "codec": "best_compression",
        "sort.field": ["t_ms", "hit_id"],
        "sort.order": ["asc", "asc"],
    },
}


def template_name(prefix: str, kind: str) -> str:
    return f"{prefix}-{kind}"


def template_body(prefix: str, kind: str, *, replicas: int = 0, shards: int = 1,
                  refresh_interval: str = "1s") -> dict[str, Any]:
    """Arguments for indices.put_index_template (index_patterns, template, priority, _meta)."""
    return {
        "index_patterns": [index_pattern(prefix, kind)],
        # Longer prefix = more specific: never ties with (and wins over) a shorter prefix's
        # template whose pattern also matches, which ES would refuse at equal priority.
        "priority": 100 + len(prefix),
        "template": {
            "settings": {
                "number_of_shards": shards,
                "number_of_replicas": replicas,
                "refresh_interval": refresh_interval,
                **{f"index.{k}": v for k, v in INDEX_SETTINGS.get(kind, {}).items()},
            },
            "mappings": MAPPINGS[kind],
        },
        "_meta": {"owner": "crayfis", "kind": kind},
    }


def ensure_templates(es: Elasticsearch, prefix: str, *, replicas: int = 0, shards: int = 1,
                     refresh_interval: str = "1s") -> list[str]:
    """Install (or overwrite with the same content) every template; create the single indices.

    Idempotent: safe on every start. Dated indices appear on first write; the single ones
    (runs, precalibrations, candidates) are created now so searches never hit a missing index.
    Dated indices that exist already get the ``LATER_FIELDS`` of their kind (a strict mapping
    would refuse documents carrying a field added after the index was created). Returns the
    template names.
    """
    names = []
    for kind in KINDS:
        name = template_name(prefix, kind)
        es.indices.put_index_template(
            name=name, **template_body(prefix, kind, replicas=replicas, shards=shards,
                                       refresh_interval=refresh_interval))
        names.append(name)
    for kind in SINGLE_KINDS:
        index = index_pattern(prefix, kind)
        if not es.indices.exists(index=index):
            es.options(ignore_status=400).indices.create(index=index)   # 400 = created meanwhile
    for kind in DATED_KINDS:
        later = {name: MAPPINGS[kind]["properties"][name] for name in LATER_FIELDS.get(kind, ())}
        if later:
            es.indices.put_mapping(index=index_pattern(prefix, kind), properties=later,
                                   allow_no_indices=True, expand_wildcards="open")
    return names


class MappingOutdated(RuntimeError):
    """An index exists with a mapping older than this code's (templates apply at creation only)."""


def check_index_mapping(es: Elasticsearch, prefix: str, kind: str) -> None:
    """Raise MappingOutdated unless the single index of ``kind`` maps what ``MAPPINGS[kind]`` maps.

    ``ensure_templates`` creates a missing index from the template, but an index that exists
    keeps the mapping it was created with; a writer checks before it writes, so documents never
    go to an index that would drop or misread their fields. Fields added to a mapping later
    (``LATER_FIELDS``), which older documents may lack without harm, are first added to an index
    that matches in everything else.
    """
    index = index_for(prefix, kind)
    have = es.indices.get_mapping(index=index)[index]["mappings"]
    want = MAPPINGS[kind]
    props = have.get("properties", {})

    def differing(present: dict) -> list[str]:
        return sorted(name for name, spec in want["properties"].items()
                      if present.get(name, {}).get("type") != spec["type"])

    later = {name: want["properties"][name] for name in LATER_FIELDS.get(kind, ()) if name not in props}
    if later and str(have.get("dynamic")) == str(want["dynamic"]) and set(differing(props)) == set(later):
        es.indices.put_mapping(index=index, properties=later)
        props = {**props, **later}
    differ = differing(props)
    if str(have.get("dynamic")) != str(want["dynamic"]) or differ:
        raise MappingOutdated(
            f"index {index} was created with an older {kind} mapping (dynamic: {have.get('dynamic')}; "
            f"missing or different: {', '.join(differ) or 'none'}): re-create it (docs/candidates.md)")


assert set(DATED_KINDS) | set(SINGLE_KINDS) == set(KINDS)

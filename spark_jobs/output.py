"""Write the search results: candidates.parquet, summary.json, and candidate documents in ES.

Files are written by the driver through pyarrow's filesystem layer, so DIR may be a local path
or a URI pyarrow understands (s3://, hdfs://, gs://). Candidates are few, so one file.

The ES documents come from the one candidate builder (crayfis/es/candidates.py) with
`source: batch` and the run's `job_id`, under ``document_id(BATCH, candidate_id)``: an id space
the continuous search never writes to, so a batch run cannot overwrite its documents or their
history; a later batch run that finds the same candidate replaces the earlier run's document.
"""
from __future__ import annotations

import json
import time
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from elasticsearch import helpers
from pyarrow import fs

from crayfis.definition import SearchParams
from crayfis.es.candidates import BATCH, Component, Lifecycle, candidate_document, document_id
from crayfis.es.client import make_client
from crayfis.es.naming import index_for
from crayfis.es.templates import check_index_mapping, ensure_templates, template_name

CANDIDATE_SCHEMA = pa.schema([
    ("candidate_id", pa.string()), ("hit_ids", pa.list_(pa.string())),
    ("devices", pa.list_(pa.string())), ("n_hits", pa.int64()), ("n_devices", pa.int64()),
    ("multiplicity", pa.int64()), ("t_start_ms", pa.int64()), ("t_end_ms", pa.int64()),
    ("lat", pa.float64()), ("lon", pa.float64()), ("n_triggered_anchors", pa.int64()),
    ("expected_background", pa.float64()), ("p_value", pa.float64()),
    ("far_per_year", pa.float64()),
])
# columns with repeated values; ids and hit ids are unique, so a dictionary would only be built
# and dropped
DICTIONARY_COLUMNS = ["devices", "n_hits", "n_devices", "multiplicity", "n_triggered_anchors"]


def _dir(path: str) -> tuple[fs.FileSystem, str]:
    filesystem, root = fs.FileSystem.from_uri(path) if "://" in path else (fs.LocalFileSystem(), path)
    filesystem.create_dir(root, recursive=True)
    return filesystem, root.rstrip("/")


def write_outputs(out_dir: str, candidates: pa.Table, summary: dict[str, Any]) -> None:
    filesystem, root = _dir(out_dir)
    pq.write_table(candidates.cast(CANDIDATE_SCHEMA), f"{root}/candidates.parquet",
                   filesystem=filesystem, use_dictionary=DICTIONARY_COLUMNS)
    with filesystem.open_output_stream(f"{root}/summary.json") as f:
        f.write((json.dumps(summary, indent=2, sort_keys=True) + "\n").encode())


def component_from_row(row: dict[str, Any]) -> Component:
    """One row of CANDIDATE_SCHEMA as the search found it (a batch run keeps no anchor ids)."""
    return Component(
        canonical_id=row["candidate_id"], hit_ids=tuple(row["hit_ids"]), anchors=(),
        devices=tuple(sorted(row["devices"])), n_devices=int(row["n_devices"]),
        multiplicity=int(row["multiplicity"]), t_start_ms=int(row["t_start_ms"]),
        t_end_ms=int(row["t_end_ms"]), lat=float(row["lat"]), lon=float(row["lon"]),
        n_triggered_anchors=int(row["n_triggered_anchors"]))


def candidate_documents(candidates: pa.Table, params: dict[str, Any], job_id: str,
                        prefix: str) -> list[dict[str, Any]]:
    """Bulk actions for ``{prefix}-candidates``: one document per candidate, built by the one
    builder; op_type index, so a rerun replaces its documents instead of adding."""
    created = time.time_ns() // 1_000_000
    search = SearchParams(window_ms=params["window_ms"], radius_m=params["radius_m"],
                          min_devices=params["min_devices"])
    index = index_for(prefix, "candidates")
    actions = []
    for row in candidates.to_pylist():
        cid = row["candidate_id"]
        scores = {"expected_background": row["expected_background"], "p_value": row["p_value"],
                  "false_alarm_per_year": row["far_per_year"]}
        src = candidate_document(cid, component_from_row(row), Lifecycle.first(cid, created), search,
                                 scores, source=BATCH, job_id=job_id)
        actions.append({"_op_type": "index", "_index": index, "_id": document_id(BATCH, cid),
                        "_source": src})
    return actions


def index_candidates(es_url: str, prefix: str, candidates: pa.Table, params: dict[str, Any],
                     job_id: str) -> int:
    """Index a run's candidates (mapping checked first); returns the number written.

    A deployment's templates (its replica count among them) are the deployment's: they are
    installed here only where none exist yet, as on a fresh local node."""
    es = make_client(es_url)
    try:
        if not es.indices.exists_index_template(name=template_name(prefix, "candidates")):
            ensure_templates(es, prefix)
        check_index_mapping(es, prefix, "candidates")
        ok, errors = helpers.bulk(es, candidate_documents(candidates, params, job_id, prefix),
                                  raise_on_error=False, refresh="wait_for")
        if errors:
            raise RuntimeError(f"{len(errors)} candidate documents failed: {errors[:1]}")
        return ok
    finally:
        es.close()

"""The archive's columns, their units, and the metadata every archive file carries.

The first five columns are the coincidence job's Parquet input (spark_jobs/hits_input.py):
hit_id, device_id, t_ms, lat, lon, with the same values the hit's Elasticsearch document holds
(crayfis/es/documents.py defines how a hit is named, dated and placed). `device_id` is the
device's public pseudonym, as in Elasticsearch: the archive never holds a raw Device-id. The
other columns are the event's remaining fields and its provenance (the raw-store upload it came
from, its run and exposure block), so everything the index leaves out is kept here.
"""
from __future__ import annotations

import functools
import json
import subprocess
from importlib import metadata
from pathlib import Path

import pyarrow as pa

__all__ = ["ARCHIVE_SCHEMA_VERSION", "COLUMNS", "SCHEMA", "UNITS", "code_version", "file_metadata"]

ARCHIVE_SCHEMA_VERSION = 1
META_PREFIX = "crayfis."

# name, Arrow type, unit or meaning
COLUMNS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("hit_id", pa.string(), "hit id, equal to the Elasticsearch document id (blake2b-128 hex)"),
    ("device_id", pa.string(), "device pseudonym (keyed HMAC of the Device-id, crayfis/privacy.py)"),
    ("t_ms", pa.int64(), "event time, Unix ms UTC (phone wall clock; the block's time when unset)"),
    ("lat", pa.float64(), "latitude, degrees WGS84 (the event's fix, else its block's; null without)"),
    ("lon", pa.float64(), "longitude, degrees WGS84"),
    ("gps_accuracy", pa.float64(), "68 % radius of the fix, m"),
    ("altitude", pa.float64(), "altitude of the fix, m above the ellipsoid"),
    ("fixtime_ms", pa.int64(), "time of the fix the position comes from, Unix ms UTC"),
    ("t_nano", pa.int64(), "monotonic clock, ns (only differences are meaningful)"),
    ("exposure_ns", pa.int64(), "sensor exposure time, ns"),
    ("n_pix", pa.int32(), "number of L2 pixels"),
    ("max_val", pa.int64(), "largest raw pixel value of the L2 payload"),
    ("avg", pa.float64(), "frame mean weighted pixel value"),
    ("std", pa.float64(), "frame standard deviation of the weighted pixel value"),
    ("pressure", pa.float64(), "barometric pressure, hPa"),
    ("orient_x", pa.float64(), "azimuth, rad"),
    ("orient_y", pa.float64(), "pitch, rad"),
    ("orient_z", pa.float64(), "roll, rad"),
    ("zero_bias", pa.bool_(), "the event also carries a zero-bias square"),
    ("run", pa.string(), "run UUID"),
    ("xbn", pa.int64(), "exposure block number within the run"),
    ("xb_id", pa.string(), "exposure block id (its Elasticsearch document id)"),
    ("build", pa.string(), "app build"),
    ("model", pa.string(), "phone model"),
    ("upload", pa.int64(), "raw-store upload id (ingest Upload row) the hit was decoded from"),
    ("received_ms", pa.int64(), "when the server stored that upload, Unix ms UTC"),
)
UNITS = {name: unit for name, _, unit in COLUMNS}
SCHEMA = pa.schema([pa.field(name, kind, metadata={"unit": unit}) for name, kind, unit in COLUMNS])
SORT_KEYS = [("t_ms", "ascending"), ("hit_id", "ascending")]


@functools.cache
def code_version() -> str:
    """The package version, and the git commit when the code runs from a checkout."""
    version = metadata.version("crayfis-backend")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=Path(__file__).parent,
                                capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+{commit}" if commit else version


def file_metadata(licence: str, extra: dict[str, str] | None = None) -> dict[bytes, bytes]:
    """Key-value metadata of an archive file: what it is, its schema version, units, licence,
    and the code that wrote it."""
    meta = {
        "description": "CRAYFIS hits: one row per hit, in (t_ms, hit_id) order; the coincidence job "
                       "reads it as it is (python -m spark_jobs.coincidence --input DIR)",
        "archive_schema_version": str(ARCHIVE_SCHEMA_VERSION),
        "units": json.dumps(UNITS, sort_keys=True),
        "licence": licence,
        "code_version": code_version(),
        **(extra or {}),
    }
    return {(META_PREFIX + k).encode(): v.encode() for k, v in meta.items()}


def with_metadata(table: pa.Table, licence: str, extra: dict[str, str] | None = None) -> pa.Table:
    """`table` in the archive schema with the file metadata attached."""
    return table.cast(SCHEMA).replace_schema_metadata(file_metadata(licence, extra))

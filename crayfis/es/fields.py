"""Field types of every CRAYFIS mapping, from core Elasticsearch features only.

The embedded node is Elastic's integ-test-zip distribution: no painless, no ingest pipelines, no
mapper-extras (scaled_float), no data streams, no unsigned_long. So mappings use only keyword,
boolean, integer/long/float/double, date, geo_point and binary; times are `date` fields holding
Unix ms, except a hit's `t_ms`, a `long` (crayfis/es/templates.py says why).
"""
from __future__ import annotations

DATE = {"type": "date", "format": "epoch_millis||strict_date_optional_time"}
KW = {"type": "keyword", "ignore_above": 1024}   # longer junk is kept in _source, not indexed
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
LONG = {"type": "long"}
FLOAT = {"type": "float"}
DOUBLE = {"type": "double"}
GEO = {"type": "geo_point"}
STORED_LONGS = {"type": "long", "index": False, "doc_values": False}   # arrays kept for reading back
STORED_TEXT = {"type": "keyword", "index": False, "doc_values": False}
STORED_DOUBLES = {"type": "double", "index": False, "doc_values": False}   # arrays kept for reading back

# Read-only columns: doc values (for sorting, aggregations, docvalue_fields and synthetic _source)
# without an inverted index or points. Elasticsearch still answers term and range queries on them
# by scanning doc values, which is fine beside a selective filter (a time range) but not alone.
KW_DV = {**KW, "index": False}
LONG_DV = {**LONG, "index": False}
INT_DV = {**INT, "index": False}
DOUBLE_DV = {**DOUBLE, "index": False}

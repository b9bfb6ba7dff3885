"""Field types of every CRAYFIS mapping, from core Elasticsearch features only.

The embedded node is Elastic's integ-test-zip distribution: no painless, no ingest pipelines, no
mapper-extras (scaled_float), no data streams, no unsigned_long. So mappings use only keyword,
boolean, integer/long/float/double, date, geo_point and binary; times are `date` fields holding
Unix ms.
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

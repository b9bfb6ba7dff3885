"""The Parquet hit archive: every hit the indexer indexes, in the coincidence job's input schema
plus provenance, partitioned by UTC day, each hit once (docs/archive.md).

  schema.py   columns, units, file metadata
  rows.py     archive rows from decoded uploads
  store.py    layout, staging a batch, atomic file writes
  compact.py  staged batches -> sealed days (dedup by hit_id), late hits
  device_sidecar.py  each sealed file's device statistics, bound to its footer
  reader.py   sealed days' hits in a time range

Django-free: the indexer (indexer/archive.py) supplies settings, the lease and the schedule.
"""

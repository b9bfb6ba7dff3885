"""PySpark entry points: the coincidence search, hit export and the Elasticsearch reader."""

"""Elasticsearch index definitions and document building, free of Django (settings pass the prefix)."""

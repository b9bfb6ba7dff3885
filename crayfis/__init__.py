"""CRAYFIS domain core: wire format, index documents, coincidence search, significance, simulator (no Django, no Spark)."""

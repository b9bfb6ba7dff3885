"""CRAYFIS domain core: wire format, index documents, coincidence search, significance, simulator.

Nothing here imports Django or Spark."""

"""Bench-only Django pieces: the conventional DRF way to take /submit's events (bench/ingest.py).

`settings` is the production settings with `urls` as the URLconf, which adds
POST /bench/baseline-submit to production's routes. Only bench/ingest.py starts a server with
them (DJANGO_SETTINGS_MODULE=bench.drf_baseline.settings); production never imports this package.
"""

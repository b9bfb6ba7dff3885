"""The production settings, routed through the bench URLconf (adds /bench/baseline-submit)."""
from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.drf_baseline.urls"

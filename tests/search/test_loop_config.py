"""Defaults are written once, in the settings: the loop and its command take them from there."""
from __future__ import annotations

import dataclasses

import pytest
from django.core.management.base import CommandError

from crayfis.definition import SearchParams
from search.loop import LoopConfig
from search.management.commands.search_continuously import loop_config


def test_no_loop_field_repeats_a_default_of_the_settings():
    defaulted = [f.name for f in dataclasses.fields(LoopConfig)
                 if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING]
    assert defaulted == ["name"]  # the SearchState row, not a setting


def test_the_loop_takes_every_value_from_the_settings(settings):
    settings.CRAYFIS_SEARCH_WINDOW_MS, settings.CRAYFIS_SEARCH_RADIUS_M = 45, 222.0
    settings.CRAYFIS_SEARCH_MIN_DEVICES, settings.CRAYFIS_SEARCH_EVERY_S = 4, 7.5
    settings.CRAYFIS_SEARCH_SPARK_THRESHOLD_HITS, settings.CRAYFIS_SEARCH_SPARK_TIMEOUT_S = 123, 9.0
    settings.CRAYFIS_SEARCH_PAGE_SIZE, settings.CRAYFIS_SEARCH_TOUCH_SLACK_MS = 77, 1234
    settings.CRAYFIS_SEARCH_LEASE_S, settings.CRAYFIS_SEARCH_RATE_SPAN_MS = 5.0, 4321
    settings.CRAYFIS_INGEST_BUCKET_MS, settings.CRAYFIS_ALERT_MAX_ATTEMPTS = 30_000, 2
    cfg = LoopConfig.from_settings()
    assert cfg.params == SearchParams(window_ms=45, radius_m=222.0, min_devices=4)
    assert (cfg.every_s, cfg.spark_threshold_hits, cfg.spark_timeout_s, cfg.page_size) == (7.5, 123, 9.0, 77)
    assert (cfg.touch_slack_ms, cfg.lease_s, cfg.rate_span_ms, cfg.bucket_ms) == (1234, 5.0, 4321, 30_000)
    assert cfg.alerts.max_attempts == 2


def test_overrides_replace_the_settings_as_given(settings):
    settings.CRAYFIS_SEARCH_WINDOW_MS = 45
    cfg = LoopConfig.from_settings(radius_m=500.0, spark_threshold_hits=None)
    assert cfg.params.window_ms == 45 and cfg.params.radius_m == 500.0
    assert cfg.spark_threshold_hits is None  # None here means: never the Spark job
    with pytest.raises(TypeError, match="every_minutes"):
        LoopConfig.from_settings(every_minutes=1)


def test_a_flag_left_out_takes_its_setting_and_a_bad_one_is_one_line(settings):
    settings.CRAYFIS_SEARCH_EVERY_S, settings.CRAYFIS_SEARCH_MIN_DEVICES = 42.0, 6
    cfg = loop_config(every=None, window_ms=20)
    assert (cfg.every_s, cfg.params.window_ms, cfg.params.min_devices) == (42.0, 20, 6)
    assert loop_config(every="2m").every_s == 120.0
    for bad in ({"every": "soon"}, {"window_ms": -1}, {"radius_m": -1.0}, {"min_devices": 0}):
        with pytest.raises(CommandError):
            loop_config(**bad)

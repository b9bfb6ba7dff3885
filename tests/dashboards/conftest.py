"""One simulated network indexed once for the dashboard tests, and a fixture pointing at it."""
from __future__ import annotations

import time
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache

from tests.browser import browser  # noqa: F401  (a fixture, for the browser tests here)
from tests.dashboards.netdata import delete_prefix, index_network


@pytest.fixture(scope="session")
def network(es):
    """15 simulated phones over the last 30 min, indexed under a prefix of their own."""
    prefix = f"tdash{uuid.uuid4().hex[:8]}"
    net = index_network(es, prefix, settings.CRAYFIS_PSEUDONYM_KEY, int(time.time() * 1000))
    yield net
    delete_prefix(es, prefix)


@pytest.fixture
def dash(network, settings):
    """Point the dashboards at the indexed network, with a clean cache and a ranking threshold
    the 30-minute network can reach."""
    settings.CRAYFIS_ES_PREFIX = network.prefix
    settings.CRAYFIS_DASH_LEADERBOARD_MIN_HOURS = 0.25
    cache.clear()
    yield network
    cache.clear()

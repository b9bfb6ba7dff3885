"""Shared fixtures: the real Elasticsearch node, a per-test index prefix, one SparkSession.

The node is the embedded one (started here when nothing answers, and stopped at the end only if
this session started it) unless CRAYFIS_ES_URL names an external cluster.
"""
from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from elasticsearch import Elasticsearch

from ops import esnode
from ops.elastic import embedded_node_config
from tests import postgres

# Tests that need a service carry its marker, so a run can select them (`make test-fast` leaves them
# out). A test asking for the service's fixture is marked here; a test that needs one otherwise
# carries the marker itself.
SERVICE_FIXTURES = {"elasticsearch": {"es_url", "es", "es_prefix"}, "spark": {"spark"}}


def pytest_collection_modifyitems(config, items):
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in SERVICE_FIXTURES.items():
            if used & fixtures and marker not in item.keywords:
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def _fresh_submit_rates():
    """/submit's rate counts live as long as the process (ingest/rates.py): every test starts
    with none, as a fresh server would, whatever the tests before it posted."""
    from ingest.submit import RATES

    RATES.clear()
    yield
    RATES.clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database; on PostgreSQL, the connections other threads left open
    (the ingest writer's, say) are closed before it is dropped, which PostgreSQL refuses while
    any is open."""
    yield
    with django_db_blocker.unblock():
        postgres.end_other_sessions()


@pytest.fixture(scope="session")
def es_url():
    cfg = embedded_node_config()
    url = settings.CRAYFIS_ES_URL
    started_here = False
    if cfg is not None and esnode.health(url) is None:
        esnode.start(cfg, progress=lambda msg: None)
        started_here = True
    if esnode.health(url) is None:
        pytest.fail(f"no Elasticsearch answers at {url}")
    yield url
    if started_here:
        esnode.stop(cfg)


@pytest.fixture(scope="session")
def es(es_url):
    """A client for the real node."""
    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    client.close()


def _delete_prefixed(es, prefix: str) -> None:
    pattern = f"{prefix}-*"
    names = list(es.indices.get(index=pattern, expand_wildcards="all", ignore_unavailable=True).keys())
    for start in range(0, len(names), 50):
        es.indices.delete(index=",".join(names[start:start + 50]), ignore_unavailable=True)
    quiet = es.options(ignore_status=404)
    templates = quiet.indices.get_index_template(name=pattern).get("index_templates", [])
    for tmpl in templates:
        quiet.indices.delete_index_template(name=tmpl["name"])


@pytest.fixture
def es_prefix(es, settings):
    """A fresh index prefix for one test (set as CRAYFIS_ES_PREFIX), with its indices removed after."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    settings.CRAYFIS_ES_PREFIX = prefix
    yield prefix
    _delete_prefixed(es, prefix)


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for the whole run (it takes seconds to start)."""
    from spark_jobs.session import build_session  # pyspark is heavy: loaded only by runs that need Spark

    session = build_session(
        "crayfis-tests", master="local[2]",
        conf={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2",
              "spark.driver.memory": "2g"},
    )
    yield session
    session.stop()

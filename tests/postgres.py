"""The suite's database engine: SQLite, or PostgreSQL with `pytest --db postgres` (a pytest plugin,
loaded early by `-p tests.postgres` in pyproject.toml's addopts).

`make test` runs the whole suite on SQLite, then the tests marked `database` (every test that
uses Django's test database; marked here) again on PostgreSQL. A test that holds on one engine
only carries the `sqlite` or `postgres` marker and is deselected on the other.

The engine is chosen before Django reads its settings: Django binds each model to the engine's
limits when the model class is made, so it cannot change once pytest-django has set Django up
(which it does before the conftests load). The run's DATABASE_URL is set for tests/settings.py
to read, as production's settings read it, and removed again once read, so that the programs
tests start get only the databases they name themselves; a caller's own DATABASE_URL never
reaches the suite.

The PostgreSQL server is the one CRAYFIS_TEST_POSTGRES names (a postgres:// URL whose user may
create databases; the session makes and drops `test_<name>_<pid>` there), else one this session
starts: initdb + pg_ctl from Debian's packages, as `make prod-check` runs it
(ops/prodcheck/postgres.py), on a free port of 127.0.0.1 with its data in a temporary directory,
stopped and removed when the session ends. That server gives up durability (fsync off): its
data is thrown away at the end, and no test crashes it.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from ops.prodcheck.errors import SetupError
from ops.prodcheck.postgres import Postgres, postgres_bindir, unprivileged_account

ENGINES = {"sqlite": "django.db.backends.sqlite3", "postgres": "django.db.backends.postgresql"}
EXTERNAL_URL_VARIABLE = "CRAYFIS_TEST_POSTGRES"
# Throw-away data: no fsync, no full-page images, commits not waited for.
SERVER_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}
# pytest-django's database fixtures (db, transactional_db, live_server, admin_user, ...) all
# depend on this one; a django_db marker asks for the database without them.
DATABASE_FIXTURE = "django_db_setup"
START_ATTEMPTS = 3
_server_key = pytest.StashKey[ExitStack]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=tuple(ENGINES), default="sqlite",
                     help="database engine of the run: sqlite (default) or postgres (the server "
                          f"{EXTERNAL_URL_VARIABLE} names, else one started for the session)")


@pytest.hookimpl(wrapper=True)   # around pytest-django's, which reads the settings
def pytest_load_initial_conftests(early_config: pytest.Config, parser, args):
    cleanup = ExitStack()
    early_config.stash[_server_key] = cleanup
    os.environ.pop("DATABASE_URL", None)
    if early_config.known_args_namespace.db == "postgres":
        os.environ["DATABASE_URL"] = cleanup.enter_context(_postgres_url())
    try:
        return (yield)
    finally:
        os.environ.pop("DATABASE_URL", None)
        if early_config.known_args_namespace.db == "postgres" and settings.configured:
            # Sessions sharing one external server never share (or drop) each other's test database.
            default = settings.DATABASES["default"]
            default.setdefault("TEST", {})["NAME"] = f"test_{default['NAME']}_{os.getpid()}"


def pytest_unconfigure(config: pytest.Config) -> None:
    cleanup = config.stash.get(_server_key, None)
    if cleanup is not None:
        cleanup.close()


def engine() -> str:
    """The engine this run's settings name (sqlite or postgres)."""
    backend = settings.DATABASES["default"]["ENGINE"]
    return next((name for name, module in ENGINES.items() if module == backend), backend)


@pytest.hookimpl(tryfirst=True)   # before -m selects by these markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark database tests `database`; deselect tests bound to an engine this run is not on."""
    ours = engine()
    kept, dropped = [], []
    for item in items:
        if item.get_closest_marker("django_db") or DATABASE_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker("database")
        bound = [name for name in ENGINES if item.get_closest_marker(name)]
        (dropped if bound and ours not in bound else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def end_other_sessions() -> None:
    """Terminate every other session on this run's PostgreSQL test database (nothing on SQLite)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def pytest_report_header(config: pytest.Config) -> str:
    default = settings.DATABASES["default"]
    if engine() == "postgres":
        return f"database: postgres ({default.get('HOST')}:{default.get('PORT')})"
    return f"database: {engine()} ({default.get('TEST', {}).get('NAME')})"


@contextmanager
def _postgres_url() -> Iterator[str]:
    external = os.environ.get(EXTERNAL_URL_VARIABLE)
    if external:
        if not external.startswith(("postgres://", "postgresql://")):
            raise pytest.UsageError(f"{EXTERNAL_URL_VARIABLE} must be a postgres:// URL, not {external!r}")
        yield external
        return
    try:
        with own_server() as server:
            yield server.url
    except SetupError as exc:
        raise pytest.UsageError(f"--db postgres: {exc} (or set {EXTERNAL_URL_VARIABLE} to a "
                                "postgres:// URL)") from None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def own_server() -> Iterator[Postgres]:
    """A fresh PostgreSQL with a database, on a free port of 127.0.0.1, removed on exit.
    SetupError when there is no PostgreSQL or it does not start (a port taken meanwhile is tried
    again)."""
    bindir = postgres_bindir(None)
    root = Path(tempfile.mkdtemp(prefix="crayfis-test-pg-"))
    root.chmod(0o755)   # the unprivileged account that runs PostgreSQL under root enters it
    server = None
    try:
        for attempt in range(START_ATTEMPTS):
            server = Postgres(bindir, root / f"server-{attempt}", _free_port(), unprivileged_account(),
                              server_settings=SERVER_SETTINGS)
            server.root.mkdir()
            server.init()
            try:
                server.start()
            except SetupError:
                if attempt == START_ATTEMPTS - 1:
                    raise
                continue
            server.create_database()
            break
        yield server
    finally:
        try:
            if server is not None:
                server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)

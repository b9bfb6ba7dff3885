"""Settings for the test suite (pytest's DJANGO_SETTINGS_MODULE): production's settings with a
throw-away SECRET_KEY and pseudonym key (DEBUG stays off), a fast password hasher and a
per-process test database.
"""
import atexit
import os
import shutil
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("CRAYFIS_PSEUDONYM_KEY", "test-only-pseudonym-key-not-for-production-use-9876543210")

from config.settings import *  # noqa: F403
from config.settings import DATABASES, VAR_DIR

# Tests create users; the production hasher is deliberately slow and tests need no strength.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests run on a SQLite *file*, not the default shared-cache memory database: the ingest writer
# thread and concurrent indexers need SQLite's real WAL locking and busy_timeout, as they run in
# production (shared-cache memory databases fail at once with "table is locked"). One file per
# test process, so test sessions running side by side never share (or delete) it.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3"))

# The indexer writes the Parquet hit archive; tests that look at it point CRAYFIS_ARCHIVE_DIR at
# their own directory, the rest write here (one directory per test process, removed at exit).
CRAYFIS_ARCHIVE_DIR = tempfile.mkdtemp(prefix="crayfis-test-archive-")
atexit.register(shutil.rmtree, CRAYFIS_ARCHIVE_DIR, ignore_errors=True)

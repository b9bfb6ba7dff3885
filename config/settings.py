"""Django settings, read from environment variables with embedded one-machine defaults.

Defaults run everything on this machine (SQLite under var/, the embedded Elasticsearch node);
production sets DATABASE_URL, CRAYFIS_ES_URL, SECRET_KEY and ALLOWED_HOSTS. Every limit is a
named setting so operators can find and tune it.
"""
from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CRAYFIS_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("CRAYFIS_DEBUG", False)


def _secret_key() -> str:
    """SECRET_KEY from the environment; in DEBUG a generated key kept in var/ (stable pseudonyms)."""
    key = env_str("SECRET_KEY", "")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: production (DEBUG off) refuses the generated development key; "
            "set SECRET_KEY, or CRAYFIS_DEBUG=1 for a local run"
        )
    path = VAR_DIR / "dev_secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "ops",
    "ingest",
    "indexer",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("CRAYFIS_DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the single writer; IMMEDIATE avoids lock-upgrade deadlocks;
    # synchronous=FULL keeps an acknowledged upload on disk through a power cut.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if env_bool("CRAYFIS_DB_CLOSE_EACH_REQUEST", False) else 60

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise expects it even before collectstatic
# WhiteNoise serves static files straight from the apps and packages (plotly.min.js, Swagger UI)
# with DEBUG off too; production may still run collectstatic for compressed, hashed copies.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"crayfis": {"handlers": ["console"], "level": env_str("CRAYFIS_LOG_LEVEL", "INFO")},
                "ingest": {"handlers": ["console"], "level": env_str("CRAYFIS_LOG_LEVEL", "INFO")},
                "indexer": {"handlers": ["console"], "level": env_str("CRAYFIS_LOG_LEVEL", "INFO")}},
}

# --- Elasticsearch -------------------------------------------------------------------------
# The embedded node is used only when CRAYFIS_ES_URL names it (the default); any other URL is an
# external cluster that this project never starts or stops.
CRAYFIS_ES_URL = env_str("CRAYFIS_ES_URL", "http://127.0.0.1:9200")
CRAYFIS_ES_PREFIX = env_str("CRAYFIS_ES_PREFIX", "crayfis")
CRAYFIS_ES_REPLICAS = env_int("CRAYFIS_ES_REPLICAS", 0)
CRAYFIS_ES_TIMEOUT_S = env_float("CRAYFIS_ES_TIMEOUT_S", 10.0)
CRAYFIS_ES_HEAP = env_str("CRAYFIS_ES_HEAP", "1g")

# --- Privacy ---------------------------------------------------------------------------------
# Key of the HMAC that turns a phone's Device-id into its public pseudonym. Changing it renames
# every device in the index, so production sets it once and keeps it.
CRAYFIS_PSEUDONYM_KEY = env_str("CRAYFIS_PSEUDONYM_KEY", "") or f"pseudonym:{SECRET_KEY}"

# --- Ingest (ingest/ app: /submit, /precal.json, the raw store) ---------------------------------
# /submit: the body cap answers 413 above it (the app's chunks are ~50 kB; allow >= 1 MB).
CRAYFIS_INGEST_MAX_BODY_BYTES = env_int("CRAYFIS_INGEST_MAX_BODY_BYTES", 1024 * 1024)
# An App-code that is sent but unknown: 401 when enforced, else 202 and the upload is flagged.
CRAYFIS_INGEST_ENFORCE_APP_CODES = env_bool("CRAYFIS_INGEST_ENFORCE_APP_CODES", False)
# Group commit: one writer thread per process commits concurrent requests' rows together.
CRAYFIS_INGEST_GROUP_COMMIT = env_bool("CRAYFIS_INGEST_GROUP_COMMIT", True)
CRAYFIS_INGEST_GROUP_MAX_ROWS = env_int("CRAYFIS_INGEST_GROUP_MAX_ROWS", 256)
CRAYFIS_INGEST_GROUP_MAX_BYTES = env_int("CRAYFIS_INGEST_GROUP_MAX_BYTES", 16 * 1024 * 1024)
# A request whose row is not committed within this answers 503 (below the app's 5 s timeout).
CRAYFIS_INGEST_COMMIT_TIMEOUT_S = env_float("CRAYFIS_INGEST_COMMIT_TIMEOUT_S", 4.0)
# SQLite: seconds between WAL checkpoints by a background thread (0 = SQLite checkpoints inside commits).
CRAYFIS_INGEST_CHECKPOINT_S = env_float("CRAYFIS_INGEST_CHECKPOINT_S", 0.5)
# How long a worker trusts its cached device block flag / overrides and app-code lookups.
CRAYFIS_INGEST_POLICY_CACHE_S = env_float("CRAYFIS_INGEST_POLICY_CACHE_S", 5.0)

# --- Indexer (indexer/ app: manage.py index_uploads) -------------------------------------------
# Uploads claimed per batch, claim lease, idle poll, capped exponential backoff while
# Elasticsearch is down, bulk request size, attempts before an upload whose documents keep
# failing is quarantined, width of the touched event-time buckets (the continuous search reads them).
CRAYFIS_INDEXER_BATCH = env_int("CRAYFIS_INDEXER_BATCH", 64)
CRAYFIS_INDEXER_LEASE_S = env_float("CRAYFIS_INDEXER_LEASE_S", 300.0)
CRAYFIS_INDEXER_POLL_S = env_float("CRAYFIS_INDEXER_POLL_S", 1.0)
CRAYFIS_INDEXER_BACKOFF_MIN_S = env_float("CRAYFIS_INDEXER_BACKOFF_MIN_S", 0.5)
CRAYFIS_INDEXER_BACKOFF_MAX_S = env_float("CRAYFIS_INDEXER_BACKOFF_MAX_S", 30.0)
CRAYFIS_INDEXER_BULK_BYTES = env_int("CRAYFIS_INDEXER_BULK_BYTES", 8 * 1024 * 1024)
CRAYFIS_INDEXER_MAX_ATTEMPTS = env_int("CRAYFIS_INDEXER_MAX_ATTEMPTS", 8)
CRAYFIS_INGEST_BUCKET_MS = env_int("CRAYFIS_INGEST_BUCKET_MS", 60_000)
# The Parquet hit archive the indexer writes (docs/archive.md): its root, a directory or any
# pyarrow filesystem URI (s3://bucket/path, hdfs://...); empty = the indexer writes none.
CRAYFIS_ARCHIVE_DIR = env_str("CRAYFIS_ARCHIVE_DIR", str(VAR_DIR / "archive"))
# A UTC day is sealed (compacted into its day=YYYY-MM-DD files) this long after it ends; hits
# of it that arrive later are added as late files.
CRAYFIS_ARCHIVE_SEAL_AFTER_S = env_float("CRAYFIS_ARCHIVE_SEAL_AFTER_S", 6 * 3600.0)
# Rows per sealed file and per row group (the coincidence job's tasks read whole row groups).
CRAYFIS_ARCHIVE_ROWS_PER_FILE = env_int("CRAYFIS_ARCHIVE_ROWS_PER_FILE", 4 * 1024 * 1024)
CRAYFIS_ARCHIVE_ROW_GROUP_ROWS = env_int("CRAYFIS_ARCHIVE_ROW_GROUP_ROWS", 1024 * 1024)
# An open day with more staged batch files than this has its oldest merged into one.
CRAYFIS_ARCHIVE_STAGED_MAX_FILES = env_int("CRAYFIS_ARCHIVE_STAGED_MAX_FILES", 256)
# manage.py compact_archive --loop: seconds between passes; the lease one compactor holds.
CRAYFIS_ARCHIVE_COMPACT_EVERY_S = env_float("CRAYFIS_ARCHIVE_COMPACT_EVERY_S", 300.0)
CRAYFIS_ARCHIVE_LEASE_S = env_float("CRAYFIS_ARCHIVE_LEASE_S", 900.0)
# The licence written into every archive file's metadata (the terms the data are shared under).
CRAYFIS_ARCHIVE_LICENCE = env_str("CRAYFIS_ARCHIVE_LICENCE", "CC-BY-4.0")

# --- Dashboards (dashboards/ app) -------------------------------------------------------------
# Answers are cached this many seconds (every visitor polls; 0 disables the cache).
CRAYFIS_DASH_CACHE_S = env_float("CRAYFIS_DASH_CACHE_S", 5.0)
# Pages poll their JSON endpoints this often while visible, and this often while hidden (0 = stop).
CRAYFIS_DASH_POLL_S = env_float("CRAYFIS_DASH_POLL_S", 5.0)
CRAYFIS_DASH_HIDDEN_POLL_S = env_float("CRAYFIS_DASH_HIDDEN_POLL_S", 0.0)
# Geotile zoom of the activity map (12 ~ 0.09 degrees, the size of a public cell; lower = coarser).
CRAYFIS_DASH_MAP_PRECISION = env_int("CRAYFIS_DASH_MAP_PRECISION", 12)
CRAYFIS_DASH_MAP_MAX_PRECISION = 12  # never finer than a public cell
# Leaderboard: window, minimum exposure to be ranked, tolerated factor from the median hit rate.
CRAYFIS_DASH_LEADERBOARD_DAYS = env_int("CRAYFIS_DASH_LEADERBOARD_DAYS", 30)
CRAYFIS_DASH_LEADERBOARD_MIN_HOURS = env_float("CRAYFIS_DASH_LEADERBOARD_MIN_HOURS", 1.0)
CRAYFIS_DASH_LEADERBOARD_RATE_FACTOR = env_float("CRAYFIS_DASH_LEADERBOARD_RATE_FACTOR", 2.5)
CRAYFIS_DASH_LEADERBOARD_SIZE = env_int("CRAYFIS_DASH_LEADERBOARD_SIZE", 100)
# plotly.min.js is served from the installed plotly package (dashboards/finders.py).
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "dashboards.finders.PackageFileFinder",
]

# --- API v1 and accounts (api/, accounts/ apps) -------------------------------------------------
INSTALLED_APPS += [
    "rest_framework_api_key",      # hashed API keys (its own APIKey model is unused, hidden in admin)
    "drf_spectacular",             # OpenAPI 3 at /api/schema/
    "drf_spectacular_sidecar",     # Swagger UI assets served from static files (works offline)
    "accounts",
    "api",
]
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": "CRAYFIS network API",
    "DESCRIPTION": "Upload detector data as JSON; read hits, candidates and network statistics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["api.schema.only_api_v1"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "api.schema.add_upload_components"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"
# POST /api/v1/uploads: request body cap (as sent, 413 above), cap after gzip decompression,
# blocks and hits per upload, field errors listed in one 400.
CRAYFIS_API_MAX_BODY_BYTES = env_int("CRAYFIS_API_MAX_BODY_BYTES", 1024 * 1024)
CRAYFIS_API_MAX_JSON_BYTES = env_int("CRAYFIS_API_MAX_JSON_BYTES", 8 * 1024 * 1024)
CRAYFIS_API_MAX_BLOCKS = env_int("CRAYFIS_API_MAX_BLOCKS", 1_000)
CRAYFIS_API_MAX_HITS = env_int("CRAYFIS_API_MAX_HITS", 50_000)
CRAYFIS_API_MAX_ERRORS = env_int("CRAYFIS_API_MAX_ERRORS", 50)
# Throttle rates (DRF "N/s|min|hour|day"): uploads per device, reads per scientist key, reads
# per anonymous client address. Counters live in this cache alias (per process with the default
# local-memory cache: set CACHES to a shared cache, e.g. Redis, when running several workers).
CRAYFIS_API_DEVICE_UPLOAD_RATE = env_str("CRAYFIS_API_DEVICE_UPLOAD_RATE", "120/min")
CRAYFIS_API_SCIENTIST_READ_RATE = env_str("CRAYFIS_API_SCIENTIST_READ_RATE", "600/min")
CRAYFIS_API_ANON_READ_RATE = env_str("CRAYFIS_API_ANON_READ_RATE", "60/min")
CRAYFIS_API_THROTTLE_CACHE = env_str("CRAYFIS_API_THROTTLE_CACHE", "default")
# Anonymous rates count per client address: the number of trusted proxies in front of the app
# (0 = use the socket address; X-Forwarded-For is then ignored, so it cannot be spoofed).
REST_FRAMEWORK["NUM_PROXIES"] = env_int("CRAYFIS_API_NUM_PROXIES", 0)
# A verified API key is trusted this long per worker process (0 = check the database each time):
# revocations and expiries reach other workers within this time.
CRAYFIS_API_KEY_CACHE_S = env_float("CRAYFIS_API_KEY_CACHE_S", 5.0)
# Read API: page size default and cap, NDJSON stream batch and cap on rows per stream.
CRAYFIS_API_PAGE_SIZE = env_int("CRAYFIS_API_PAGE_SIZE", 500)
CRAYFIS_API_PAGE_MAX = env_int("CRAYFIS_API_PAGE_MAX", 5_000)
CRAYFIS_API_STREAM_BATCH = env_int("CRAYFIS_API_STREAM_BATCH", 5_000)
CRAYFIS_API_STREAM_MAX_ROWS = env_int("CRAYFIS_API_STREAM_MAX_ROWS", 10_000_000)

# --- Continuous search (search/ app: manage.py search_continuously) ------------------------------
INSTALLED_APPS += ["search"]
# Coincidence parameters (docs/coincidence.md): window tau (ms), radius R (m), k distinct devices.
# Changing any of them makes the next pass re-search everything (the old candidates are
# reconciled against the new definition, unsupported ones retracted).
CRAYFIS_SEARCH_WINDOW_MS = env_int("CRAYFIS_SEARCH_WINDOW_MS", 30)
CRAYFIS_SEARCH_RADIUS_M = env_float("CRAYFIS_SEARCH_RADIUS_M", 150.0)
CRAYFIS_SEARCH_MIN_DEVICES = env_int("CRAYFIS_SEARCH_MIN_DEVICES", 7)
# Seconds between passes (a pass starts at once when the previous one overran).
CRAYFIS_SEARCH_EVERY_S = env_float("CRAYFIS_SEARCH_EVERY_S", 60.0)
# A group of hit ranges holding more hits than this goes to the Spark job instead of the
# in-process kernel; the command that starts it (argv, shell-split; empty = this Python
# with -m spark_jobs.coincidence), its --master (empty = spark-submit's) and its time limit.
CRAYFIS_SEARCH_SPARK_THRESHOLD_HITS = env_int("CRAYFIS_SEARCH_SPARK_THRESHOLD_HITS", 2_000_000)
CRAYFIS_SEARCH_SPARK_COMMAND = env_str("CRAYFIS_SEARCH_SPARK_COMMAND", "")
CRAYFIS_SEARCH_SPARK_MASTER = env_str("CRAYFIS_SEARCH_SPARK_MASTER", "local[2]")
CRAYFIS_SEARCH_SPARK_TIMEOUT_S = env_float("CRAYFIS_SEARCH_SPARK_TIMEOUT_S", 3600.0)
# Hits read per Elasticsearch page (point-in-time + search_after).
CRAYFIS_SEARCH_PAGE_SIZE = env_int("CRAYFIS_SEARCH_PAGE_SIZE", 10_000)
# Touched buckets are looked for from this long before the newest stamp already handled (an
# indexer stamps a bucket with a time taken before its transaction commits).
CRAYFIS_SEARCH_TOUCH_SLACK_MS = env_int("CRAYFIS_SEARCH_TOUCH_SLACK_MS", 15 * 60_000)
# One search process writes candidates at a time: it holds this lease and renews it every pass.
CRAYFIS_SEARCH_LEASE_S = env_float("CRAYFIS_SEARCH_LEASE_S", 600.0)
# Significance: a candidate is scored against the background of every hit in a span this long
# around it (device rates from their observed spans there; longer = steadier, slower passes).
CRAYFIS_SEARCH_RATE_SPAN_MS = env_int("CRAYFIS_SEARCH_RATE_SPAN_MS", 120_000)
# Alerts: a candidate whose false-alarm rate per year falls below the threshold is announced
# once (webhook POST of JSON and/or an email), retried with capped exponential backoff.
CRAYFIS_ALERT_FAR_PER_YEAR = env_float("CRAYFIS_ALERT_FAR_PER_YEAR", 1.0)
CRAYFIS_ALERT_WEBHOOK_URL = env_str("CRAYFIS_ALERT_WEBHOOK_URL", "")
CRAYFIS_ALERT_EMAILS = env_list("CRAYFIS_ALERT_EMAILS", [])
CRAYFIS_ALERT_FROM_EMAIL = env_str("CRAYFIS_ALERT_FROM_EMAIL", "crayfis-alerts@localhost")
CRAYFIS_ALERT_TIMEOUT_S = env_float("CRAYFIS_ALERT_TIMEOUT_S", 10.0)
CRAYFIS_ALERT_MAX_ATTEMPTS = env_int("CRAYFIS_ALERT_MAX_ATTEMPTS", 12)
CRAYFIS_ALERT_RETRY_MIN_S = env_float("CRAYFIS_ALERT_RETRY_MIN_S", 30.0)
CRAYFIS_ALERT_RETRY_MAX_S = env_float("CRAYFIS_ALERT_RETRY_MAX_S", 3600.0)
LOGGING["loggers"]["search"] = {"handlers": ["console"], "level": env_str("CRAYFIS_LOG_LEVEL", "INFO")}

"""Django settings, read from environment variables with embedded one-machine defaults.

Defaults run everything on this machine (SQLite under var/, the embedded Elasticsearch node);
production sets DATABASE_URL, CRAYFIS_ES_URL, SECRET_KEY and ALLOWED_HOSTS. Every limit is a
named setting so operators can find and tune it.
"""
from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CRAYFIS_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("CRAYFIS_DEBUG", False)


def _secret_key() -> str:
    """SECRET_KEY from the environment; in DEBUG a generated key kept in var/ (stable pseudonyms).

    Outside DEBUG an unset key stays empty, so commands that need no secret (`manage.py esnode`)
    still run. It is required where it is used: Django refuses an empty SECRET_KEY wherever it
    signs (sessions, CSRF, messages), and the ops.E001 system check stops every other command
    (runserver, migrate, index_uploads, search_continuously, check) before it starts.
    """
    key = env_str("SECRET_KEY", "")
    if key or not DEBUG:
        return key
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
    "axes",                        # log-in lockout (accounts section below)
    "csp",                         # Content-Security-Policy header (security section below)
    "ops",
    "ingest",
    "indexer",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",   # last, as django-axes requires
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
# Server-side time limit of every search the web tier sends (pages, /api/dash/, the read API):
# the node stops collecting then, not only this client waiting. Dashboards show what was found,
# marked "partial"; the read API answers 503 rather than a page with rows missing. Keep it below
# CRAYFIS_ES_TIMEOUT_S, so the node gives up before the client does.
CRAYFIS_ES_SEARCH_TIMEOUT_S = env_float("CRAYFIS_ES_SEARCH_TIMEOUT_S", 5.0)
CRAYFIS_ES_HEAP = env_str("CRAYFIS_ES_HEAP", "1g")

# --- Privacy ---------------------------------------------------------------------------------
# Key of the HMAC that turns a phone's Device-id into its public pseudonym. Changing it renames
# every device in the index, so production sets it once and keeps it. Required outside DEBUG
# (ops.E002 stops every command without it): derived from SECRET_KEY, whoever learned one would
# know both, and rotating SECRET_KEY would silently rename every device. In DEBUG an unset key
# is derived from the development SECRET_KEY.
CRAYFIS_PSEUDONYM_KEY = env_str("CRAYFIS_PSEUDONYM_KEY", "") or (f"pseudonym:{SECRET_KEY}" if DEBUG else "")

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
# The event-time window (docs/security.md, "Abuse limits at the door"): an upload with an event,
# exposure block or calibration dated more than MAX_EVENT_AGE_S before its receive time or more
# than MAX_EVENT_LEAD_S after it, or whose documents would go to more than MAX_MONTHS_PER_UPLOAD
# monthly indices, is quarantined by the indexer with the reason (the phone still got its 202).
# Late data is legitimate: `manage.py release_quarantine <id>...` (or the admin action) indexes it.
CRAYFIS_INGEST_MAX_EVENT_AGE_S = env_int("CRAYFIS_INGEST_MAX_EVENT_AGE_S", 30 * 86_400)
CRAYFIS_INGEST_MAX_EVENT_LEAD_S = env_int("CRAYFIS_INGEST_MAX_EVENT_LEAD_S", 86_400)
CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD = env_int("CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD", 2)
# /submit rates per client address and per Device-id (DRF's "N/s|min|hour|day"; "" = no limit):
# above them 429 with Retry-After, and the app keeps its file for its next flush. Per device it
# must pass a phone's flush (every cached file, one every 200 ms, after days offline); per address
# a school's or a carrier's NAT full of phones (each about one upload every nine minutes).
CRAYFIS_INGEST_RATE_PER_IP = env_str("CRAYFIS_INGEST_RATE_PER_IP", "6000/hour")
CRAYFIS_INGEST_RATE_PER_DEVICE = env_str("CRAYFIS_INGEST_RATE_PER_DEVICE", "1200/hour")
# Each worker decides on its own counts and shares them through the throttle cache
# (CRAYFIS_API_THROTTLE_CACHE) this often, in seconds (ingest/rates.py).
CRAYFIS_INGEST_RATE_SYNC_S = env_float("CRAYFIS_INGEST_RATE_SYNC_S", 0.5)

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
# Classify every hit's shape (spot, track, worm, noise: docs/morphology.md) into its document's
# `morphology` field; off only to measure what the classification costs (bench/indexer.py).
CRAYFIS_INDEXER_MORPHOLOGY = env_bool("CRAYFIS_INDEXER_MORPHOLOGY", True)
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
# Requests per client address to the pages and /api/dash/* together (DRF rate "N/s|min|hour|day";
# 429 with Retry-After past it). An open home page polls five endpoints every CRAYFIS_DASH_POLL_S
# (60 a minute at 5 s): the default serves five of them behind one address (a school, a NAT).
CRAYFIS_DASH_RATE = env_str("CRAYFIS_DASH_RATE", "300/min")
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
# Throttle rates (DRF "N/s|min|hour|day"): uploads per device and per client address, reads per
# scientist key, reads per anonymous client address. Counters live in this cache alias (per
# process with the default local-memory cache: set CACHES to a shared cache, e.g. Redis, when
# running several workers); /submit's rates count there too.
CRAYFIS_API_DEVICE_UPLOAD_RATE = env_str("CRAYFIS_API_DEVICE_UPLOAD_RATE", "120/min")
CRAYFIS_API_UPLOAD_RATE_PER_IP = env_str("CRAYFIS_API_UPLOAD_RATE_PER_IP", "600/min")
CRAYFIS_API_SCIENTIST_READ_RATE = env_str("CRAYFIS_API_SCIENTIST_READ_RATE", "600/min")
CRAYFIS_API_ANON_READ_RATE = env_str("CRAYFIS_API_ANON_READ_RATE", "60/min")
CRAYFIS_API_THROTTLE_CACHE = env_str("CRAYFIS_API_THROTTLE_CACHE", "default")
# Per-client rates count by client address: see CRAYFIS_API_NUM_PROXIES (production block).
# A verified API key is trusted this long per worker process (0 = check the database each time):
# revocations and expiries reach other workers within this time.
CRAYFIS_API_KEY_CACHE_S = env_float("CRAYFIS_API_KEY_CACHE_S", 5.0)
# Read API: page size default and cap, NDJSON stream batch and cap on rows per stream (with a
# scientist key; without one, the anonymous cap: 0 = anonymous streams need a key).
CRAYFIS_API_PAGE_SIZE = env_int("CRAYFIS_API_PAGE_SIZE", 500)
CRAYFIS_API_PAGE_MAX = env_int("CRAYFIS_API_PAGE_MAX", 5_000)
CRAYFIS_API_STREAM_BATCH = env_int("CRAYFIS_API_STREAM_BATCH", 5_000)
CRAYFIS_API_STREAM_MAX_ROWS = env_int("CRAYFIS_API_STREAM_MAX_ROWS", 10_000_000)
CRAYFIS_API_ANON_STREAM_MAX_ROWS = env_int("CRAYFIS_API_ANON_STREAM_MAX_ROWS", 10_000)
# Hit streams (format=ndjson|parquet) answer the days the Parquet archive holds completely (sealed,
# nothing staged for them) from CRAYFIS_ARCHIVE_DIR, the rest from Elasticsearch (docs/api.md);
# on by default when there is an archive.
CRAYFIS_API_ARCHIVE_READS = env_bool("CRAYFIS_API_ARCHIVE_READS", bool(CRAYFIS_ARCHIVE_DIR))

# --- Accounts: passwords, sign-up, log-in lockout (accounts/ app; docs/security.md) -------------
# Django's validators: not too like the account's own name and e-mail, at least MIN_LENGTH
# characters, not a common password, not all digits.
CRAYFIS_ACCOUNTS_PASSWORD_MIN_LENGTH = env_int("CRAYFIS_ACCOUNTS_PASSWORD_MIN_LENGTH", 10)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": CRAYFIS_ACCOUNTS_PASSWORD_MIN_LENGTH}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Posts of the sign-up form per client address (DRF rate "N/s|min|hour|day"; 429 past it). Each
# account is an App-code for pairing phones and room for JSON-API detectors; a class signing up
# together behind one school address still fits.
CRAYFIS_ACCOUNTS_SIGNUP_RATE = env_str("CRAYFIS_ACCOUNTS_SIGNUP_RATE", "50/day")
# Log-in lockout (django-axes, /accounts/login/ and /admin/login/): from the FAILURES-th failed
# log-in from one client address on, every log-in from it is refused (429, Retry-After) until it
# has tried none for LOCKOUT_S (a try during the lockout starts the wait again). Counted per
# address, never per account: a per-account lock would let anyone lock a volunteer or the
# operator out. A success does not reset the count (an attacker with an account of his own
# could reset it between guesses).
CRAYFIS_ACCOUNTS_LOGIN_FAILURES = env_int("CRAYFIS_ACCOUNTS_LOGIN_FAILURES", 10)
CRAYFIS_ACCOUNTS_LOGIN_LOCKOUT_S = env_float("CRAYFIS_ACCOUNTS_LOGIN_LOCKOUT_S", 900.0)
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = CRAYFIS_ACCOUNTS_LOGIN_FAILURES
AXES_COOLOFF_TIME = dt.timedelta(seconds=CRAYFIS_ACCOUNTS_LOGIN_LOCKOUT_S)
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "api.throttles.request_address"   # the one client-address rule
AXES_LOCKOUT_CALLABLE = "accounts.lockout.locked_out"
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True   # failures are kept (for the lockout); every log-in's address is not

# --- Security headers (every response) ------------------------------------------------------------
# Content-Security-Policy (django-csp): every script is a static file of this site (no inline
# script, no eval), so an injected script does not run. Styles may be inline: plotly sets the
# styles of what it draws, and a stylesheet cannot run code. Nothing is loaded from or posted to
# another origin, and no other site may frame these pages.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Data quality, owner pages, owner notifications (quality/, accounts/; docs/volunteers.md) ------
INSTALLED_APPS += ["quality"]
# A phone is judged on its uploads received in the last WINDOW_H hours; the rate rule needs
# MIN_LIVE_H live hours there. Flags (crayfis/quality.py): hits per live hour above HOT_FACTOR
# times the network's median; the app's darkness check refusing more than MAX_QUALITY_FAIL of
# the frames, or frames brighter than COVERED_MAX_MEAN (the app's own facedown cut) or noisier
# than COVERED_MAX_STD (a covered sensor's dark noise is a few units); more than MAX_NO_FIX of
# the exposure blocks without a position, or fixes worse than MAX_GPS_ACCURACY_M on average;
# events dated more than MAX_CLOCK_LEAD_S after their upload arrived; exposure blocks of
# MIN_BLOCK_S or less on average (the app's are 180 s); data more than CALIBRATION_MAX_AGE_H
# after the phone's last calibration.
CRAYFIS_QUALITY_WINDOW_H = env_float("CRAYFIS_QUALITY_WINDOW_H", 24.0)
CRAYFIS_QUALITY_MIN_LIVE_H = env_float("CRAYFIS_QUALITY_MIN_LIVE_H", 0.5)
CRAYFIS_QUALITY_HOT_FACTOR = env_float("CRAYFIS_QUALITY_HOT_FACTOR", 2.5)
CRAYFIS_QUALITY_MAX_QUALITY_FAIL = env_float("CRAYFIS_QUALITY_MAX_QUALITY_FAIL", 0.5)
CRAYFIS_QUALITY_COVERED_MAX_MEAN = env_float("CRAYFIS_QUALITY_COVERED_MAX_MEAN", 10.0)
CRAYFIS_QUALITY_COVERED_MAX_STD = env_float("CRAYFIS_QUALITY_COVERED_MAX_STD", 5.0)
CRAYFIS_QUALITY_MAX_NO_FIX = env_float("CRAYFIS_QUALITY_MAX_NO_FIX", 0.5)
CRAYFIS_QUALITY_MAX_GPS_ACCURACY_M = env_float("CRAYFIS_QUALITY_MAX_GPS_ACCURACY_M", 100.0)
CRAYFIS_QUALITY_MAX_CLOCK_LEAD_S = env_float("CRAYFIS_QUALITY_MAX_CLOCK_LEAD_S", 60.0)
CRAYFIS_QUALITY_MIN_BLOCK_S = env_float("CRAYFIS_QUALITY_MIN_BLOCK_S", 60.0)
CRAYFIS_QUALITY_CALIBRATION_MAX_AGE_H = env_float("CRAYFIS_QUALITY_CALIBRATION_MAX_AGE_H", 48.0)
# The worker (manage.py notify_owners) summarizes new uploads BATCH at a time and re-evaluates
# every device's flags (the admin's) every REFRESH_S; an owner's page summarizes at most
# PAGE_SUMMARIES of the phone's uploads the worker has not reached yet, per view.
CRAYFIS_QUALITY_BATCH = env_int("CRAYFIS_QUALITY_BATCH", 200)
CRAYFIS_QUALITY_REFRESH_S = env_float("CRAYFIS_QUALITY_REFRESH_S", 600.0)
CRAYFIS_QUALITY_PAGE_SUMMARIES = env_int("CRAYFIS_QUALITY_PAGE_SUMMARIES", 500)
# Owner pages (/accounts/phones/): uploads per page of the upload list, events per gallery page.
CRAYFIS_OWNER_UPLOADS_PAGE = env_int("CRAYFIS_OWNER_UPLOADS_PAGE", 50)
CRAYFIS_OWNER_GALLERY_PAGE = env_int("CRAYFIS_OWNER_GALLERY_PAGE", 24)
# Owner notifications (opt-in per account): an e-mail when a phone that was sending goes
# SILENT_HOURS without an upload carrying the owner's code, or gets a new flag; at most one
# per phone per day (UTC), sent by the worker every POLL_S from FROM_EMAIL, links under
# BASE_URL (the site as the owner reaches it), retried with capped exponential backoff
# (RETRY_MIN_S doubling up to RETRY_MAX_S) until MAX_ATTEMPTS.
CRAYFIS_NOTIFY_SILENT_HOURS = env_float("CRAYFIS_NOTIFY_SILENT_HOURS", 24.0)
CRAYFIS_NOTIFY_FROM_EMAIL = env_str("CRAYFIS_NOTIFY_FROM_EMAIL", "crayfis-phones@localhost")
CRAYFIS_NOTIFY_BASE_URL = env_str("CRAYFIS_NOTIFY_BASE_URL", "http://127.0.0.1:8000")
CRAYFIS_NOTIFY_POLL_S = env_float("CRAYFIS_NOTIFY_POLL_S", 60.0)
CRAYFIS_NOTIFY_MAX_ATTEMPTS = env_int("CRAYFIS_NOTIFY_MAX_ATTEMPTS", 8)
CRAYFIS_NOTIFY_RETRY_MIN_S = env_float("CRAYFIS_NOTIFY_RETRY_MIN_S", 60.0)
CRAYFIS_NOTIFY_RETRY_MAX_S = env_float("CRAYFIS_NOTIFY_RETRY_MAX_S", 3600.0)

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
# Alerts: a public candidate whose false-alarm rate per year falls below the threshold is
# queued once, in the transaction that marks its buckets searched, and delivered by
# `manage.py deliver_alerts` (webhook POST of JSON and/or an email), retried with capped
# exponential backoff up to the attempt limit. The webhook must be https (redirects are failures);
# each POST carries X-Crayfis-Signature: sha256=<HMAC-SHA256 of the body under the secret>
# (unsigned without a secret; `manage.py check` warns). CRAYFIS_ALERT_TIMEOUT_S bounds a webhook
# POST; EMAIL_TIMEOUT (below) bounds every SMTP operation; the worker polls every POLL_S.
CRAYFIS_ALERT_FAR_PER_YEAR = env_float("CRAYFIS_ALERT_FAR_PER_YEAR", 1.0)
CRAYFIS_ALERT_WEBHOOK_URL = env_str("CRAYFIS_ALERT_WEBHOOK_URL", "")
CRAYFIS_ALERT_WEBHOOK_SECRET = env_str("CRAYFIS_ALERT_WEBHOOK_SECRET", "")
CRAYFIS_ALERT_EMAILS = env_list("CRAYFIS_ALERT_EMAILS", [])
CRAYFIS_ALERT_FROM_EMAIL = env_str("CRAYFIS_ALERT_FROM_EMAIL", "crayfis-alerts@localhost")
CRAYFIS_ALERT_TIMEOUT_S = env_float("CRAYFIS_ALERT_TIMEOUT_S", 10.0)
CRAYFIS_ALERT_MAX_ATTEMPTS = env_int("CRAYFIS_ALERT_MAX_ATTEMPTS", 12)
CRAYFIS_ALERT_RETRY_MIN_S = env_float("CRAYFIS_ALERT_RETRY_MIN_S", 30.0)
CRAYFIS_ALERT_RETRY_MAX_S = env_float("CRAYFIS_ALERT_RETRY_MAX_S", 3600.0)
CRAYFIS_ALERT_POLL_S = env_float("CRAYFIS_ALERT_POLL_S", 10.0)
# Seconds any SMTP connect, read or write may take (Django's own setting; unset, a mail server
# that never answers would hold the alert worker forever).
EMAIL_TIMEOUT = env_float("CRAYFIS_EMAIL_TIMEOUT_S", 10.0)
# The SMTP server of every e-mail the site sends (alerts, the owners' notices): Django's own
# settings, read from the environment under their own names.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)

# --- Trust (docs/security.md) ---------------------------------------------------------------------
# A candidate is public (pages, anonymous API, public counts, alerts) only with at least k
# (CRAYFIS_SEARCH_MIN_DEVICES) trusted members. A device is trusted by operator approval
# (manage.py trust_device) or by history: paired to one account, whose uploads from it arrived
# on at least MIN_DAYS distinct days (server receive time, UTC) spanning at least MIN_SPAN_DAYS,
# all from one public cell, none quarantined.
CRAYFIS_TRUST_MIN_DAYS = env_int("CRAYFIS_TRUST_MIN_DAYS", 7)
CRAYFIS_TRUST_MIN_SPAN_DAYS = env_int("CRAYFIS_TRUST_MIN_SPAN_DAYS", 14)
LOGGING["loggers"]["search"] = {"handlers": ["console"], "level": env_str("CRAYFIS_LOG_LEVEL", "INFO")}

# --- Production deployment (make prod-check, deploy/, docs/deploy.md) ---------------------------
# Behind a TLS proxy (deploy/nginx-crayfis.conf) the app server sees plain http. With this on,
# the site is served over https only: Django trusts the proxy's X-Forwarded-Proto to tell which
# requests came over https (turn it on only when the proxy always sets that header and nothing
# else can reach the app server), redirects anything else to https (but /healthz, which load
# balancers may probe on the app server itself), tells browsers to use https only (HSTS, below),
# and sends session and CSRF cookies over https only. `manage.py check --deploy` is clean then.
CRAYFIS_TLS_PROXY = env_bool("CRAYFIS_TLS_PROXY", False)
# HSTS: seconds browsers remember to use https only (0 = no header), whether that covers the
# site's own subdomains, and the token that allows a submission to the browsers' preload list
# (the token alone commits nothing: someone must submit the domain).
CRAYFIS_HSTS_SECONDS = env_int("CRAYFIS_HSTS_SECONDS", 31_536_000)
CRAYFIS_HSTS_INCLUDE_SUBDOMAINS = env_bool("CRAYFIS_HSTS_INCLUDE_SUBDOMAINS", True)
CRAYFIS_HSTS_PRELOAD = env_bool("CRAYFIS_HSTS_PRELOAD", True)
if CRAYFIS_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = CRAYFIS_HSTS_SECONDS
    SECURE_HSTS_INCLUDE_SUBDOMAINS = CRAYFIS_HSTS_INCLUDE_SUBDOMAINS
    SECURE_HSTS_PRELOAD = CRAYFIS_HSTS_PRELOAD
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# Every per-client limit (API reads, /api/dash/, sign-up, log-in lockout, /submit) counts by
# client address: the socket's, or with N trusted proxies in front, the N-th address from the
# end of X-Forwarded-For, the one the outermost proxy saw (DRF's NUM_PROXIES). 1 behind the TLS
# proxy, else 0 (the header is then ignored, so it cannot be spoofed); one more for each further
# proxy in front of it.
CRAYFIS_API_NUM_PROXIES = env_int("CRAYFIS_API_NUM_PROXIES", 1 if CRAYFIS_TLS_PROXY else 0)
REST_FRAMEWORK["NUM_PROXIES"] = CRAYFIS_API_NUM_PROXIES  # ingest/addresses.py applies the same rule
# Origins (scheme://host[:port], comma-separated) whose browser forms pass the CSRF origin check
# besides the request's own host, e.g. https://daq.example.org when the proxy rewrites Host.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The cache every worker process and web host shares (API throttle counters, dashboard answers):
# a Redis URL such as redis://127.0.0.1:6379/0 (needs the `redis` package: pip install ".[prod]");
# empty = Django's per-process local-memory cache, right for one process only.
CRAYFIS_CACHE_URL = env_str("CRAYFIS_CACHE_URL", "")
if CRAYFIS_CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": CRAYFIS_CACHE_URL}}

"""The one settings module. Configured only from the environment (README: Configuration).

With no environment at all it boots in a development-safe mode: SQLite under var/, an embedded
filesystem broker for Celery, mail written to files under var/. `DEBUG=0` is production mode,
which refuses to start without SECRET_KEY and a real DATABASE_URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


DEBUG = env_bool("DEBUG", default=False)
PRODUCTION = not DEBUG

_DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY")
DATABASE_URL = env_str("DATABASE_URL")
if PRODUCTION:
    missing = [n for n, v in (("SECRET_KEY", SECRET_KEY), ("DATABASE_URL", DATABASE_URL)) if not v]
    if missing:
        raise ImproperlyConfigured(
            f"Production mode (DEBUG=0) refuses to start without {', '.join(missing)}. "
            "Set them, or set DEBUG=1 for a development run."
        )
    if DATABASE_URL.startswith("sqlite"):
        raise ImproperlyConfigured(
            "Production mode (DEBUG=0) needs a real DATABASE_URL (PostgreSQL), not SQLite."
        )
SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if not PRODUCTION else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal.web",
    "portal.accounts",
    "portal.audit",
    "portal.inventory",
    "alerts",
    "suppression",
    "notifications",
    "pricing",
    "accesslogs",
    "feedback",
    "triage",
    "sync",
    "portal.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "portal.accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.web.context_processors.chrome",
            ],
            "builtins": [
                "template_partials.templatetags.partials",
                "portal.web.templatetags.pending",
                "portal.web.templatetags.when",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------------------------
_sqlite_default = f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL or _sqlite_default, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let web, worker and beat write concurrently without "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }
    # A file (not :memory:) so that a real Celery worker process can share the test database.
    # (pytest-django adds each xdist worker's suffix to it)
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, sessions, auth ------------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "portal"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env_str("CACHE_DIR", str(VAR_DIR / "cache")),
            # the sign-in throttle keeps its counters here: Django's default of 300 entries, culled at random,
            # let a spray of usernames evict them (Redis, with REDIS_URL, has no such limit)
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if env_list("PASSWORD_HASHERS"):  # the test run's fast hasher (portal/testing/env.py); unset in a deployment
    PASSWORD_HASHERS = env_list("PASSWORD_HASHERS")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "login"
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)
LOGIN_ACCOUNT_FAILURE_LIMIT = env_int("LOGIN_ACCOUNT_FAILURE_LIMIT", 10)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 100)
LOGIN_BACKOFF_MAX_SECONDS = env_int("LOGIN_BACKOFF_MAX_SECONDS", 300)
LOGIN_DEVICE_COOKIE_AGE = env_int("LOGIN_DEVICE_COOKIE_AGE", 365 * 86400)
TRUSTED_PROXY_HEADER = env_str("TRUSTED_PROXY_HEADER")
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Security headers -----------------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# No inline script, no inline style, nothing from another origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# --- I18n / time ----------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
FORMAT_MODULE_PATH = ["portal.formats"]  # one date-time format: "2 Dec 2026, 13:27 UTC" (admin included)

# --- Static files ---------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Email ----------------------------------------------------------------------------------------------------


def _email_from_url(url: str) -> dict[str, object]:
    """EMAIL_URL: smtp://user:pass@host:25, smtp+tls://... (STARTTLS), smtps://... (implicit TLS), file:///dir, console://."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme == "file":
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": parts.path,
        }
    if scheme not in {"smtp", "smtp+tls", "smtps", "submission"}:
        raise ImproperlyConfigured(
            f"EMAIL_URL scheme {scheme!r} is not supported (smtp, smtp+tls, smtps, file, console)"
        )
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port
        or (465 if scheme == "smtps" else 587 if scheme in {"smtp+tls", "submission"} else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": scheme in {"smtp+tls", "submission"},
        "EMAIL_USE_SSL": scheme == "smtps",
    }


EMAIL_URL = env_str("EMAIL_URL")
EMAIL_FILE_DIR = VAR_DIR / "mail"
if EMAIL_URL:
    globals().update(_email_from_url(EMAIL_URL))
elif env_str("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(EMAIL_FILE_DIR)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Defender for Key Vault console <kv-console@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---------------------------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, str | int]
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # kombu's filesystem transport: an embedded broker that needs no server.
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    (BROKER_DIR / "processed").mkdir(exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(
            BROKER_DIR / "control"
        ),  # kombu's default is ./control, in the working directory
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'celery-results'}"
    (VAR_DIR / "celery-results").mkdir(exist_ok=True)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_DEFAULT_QUEUE", "celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 1800)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 2000)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = False  # opted in per task, only where a task is safe to repeat

# --- Azure ----------------------------------------------------------------------------------------------------
SYNC_INTERVAL_SECONDS = env_int("SYNC_INTERVAL_SECONDS", 300)
# Azure Resource Graph decides which subscriptions a round lists, for a connection that sees more subscriptions
# than the threshold (0: never); every subscription is still listed in full at least every FULL_LISTING_SECONDS.
RESOURCE_GRAPH_THRESHOLD = env_int("RESOURCE_GRAPH_THRESHOLD", 50)
RESOURCE_GRAPH_GROUP_SIZE = env_int(
    "RESOURCE_GRAPH_GROUP_SIZE", 100
)  # subscriptions per query (advised < 300)
RESOURCE_GRAPH_SKEW_SECONDS = env_int("RESOURCE_GRAPH_SKEW_SECONDS", 120)  # clock skew allowed for new alerts
FULL_LISTING_SECONDS = env_int("FULL_LISTING_SECONDS", 3600)
# Workers take from one bucket per principal (in Redis) before each Resource Graph query, fed by its quota headers;
# off, each worker asks as it pleases and a 429 falls back to listing everything (a comparison for the benchmarks).
RESOURCE_GRAPH_SHARED_BUDGET = env_bool("RESOURCE_GRAPH_SHARED_BUDGET", True)
NOTIFY_DUE_SECONDS = env_int("NOTIFY_DUE_SECONDS", 60)  # how often digests and retries are looked at
NOTIFY_STUCK_SECONDS = env_int("NOTIFY_STUCK_SECONDS", 300)  # a mail claimed but not sent by then: sent again
STALE_PUSH_SECONDS = env_int(
    "STALE_PUSH_SECONDS", 300
)  # pending write-backs older than this are queued again
WORKER_ALIVE_SECONDS = env_int("WORKER_ALIVE_SECONDS", 15)  # how often beat asks the worker to touch its file
# Access logs (issue 24): how often collecting vaults' AuditEvent blobs are read; the detector's address lists (one
# address per line, accesslogs/lists/README.md; the shipped samples by default) and learning period (days, 0-14).
ACCESS_LOGS_POLL_SECONDS = env_int("ACCESS_LOGS_POLL_SECONDS", 60)
ACCESS_LOGS_TOR_LIST = env_str("ACCESS_LOGS_TOR_LIST")
ACCESS_LOGS_SUSPICIOUS_LIST = env_str("ACCESS_LOGS_SUSPICIOUS_LIST")
ACCESS_LOGS_LEARNING_DAYS = env_int("ACCESS_LOGS_LEARNING_DAYS", 7)
# Set by the emulator when it runs without Azurite (no Node.js): the Security page says why collection is off.
ACCESS_LOGS_UNAVAILABLE = env_str("ACCESS_LOGS_UNAVAILABLE")
# Every schedule of the project, in one place.
CELERY_BEAT_SCHEDULE = {
    "sync-all-subscriptions": {
        "task": "portal.inventory.tasks.sync_all",
        "schedule": float(SYNC_INTERVAL_SECONDS),
    },
    "expire-suppression-rules": {"task": "alerts.expire_rules", "schedule": 300.0},
    "requeue-stale-work": {
        "task": "portal.requeue_stale",
        "schedule": float(max(10, STALE_PUSH_SECONDS // 2)),
    },
    "retention-purge": {"task": "triage.retention_purge", "schedule": 86400.0},
    "worker-alive": {"task": "portal.worker_alive", "schedule": float(WORKER_ALIVE_SECONDS)},
    "send-due-notifications": {
        "task": "alerts.send_due_notifications",
        "schedule": float(NOTIFY_DUE_SECONDS),
    },
    "poll-access-logs": {"task": "accesslogs.poll_all", "schedule": float(ACCESS_LOGS_POLL_SECONDS)},
}
AZURE_ARM_ENDPOINT = env_str("AZURE_ARM_ENDPOINT", "https://management.azure.com").rstrip("/")
AZURE_AUTHORITY_HOST = env_str("AZURE_AUTHORITY_HOST")
AZURE_TENANT_ID = env_str("AZURE_TENANT_ID")
AZURE_CLIENT_ID = env_str("AZURE_CLIENT_ID")
AZURE_SUBSCRIPTION_IDS = [s.lower() for s in env_list("AZURE_SUBSCRIPTION_IDS")]
FEEDBACK_SUGGESTION_THRESHOLD = env_int("FEEDBACK_SUGGESTION_THRESHOLD", 3)  # "not useful" answers -> a rule
RETENTION_CLOSED_DAYS = env_int("RETENTION_CLOSED_DAYS", 0)  # 0: keep history forever
# Optional single sign-on with Microsoft Entra ID (on when the tenant and client id are set).
OIDC_TENANT_ID = env_str("OIDC_TENANT_ID")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")
OIDC_AUTHORITY = env_str("OIDC_AUTHORITY", "https://login.microsoftonline.com")
OIDC_CREATE_USERS = env_bool("OIDC_CREATE_USERS", default=False)
LIVE_POLL_SECONDS = env_int("LIVE_POLL_SECONDS", 15)  # how often the alert list asks for new alerts
SYNC_LEASE_SECONDS = env_int("SYNC_LEASE_SECONDS", 300)  # a crashed worker's lease expires after this
SYNC_BATCH_ALERTS = env_int("SYNC_BATCH_ALERTS", 1000)  # alerts stored per transaction (whole pages)
ARM_RETRY_TOTAL = env_int("ARM_RETRY_TOTAL", 4)
ARM_RETRY_BACKOFF = float(env_str("ARM_RETRY_BACKOFF", "0.8"))
# Status write-back: at most this many ARM writes per second per subscription (ARM allows about 10).
ARM_WRITES_PER_SECOND = env_int("ARM_WRITES_PER_SECOND", 8)
EMULATOR_CONTROL_URL = env_str("EMULATOR_CONTROL_URL")
EMULATOR_CONTROL_TOKEN = env_str("EMULATOR_CONTROL_TOKEN")
# Key for secrets stored in the database (Fernet keys, comma-separated for rotation; first one encrypts).
# Default: derived from SECRET_KEY.
ENCRYPTION_KEYS = env_list("ENCRYPTION_KEYS")
# Private networks webhooks may post to (CIDRs). Link-local addresses (cloud metadata) are refused regardless.
WEBHOOK_PRIVATE_NETWORKS = env_list("WEBHOOK_PRIVATE_NETWORKS", "" if PRODUCTION else "127.0.0.0/8,::1/128")
try:
    for _net in WEBHOOK_PRIVATE_NETWORKS:
        __import__("ipaddress").ip_network(_net, strict=False)
except ValueError as exc:
    raise ImproperlyConfigured(f"WEBHOOK_PRIVATE_NETWORKS: {exc}") from exc

# --- REST framework -------------------------------------------------------------------------------------------
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "600/min")  # per token (or signed-in user); 429 with Retry-After
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["portal.api.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["portal.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": API_RATE_LIMIT},
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.NewestFirst",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.errors.handle",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Defender for Key Vault console API",
    "DESCRIPTION": "Everything an analyst does in the pages, with the same permissions. Authenticate with "
    '`Authorization: Bearer <token>` (Preferences → API tokens). Errors: `{"error": {status, code, message, '
    "fields}}`. POSTs that clients retry honour an `Idempotency-Key` header.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {},
}

# --- Logging --------------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "azure": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
    },
}

"""Settings of the demo project, driven by the environment.

With no environment at all it runs on SQLite (the embedded default). ``DATABASE_URL``
switches the store to PostgreSQL, e.g. ``postgres://postgres@127.0.0.1:5432/opsmessaging``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "demo-only-insecure-key-set-DJANGO_SECRET_KEY"
)
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_celery_beat",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "opsmessaging",
    "project",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "opsmessaging.capture.middleware.OpsMessagingMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

# The channel layer: Redis (pub/sub layer, see README "Channel layer") when REDIS_URL is
# set, else the in-process layer of the embedded default.
REDIS_URL = os.environ.get("REDIS_URL", "")
# Redis pub/sub channels are server-wide: database numbers do not separate them. So the
# prefix names the database too, and two deployments on one Redis server never receive
# each other's messages (whose sequences would stand in for their own).
CHANNEL_LAYER_PREFIX = os.environ.get("CHANNEL_LAYER_PREFIX") or "opsmessaging-db" + (
    urlparse(REDIS_URL).path.strip("/") or "0"
)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNEL_LAYER_PREFIX},
    }
    if REDIS_URL
    else {
        "BACKEND": "channels.layers.InMemoryChannelLayer",
        "CONFIG": {"capacity": 10_000},
    }
}

_SQLITE = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
    "OPTIONS": {
        # WAL with synchronous=FULL keeps every committed message on disk; IMMEDIATE
        # transactions take the write lock up front so concurrent writers queue, not fail.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    },
    "TEST": {
        "NAME": os.environ.get("SQLITE_TEST_PATH", str(BASE_DIR / "test-db.sqlite3"))
    },
}


def _prepare_threshold(value: str) -> int | None:
    return None if value.strip().lower() in ("", "none", "off") else int(value)


DATABASES = {
    "default": dj_database_url.parse(os.environ["DATABASE_URL"])
    if os.environ.get("DATABASE_URL")
    else _SQLITE
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Seconds to wait for the server: an unreachable database fails (and broadcasts
    # spool) promptly instead of after the operating system's TCP timeout.
    _options: dict[str, Any] = {
        "connect_timeout": 5,
        # psycopg prepares a statement run this many times on a connection (Django turns
        # it off by default for transaction-mode poolers): the store's INSERTs then skip
        # parsing and planning. DATABASE_PREPARE_THRESHOLD=none turns it off (PgBouncer
        # in transaction mode before 1.21).
        "prepare_threshold": _prepare_threshold(
            os.environ.get("DATABASE_PREPARE_THRESHOLD", "5")
        ),
        **DATABASES["default"].get("OPTIONS", {}),  # type: ignore[dict-item]
    }
    # No persistent connections (Django's default): under ASGI each request and WebSocket
    # call may run in a thread of its own, and a connection kept per thread piles up until
    # PostgreSQL refuses clients (seen under load). DATABASE_POOL_SIZE turns on a pool per
    # process instead, Django's advice for ASGI servers (psycopg-pool).
    if os.environ.get("DATABASE_POOL_SIZE"):
        _options["pool"] = {
            "min_size": 2,
            "max_size": int(os.environ["DATABASE_POOL_SIZE"]),
            "timeout": 10,
        }
    DATABASES["default"]["OPTIONS"] = _options

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "admin:login"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


OPSMESSAGING = {
    "PUBSUB_INTEGRATION": os.environ.get("OPSMESSAGING_PUBSUB_INTEGRATION", "1") == "1",
    "HEALTH_BROADCAST_INTERVAL": _env_int(
        "OPSMESSAGING_HEALTH_BROADCAST_INTERVAL", 30_000
    ),
    "METRICS_BROADCAST_INTERVAL": _env_int(
        "OPSMESSAGING_METRICS_BROADCAST_INTERVAL", 60_000
    ),
    "NODE_NAME": os.environ.get("OPSMESSAGING_NODE_NAME") or None,
    "SYSTEM_NAME": "opsmessaging_demo",
    "SYSTEM_VERSION": "0.1.0",
    # Where broadcasts wait while the database is unreachable (unset: no spool).
    "SPOOL_DIR": os.environ.get("OPSMESSAGING_SPOOL_DIR") or None,
    # The tests start no heartbeat by themselves (DEMO_BACKGROUND_THREADS=0), unless asked.
    "HEARTBEAT_AUTOSTART": os.environ.get(
        "OPSMESSAGING_HEARTBEAT_AUTOSTART",
        os.environ.get("DEMO_BACKGROUND_THREADS", "1"),
    )
    == "1",
}
# Node membership, probe, WebSocket store-check and event-stream timing, when given (else
# the app's defaults).
OPSMESSAGING.update(
    {
        key: int(os.environ[f"OPSMESSAGING_{key}"])
        for key in (
            "HEARTBEAT_INTERVAL",
            "NODE_FAILURE_THRESHOLD",
            "HEALTH_PROBE_TIMEOUT",
            "HEALTH_PROBE_SLOW",
            "WS_POLL_INTERVAL",
            "SSE_POLL_INTERVAL",
            "SSE_RETRY",
            "SSE_MAX_DURATION",
        )
        if os.environ.get(f"OPSMESSAGING_{key}")
    }
)

# Celery (project/celery.py): Redis when REDIS_URL (or CELERY_BROKER_URL) is set, else the
# in-memory broker of the embedded default, whose worker and beat run inside the server.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"polling_interval": 0.1}
    if CELERY_BROKER_URL.startswith("memory://")
    # A worker killed mid-task leaves its message unacknowledged (the opsmessaging tasks
    # are acks_late): Redis gives it back after visibility_timeout, looked for every
    # unacked_restore_interval s. Shorter than the health interval (30 s) the interrupted
    # period still runs; longer than the longest task, or it runs twice (the claim then
    # skips the second).
    else {
        "visibility_timeout": 20,
        "unacked_restore_interval": 5,
        "unacked_restore_throttle": 1,
    }
)
# A killed worker holds back only the messages it was running, not prefetched ones.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = os.environ.get(
    "CELERY_BEAT_SCHEDULER", "celery.beat:PersistentScheduler"
)

# The HTTP API (opsmessaging.api): token first, so that an anonymous request gets a 401
# with ``WWW-Authenticate: Token``; the browser's session works too.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Authentication failures and throttling become security AccessViolation messages.
    "EXCEPTION_HANDLER": "opsmessaging.capture.drf.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "opsmessaging API",
    "DESCRIPTION": "Operational messages: history, broadcasting, the payload catalogue "
    "and the compatibility status. Authenticate with a session or "
    "`Authorization: Token <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "PayloadTypeEnum": "opsmessaging.api.serializers.PAYLOAD_TYPE_NAMES",
        "SeverityEnum": "opsmessaging.api.filters.SEVERITY_LABELS",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        # Warnings and errors of every logger become `logging` messages.
        "opsmessaging": {"class": "opsmessaging.capture.logging.OpsMessagingHandler"},
    },
    # Console for people (and Celery's own output), opsmessaging for the store: the handler
    # keeps only records at or above OPSMESSAGING["LOG_CAPTURE_LEVEL"].
    "root": {"handlers": ["console", "opsmessaging"], "level": "INFO"},
    "loggers": {
        "opsmessaging": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

"""The ``OPSMESSAGING`` settings dict, its defaults and a typed accessor.

Values are read fresh on every access, so ``override_settings`` works; bad values are
reported by the system checks in ``opsmessaging.checks``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.conf import settings

from opsmessaging.categories import Category

DEFAULTS: dict[str, Any] = {
    # Master switch of the original (``:pubsub_integration``).
    "PUBSUB_INTEGRATION": True,
    # Milliseconds between scheduled health and metrics broadcasts.
    "HEALTH_BROADCAST_INTERVAL": 30_000,
    "METRICS_BROADCAST_INTERVAL": 60_000,
    # This node's name; None means "django@<hostname>".
    "NODE_NAME": None,
    # Reported as cluster_context()["node_type"].
    "NODE_TYPE": "combined_node",
    # Largest accepted payload, in bytes of its JSON encoding.
    "MAX_PAYLOAD_BYTES": 64 * 1024,
    # Milliseconds the relay may wait for the channel layer before counting a failure.
    "FANOUT_TIMEOUT": 500,
    # How a message gets its sequence on PostgreSQL: "relay" (appends never wait for each
    # other; the relay numbers committed messages shortly after commit) or "inline" (in
    # the writer's transaction, holding the category's counter until it commits; the
    # result carries the sequence). SQLite always numbers inline.
    "SEQUENCING": "relay",
    # Milliseconds between the relay's looks at the log when nothing woke it.
    "RELAY_POLL_INTERVAL": 20,
    # Milliseconds between a standby relay's tries to take over.
    "RELAY_STANDBY_INTERVAL": 1000,
    # Milliseconds the API's POST waits for the sequence of what it stored.
    "API_SEQUENCE_WAIT": 2000,
    # WebSocket: largest accepted client frame (bytes), messages queued per connection
    # before a slow client is told it fell behind, and rows per replay query.
    "WS_MAX_FRAME_BYTES": 16 * 1024,
    "WS_BUFFER_SIZE": 1000,
    "WS_REPLAY_BATCH": 500,
    # Milliseconds between a connection's checks of the store for messages it missed
    # (lost or cross-process deliveries); 0 turns the check off.
    "WS_POLL_INTERVAL": 1000,
    # Signing keys, current first: [{"id": "k2", "secret": "..."}, ...]; empty means one
    # derived from SECRET_KEY (and SECRET_KEY_FALLBACKS) with its own salt.
    "SIGNING_KEYS": [],
    # Fernet keys, current first; empty means derived from SECRET_KEY with its own salt.
    "ENCRYPTION_KEYS": [],
    # Categories whose payloads are encrypted at rest.
    "ENCRYPTED_CATEGORIES": ["security", "audit"],
    # Payloads of at least this many bytes of JSON are stored compressed; 0 never.
    "COMPRESS_MIN_BYTES": 4096,
    # Automatic capture (opsmessaging.capture): one switch per source, read at each event.
    # Logins, logouts and failed logins -> AuthEvent / SessionEvent.
    "CAPTURE_AUTH": True,
    # This many failed logins from one source within the window -> a brute_force alert.
    "BRUTE_FORCE_THRESHOLD": 5,
    "BRUTE_FORCE_WINDOW": 300_000,
    # PermissionDenied in views, DRF authentication failures and throttling -> AccessViolation.
    "CAPTURE_ACCESS_VIOLATIONS": True,
    # Milliseconds within which violations of one kind from one source are aggregated:
    # the first is stored, repeats are counted and stored at the 10th, 100th, ...; 0 stores
    # every one.
    "ACCESS_VIOLATION_WINDOW": 300_000,
    # Admin LogEntry rows -> AdminAction.
    "CAPTURE_ADMIN": True,
    # Saves and deletes of models registered with opsmessaging.audit_trail.register -> DataChange.
    "CAPTURE_DATA_CHANGES": True,
    # OpsMessagingHandler: records at or above the level -> LogEntry; at most LOG_RATE_LIMIT
    # records per logger per LOG_RATE_WINDOW milliseconds, the rest counted in a LogSummary;
    # request logs of 4xx responses only with LOG_CAPTURE_CLIENT_ERRORS.
    "CAPTURE_LOGGING": True,
    "LOG_CAPTURE_LEVEL": "WARNING",
    "LOG_CAPTURE_CLIENT_ERRORS": False,
    "LOG_RATE_LIMIT": 100,
    "LOG_RATE_WINDOW": 60_000,
    # Web (ASGI lifespan) and Celery worker start/stop -> SystemLifecycle, ProcessLifecycle.
    "CAPTURE_LIFECYCLE": True,
    # Effective OPSMESSAGING settings differing from this node's previous start -> SystemConfig.
    "CAPTURE_CONFIG_CHANGES": True,
    # Unhandled exceptions in requests and Celery tasks -> ErrorAnalysis; this many repeats
    # of one error within the window -> a SystemAlert.
    "CAPTURE_FAILURES": True,
    "ERROR_AGGREGATION_WINDOW": 300_000,
    "ERROR_ALERT_THRESHOLD": 10,
    # The system_name and version of the captured SystemLifecycle messages.
    "SYSTEM_NAME": "django",
    "SYSTEM_VERSION": "unknown",
    # Nodes: milliseconds between heartbeats of every process, and how many missed
    # heartbeats make a node failed.
    "HEARTBEAT_INTERVAL": 5_000,
    # Start each serving process's heartbeat by itself (ASGI lifespan, first WSGI
    # request, Celery worker and beat); off, call ``nodes.start_heartbeat(role)``.
    "HEARTBEAT_AUTOSTART": True,
    "NODE_FAILURE_THRESHOLD": 3,
    # Health probes: a probe of the broker or the workers gives up after
    # HEALTH_PROBE_TIMEOUT ms; a successful probe slower than HEALTH_PROBE_SLOW ms is
    # "degraded".
    "HEALTH_PROBE_TIMEOUT": 1_000,
    "HEALTH_PROBE_SLOW": 250,
    # Retention: days each category is kept (None keeps it forever; the user's dict is
    # merged over this one), rows deleted per statement, ms between scheduled prunes.
    "RETENTION_DAYS": {
        Category.METRICS.value: 7,
        Category.DIAGNOSTICS.value: 7,
        Category.HEALTH.value: 14,
        Category.LOGGING.value: 30,
        Category.SYSTEM.value: 90,
        Category.LIFECYCLE.value: 90,
        Category.ALERTS.value: 90,
        Category.SECURITY.value: 365,
        Category.AUDIT.value: 365,
    },
    "RETENTION_BATCH_SIZE": 1_000,
    "RETENTION_INTERVAL": 3_600_000,
    # HTTP API (opsmessaging.api): messages per page by default and at most (``limit``).
    "API_PAGE_SIZE": 50,
    "API_MAX_PAGE_SIZE": 1000,
    # Most events in one ``POST messages/batch/``.
    "API_MAX_BATCH_SIZE": 500,
    # Broadcasts (POST) per user, as "<count>/<second|minute|hour|day>"; None: no limit.
    "API_WRITE_THROTTLE_RATE": "120/minute",
    # Database outages: milliseconds a store statement may run or wait for a lock (PostgreSQL
    # statement_timeout and lock_timeout, set per transaction); 0 means no limit.
    "DB_TIMEOUT": 5_000,
    # The local spool that keeps broadcasts while the database is unreachable: a directory
    # (one file per node in it; None turns spooling off) and its bounds.
    "SPOOL_DIR": None,
    "SPOOL_MAX_BYTES": 64 * 1024 * 1024,
    "SPOOL_MAX_MESSAGES": 10_000,
    # Channel-layer outages: milliseconds between a WebSocket connection's probes of its
    # channel layer (a message to itself); 0 turns them off.
    "WS_LAYER_CHECK_INTERVAL": 1_000,
    # WebSocket access and bounds (security review): milliseconds between a connection's
    # re-checks of its user's access (session, token, active, permissions; 0 turns them
    # off: then only each subscribe re-checks), most subscriptions per connection, and most
    # open connections per user in one server process.
    "WS_ACCESS_CHECK_INTERVAL": 30_000,
    "WS_MAX_SUBSCRIPTIONS": 50,
    "WS_MAX_CONNECTIONS_PER_USER": 20,
    # Timestamps given through the API: how far ahead of this server's clock (ms) and how
    # far behind it (ms; None: no bound) they may lie, else the message is refused. A
    # message stamped further ahead does not hold retention up either.
    "TIMESTAMP_MAX_AHEAD": 300_000,
    "TIMESTAMP_MAX_AGE": 3650 * 86_400_000,
    # The anonymous compatibility endpoint: milliseconds its report is reused (per node;
    # 0 computes it for every request), and requests per user or address as
    # "<count>/<second|minute|hour|day>" (None: no limit).
    "COMPATIBILITY_CACHE_TTL": 5_000,
    "COMPATIBILITY_THROTTLE_RATE": "60/minute",
    # Operations page and admin: the newest SystemAlerts searched for open alerts (those
    # that require an acknowledgement and have none).
    "OPEN_ALERTS_SCAN": 1000,
    # The Prometheus exposition (opsmessaging.exporters.prometheus): a bearer token that
    # scrapers send (``Authorization: Bearer <token>``); None admits only users with
    # ``opsmessaging.view_message``.
    "METRICS_TOKEN": None,
    # Server-Sent Events (opsmessaging.sse): milliseconds between the store polls of a
    # stream, between heartbeat comments, the client's reconnection delay (``retry:``),
    # and how long one response streams before the client is asked to reconnect.
    "SSE_POLL_INTERVAL": 1_000,
    "SSE_HEARTBEAT_INTERVAL": 15_000,
    "SSE_RETRY": 3_000,
    "SSE_MAX_DURATION": 3_600_000,
    # OTLP/HTTP log export (opsmessaging.exporters.otlp). The endpoint and headers default
    # to the standard OTEL_EXPORTER_OTLP_LOGS_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT and
    # OTEL_EXPORTER_OTLP_LOGS_HEADERS / OTEL_EXPORTER_OTLP_HEADERS; the export is scheduled
    # only when one of them gives an endpoint. Categories exported (None: every one),
    # milliseconds between runs, records per request, seconds one request may take
    # (retries included).
    "OTLP_LOGS_ENDPOINT": None,
    "OTLP_HEADERS": {},
    "OTLP_CATEGORIES": None,
    "OTLP_EXPORT_INTERVAL": 30_000,
    "OTLP_BATCH_SIZE": 512,
    "OTLP_TIMEOUT": 10,
    # Check-ins (opsmessaging.checkins): record every periodic run and monitored task;
    # consecutive failed (or missed) runs before a missed_checkin alert, and consecutive
    # successes before its recovery (Sentry's failure_issue_threshold and
    # recovery_threshold) for the app's own periodic runs.
    "CHECKINS": True,
    "CHECKIN_FAILURE_THRESHOLD": 1,
    "CHECKIN_RECOVERY_THRESHOLD": 1,
    # Alert notifications (opsmessaging.notifications): a list of routes, e.g.
    # {"name": "ops", "min_severity": "error", "categories": ["system"],
    #  "email": ["ops@example.com"]} or {"name": "chat", "min_severity": "critical",
    #  "webhook": "https://...", "secret": "...", "format": "slack"}.
    "NOTIFICATIONS": [],
    # Milliseconds within which repeats of one alert (same type and subject) are sent to
    # a route at most NOTIFICATION_RATE_LIMIT times; the others are recorded suppressed.
    "NOTIFICATION_RATE_WINDOW": 900_000,
    "NOTIFICATION_RATE_LIMIT": 1,
    # Attempts per notification, the first retry's delay (ms, doubled each retry) and the
    # webhook timeout (ms).
    "NOTIFICATION_MAX_ATTEMPTS": 5,
    "NOTIFICATION_RETRY_DELAY": 2_000,
    "NOTIFICATION_TIMEOUT": 5_000,
    # The site's address, for the acknowledgement link in notices (None: a relative path).
    "NOTIFICATION_BASE_URL": None,
    # The sender of notification emails (None: DEFAULT_FROM_EMAIL).
    "NOTIFICATION_FROM_EMAIL": None,
}


class Settings:
    """Typed, uncached view of ``settings.OPSMESSAGING`` over ``DEFAULTS``."""

    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, "OPSMESSAGING", {})
        return value if isinstance(value, dict) else {}

    def get(self, name: str) -> Any:
        return self.user_settings().get(name, DEFAULTS[name])

    @property
    def PUBSUB_INTEGRATION(self) -> bool:
        return self.get("PUBSUB_INTEGRATION") is True

    @property
    def HEALTH_BROADCAST_INTERVAL(self) -> int:
        return int(self.get("HEALTH_BROADCAST_INTERVAL"))

    @property
    def METRICS_BROADCAST_INTERVAL(self) -> int:
        return int(self.get("METRICS_BROADCAST_INTERVAL"))

    @property
    def NODE_NAME(self) -> str | None:
        value = self.get("NODE_NAME")
        return value if value is None else str(value)

    @property
    def NODE_TYPE(self) -> str:
        return str(self.get("NODE_TYPE"))

    @property
    def MAX_PAYLOAD_BYTES(self) -> int:
        return int(self.get("MAX_PAYLOAD_BYTES"))

    @property
    def FANOUT_TIMEOUT(self) -> int:
        return int(self.get("FANOUT_TIMEOUT"))

    @property
    def WS_MAX_FRAME_BYTES(self) -> int:
        return int(self.get("WS_MAX_FRAME_BYTES"))

    @property
    def WS_BUFFER_SIZE(self) -> int:
        return int(self.get("WS_BUFFER_SIZE"))

    @property
    def WS_REPLAY_BATCH(self) -> int:
        return int(self.get("WS_REPLAY_BATCH"))

    @property
    def SEQUENCING(self) -> str:
        return str(self.get("SEQUENCING"))

    @property
    def RELAY_POLL_INTERVAL(self) -> int:
        return int(self.get("RELAY_POLL_INTERVAL"))

    @property
    def RELAY_STANDBY_INTERVAL(self) -> int:
        return int(self.get("RELAY_STANDBY_INTERVAL"))

    @property
    def API_SEQUENCE_WAIT(self) -> int:
        return int(self.get("API_SEQUENCE_WAIT"))

    @property
    def WS_POLL_INTERVAL(self) -> int:
        return int(self.get("WS_POLL_INTERVAL"))

    @property
    def SIGNING_KEYS(self) -> list[dict[str, Any]]:
        return list(self.get("SIGNING_KEYS"))

    @property
    def ENCRYPTION_KEYS(self) -> list[str]:
        return list(self.get("ENCRYPTION_KEYS"))

    @property
    def ENCRYPTED_CATEGORIES(self) -> frozenset[str]:
        return frozenset(self.get("ENCRYPTED_CATEGORIES"))

    @property
    def COMPRESS_MIN_BYTES(self) -> int:
        return int(self.get("COMPRESS_MIN_BYTES"))

    @property
    def CAPTURE_AUTH(self) -> bool:
        return self.get("CAPTURE_AUTH") is True

    @property
    def BRUTE_FORCE_THRESHOLD(self) -> int:
        return int(self.get("BRUTE_FORCE_THRESHOLD"))

    @property
    def BRUTE_FORCE_WINDOW(self) -> int:
        return int(self.get("BRUTE_FORCE_WINDOW"))

    @property
    def CAPTURE_ACCESS_VIOLATIONS(self) -> bool:
        return self.get("CAPTURE_ACCESS_VIOLATIONS") is True

    @property
    def ACCESS_VIOLATION_WINDOW(self) -> int:
        return int(self.get("ACCESS_VIOLATION_WINDOW"))

    @property
    def CAPTURE_ADMIN(self) -> bool:
        return self.get("CAPTURE_ADMIN") is True

    @property
    def CAPTURE_DATA_CHANGES(self) -> bool:
        return self.get("CAPTURE_DATA_CHANGES") is True

    @property
    def CAPTURE_LOGGING(self) -> bool:
        return self.get("CAPTURE_LOGGING") is True

    @property
    def LOG_CAPTURE_LEVEL(self) -> int:
        """The level as a number; a name such as ``"WARNING"`` is looked up."""
        number = log_level_number(self.get("LOG_CAPTURE_LEVEL"))
        return logging.WARNING if number is None else number

    @property
    def LOG_CAPTURE_CLIENT_ERRORS(self) -> bool:
        return self.get("LOG_CAPTURE_CLIENT_ERRORS") is True

    @property
    def LOG_RATE_LIMIT(self) -> int:
        return int(self.get("LOG_RATE_LIMIT"))

    @property
    def LOG_RATE_WINDOW(self) -> int:
        return int(self.get("LOG_RATE_WINDOW"))

    @property
    def CAPTURE_LIFECYCLE(self) -> bool:
        return self.get("CAPTURE_LIFECYCLE") is True

    @property
    def CAPTURE_CONFIG_CHANGES(self) -> bool:
        return self.get("CAPTURE_CONFIG_CHANGES") is True

    @property
    def CAPTURE_FAILURES(self) -> bool:
        return self.get("CAPTURE_FAILURES") is True

    @property
    def ERROR_AGGREGATION_WINDOW(self) -> int:
        return int(self.get("ERROR_AGGREGATION_WINDOW"))

    @property
    def ERROR_ALERT_THRESHOLD(self) -> int:
        return int(self.get("ERROR_ALERT_THRESHOLD"))

    @property
    def SYSTEM_NAME(self) -> str:
        return str(self.get("SYSTEM_NAME"))

    @property
    def SYSTEM_VERSION(self) -> str:
        return str(self.get("SYSTEM_VERSION"))

    @property
    def API_PAGE_SIZE(self) -> int:
        return int(self.get("API_PAGE_SIZE"))

    @property
    def API_MAX_PAGE_SIZE(self) -> int:
        return int(self.get("API_MAX_PAGE_SIZE"))

    @property
    def API_MAX_BATCH_SIZE(self) -> int:
        return int(self.get("API_MAX_BATCH_SIZE"))

    @property
    def API_WRITE_THROTTLE_RATE(self) -> str | None:
        value = self.get("API_WRITE_THROTTLE_RATE")
        return value if value is None else str(value)

    @property
    def DB_TIMEOUT(self) -> int:
        return int(self.get("DB_TIMEOUT"))

    @property
    def SPOOL_DIR(self) -> str | None:
        value = self.get("SPOOL_DIR")
        return None if value is None else os.fspath(value)

    @property
    def SPOOL_MAX_BYTES(self) -> int:
        return int(self.get("SPOOL_MAX_BYTES"))

    @property
    def SPOOL_MAX_MESSAGES(self) -> int:
        return int(self.get("SPOOL_MAX_MESSAGES"))

    @property
    def WS_LAYER_CHECK_INTERVAL(self) -> int:
        return int(self.get("WS_LAYER_CHECK_INTERVAL"))

    @property
    def WS_ACCESS_CHECK_INTERVAL(self) -> int:
        return int(self.get("WS_ACCESS_CHECK_INTERVAL"))

    @property
    def WS_MAX_SUBSCRIPTIONS(self) -> int:
        return int(self.get("WS_MAX_SUBSCRIPTIONS"))

    @property
    def WS_MAX_CONNECTIONS_PER_USER(self) -> int:
        return int(self.get("WS_MAX_CONNECTIONS_PER_USER"))

    @property
    def COMPATIBILITY_CACHE_TTL(self) -> int:
        return int(self.get("COMPATIBILITY_CACHE_TTL"))

    @property
    def COMPATIBILITY_THROTTLE_RATE(self) -> str | None:
        value = self.get("COMPATIBILITY_THROTTLE_RATE")
        return value if value is None else str(value)

    @property
    def TIMESTAMP_MAX_AHEAD(self) -> int:
        return int(self.get("TIMESTAMP_MAX_AHEAD"))

    @property
    def TIMESTAMP_MAX_AGE(self) -> int | None:
        value = self.get("TIMESTAMP_MAX_AGE")
        return None if value is None else int(value)

    @property
    def OPEN_ALERTS_SCAN(self) -> int:
        return int(self.get("OPEN_ALERTS_SCAN"))

    @property
    def METRICS_TOKEN(self) -> str | None:
        value = self.get("METRICS_TOKEN")
        return value if value is None else str(value)

    @property
    def SSE_POLL_INTERVAL(self) -> int:
        return int(self.get("SSE_POLL_INTERVAL"))

    @property
    def SSE_HEARTBEAT_INTERVAL(self) -> int:
        return int(self.get("SSE_HEARTBEAT_INTERVAL"))

    @property
    def SSE_RETRY(self) -> int:
        return int(self.get("SSE_RETRY"))

    @property
    def SSE_MAX_DURATION(self) -> int:
        return int(self.get("SSE_MAX_DURATION"))

    @property
    def OTLP_LOGS_ENDPOINT(self) -> str | None:
        value = self.get("OTLP_LOGS_ENDPOINT")
        return value if value is None else str(value)

    @property
    def OTLP_HEADERS(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in dict(self.get("OTLP_HEADERS") or {}).items()}

    @property
    def OTLP_ENABLED(self) -> bool:
        """Whether an OTLP logs endpoint is set, here or by the standard variables."""
        return bool(self.OTLP_LOGS_ENDPOINT) or any(
            os.environ.get(name)
            for name in (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            )
        )

    @property
    def OTLP_CATEGORIES(self) -> list[Category]:
        value = self.get("OTLP_CATEGORIES")
        if value is None:
            return list(Category)
        return [Category(name) for name in value]

    @property
    def OTLP_EXPORT_INTERVAL(self) -> int:
        return int(self.get("OTLP_EXPORT_INTERVAL"))

    @property
    def OTLP_BATCH_SIZE(self) -> int:
        return int(self.get("OTLP_BATCH_SIZE"))

    @property
    def OTLP_TIMEOUT(self) -> int:
        return int(self.get("OTLP_TIMEOUT"))

    @property
    def CHECKINS(self) -> bool:
        return self.get("CHECKINS") is True

    @property
    def CHECKIN_FAILURE_THRESHOLD(self) -> int:
        return int(self.get("CHECKIN_FAILURE_THRESHOLD"))

    @property
    def CHECKIN_RECOVERY_THRESHOLD(self) -> int:
        return int(self.get("CHECKIN_RECOVERY_THRESHOLD"))

    @property
    def NOTIFICATIONS(self) -> list[dict[str, Any]]:
        value = self.get("NOTIFICATIONS")
        return (
            [dict(r) for r in value if isinstance(r, dict)]
            if isinstance(value, list | tuple)
            else []
        )

    @property
    def NOTIFICATION_RATE_WINDOW(self) -> int:
        return int(self.get("NOTIFICATION_RATE_WINDOW"))

    @property
    def NOTIFICATION_RATE_LIMIT(self) -> int:
        return int(self.get("NOTIFICATION_RATE_LIMIT"))

    @property
    def NOTIFICATION_MAX_ATTEMPTS(self) -> int:
        return int(self.get("NOTIFICATION_MAX_ATTEMPTS"))

    @property
    def NOTIFICATION_RETRY_DELAY(self) -> int:
        return int(self.get("NOTIFICATION_RETRY_DELAY"))

    @property
    def NOTIFICATION_TIMEOUT(self) -> int:
        return int(self.get("NOTIFICATION_TIMEOUT"))

    @property
    def NOTIFICATION_BASE_URL(self) -> str:
        value = self.get("NOTIFICATION_BASE_URL")
        return "" if value is None else str(value).rstrip("/")

    @property
    def NOTIFICATION_FROM_EMAIL(self) -> str | None:
        value = self.get("NOTIFICATION_FROM_EMAIL")
        return None if value is None else str(value)

    def effective(self) -> dict[str, Any]:
        """Return every setting with its effective value (the user's, else the default)."""
        found = {name: self.get(name) for name in DEFAULTS}
        routes = found["NOTIFICATIONS"]
        if isinstance(routes, list | tuple):  # webhook secrets never leave the settings
            found["NOTIFICATIONS"] = [
                {**r, "secret": "********"}
                if isinstance(r, dict) and "secret" in r
                else r
                for r in routes
            ]
        return found

    @property
    def HEARTBEAT_INTERVAL(self) -> int:
        return int(self.get("HEARTBEAT_INTERVAL"))

    @property
    def HEARTBEAT_AUTOSTART(self) -> bool:
        return bool(self.get("HEARTBEAT_AUTOSTART"))

    @property
    def NODE_FAILURE_THRESHOLD(self) -> int:
        return int(self.get("NODE_FAILURE_THRESHOLD"))

    @property
    def HEALTH_PROBE_TIMEOUT(self) -> int:
        return int(self.get("HEALTH_PROBE_TIMEOUT"))

    @property
    def HEALTH_PROBE_SLOW(self) -> int:
        return int(self.get("HEALTH_PROBE_SLOW"))

    @property
    def RETENTION_DAYS(self) -> dict[str, float | None]:
        """Days kept per category: the defaults with the user's entries merged over them."""
        user = self.user_settings().get("RETENTION_DAYS") or {}
        return {**DEFAULTS["RETENTION_DAYS"], **user}

    @property
    def RETENTION_BATCH_SIZE(self) -> int:
        return int(self.get("RETENTION_BATCH_SIZE"))

    @property
    def RETENTION_INTERVAL(self) -> int:
        return int(self.get("RETENTION_INTERVAL"))


def log_level_number(value: object) -> int | None:
    """Return the number of a logging level given as a number or a name, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str):
        number = logging.getLevelName(value.upper())
        return number if isinstance(number, int) else None
    return None


conf = Settings()

"""System checks of the ``OPSMESSAGING`` settings (``manage.py check``)."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from importlib.util import find_spec
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import connections, router

from opsmessaging import notifications
from opsmessaging.categories import Category
from opsmessaging.conf import DEFAULTS, log_level_number
from opsmessaging.models import Message
from opsmessaging.nodenames import NODE_NAME_FIELDS, is_node_name, render_node_name

_INTERVALS = ("HEALTH_BROADCAST_INTERVAL", "METRICS_BROADCAST_INTERVAL")
_API_SIZES = ("API_PAGE_SIZE", "API_MAX_PAGE_SIZE", "API_MAX_BATCH_SIZE")
#: What DRF's throttles understand, e.g. "120/minute".
_RATE_RE = re.compile(r"^[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)$")
_CAPTURE_SWITCHES = (
    "CAPTURE_AUTH",
    "CAPTURE_ACCESS_VIOLATIONS",
    "CAPTURE_ADMIN",
    "CAPTURE_DATA_CHANGES",
    "CAPTURE_LOGGING",
    "CAPTURE_LIFECYCLE",
    "CAPTURE_CONFIG_CHANGES",
    "CAPTURE_FAILURES",
    "LOG_CAPTURE_CLIENT_ERRORS",
)
_CAPTURE_COUNTS = (
    "BRUTE_FORCE_THRESHOLD",
    "BRUTE_FORCE_WINDOW",
    "LOG_RATE_LIMIT",
    "LOG_RATE_WINDOW",
    "ERROR_AGGREGATION_WINDOW",
    "ERROR_ALERT_THRESHOLD",
)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive_ints(
    user: dict[str, Any], names: Sequence[str], check_id: str
) -> list[CheckMessage]:
    return [
        Error(
            f"OPSMESSAGING[{name!r}] must be a positive integer, not {user[name]!r}.",
            hint=f"The default is {DEFAULTS[name]}.",
            id=check_id,
        )
        for name in names
        if name in user and not _positive_int(user[name])
    ]


@register(Tags.compatibility)
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report every bad ``OPSMESSAGING`` value with a stable id and a hint."""
    user = getattr(settings, "OPSMESSAGING", {})
    if not isinstance(user, dict):
        return [
            Error(
                f"OPSMESSAGING must be a dict, not {type(user).__name__}.",
                hint='Set OPSMESSAGING = {"NODE_NAME": "web1@host", ...} or remove it.',
                id="opsmessaging.E001",
            )
        ]
    errors: list[CheckMessage] = []
    for name in sorted(set(user) - set(DEFAULTS)):
        close = difflib.get_close_matches(name, DEFAULTS, n=1)
        errors.append(
            Warning(
                f"OPSMESSAGING has an unknown key {name!r}; it is ignored.",
                hint=f"Did you mean {close[0]!r}?"
                if close
                else f"Known keys: {', '.join(DEFAULTS)}.",
                id="opsmessaging.W001",
            )
        )
    if "PUBSUB_INTEGRATION" in user and not isinstance(
        user["PUBSUB_INTEGRATION"], bool
    ):
        errors.append(
            Error(
                f"OPSMESSAGING['PUBSUB_INTEGRATION'] must be True or False, not "
                f"{user['PUBSUB_INTEGRATION']!r}; anything but True disables broadcasting.",
                hint="Use a boolean.",
                id="opsmessaging.E002",
            )
        )
    for name in _INTERVALS:
        if name in user and not _positive_int(user[name]):
            errors.append(
                Error(
                    f"OPSMESSAGING[{name!r}] must be a positive integer of milliseconds, not "
                    f"{user[name]!r}.",
                    hint=f"The default is {DEFAULTS[name]} ({DEFAULTS[name] // 1000} seconds).",
                    id="opsmessaging.E003",
                )
            )
    errors.extend(_check_node_name(user.get("NODE_NAME")))
    limit = user.get("MAX_PAYLOAD_BYTES", DEFAULTS["MAX_PAYLOAD_BYTES"])
    if not _positive_int(limit):
        errors.append(
            Error(
                f"OPSMESSAGING['MAX_PAYLOAD_BYTES'] must be a positive integer, not {limit!r}.",
                hint=f"The default is {DEFAULTS['MAX_PAYLOAD_BYTES']}.",
                id="opsmessaging.E005",
            )
        )
    errors.extend(
        _positive_ints(
            user,
            (
                "FANOUT_TIMEOUT",
                "WS_MAX_FRAME_BYTES",
                "WS_BUFFER_SIZE",
                "WS_REPLAY_BATCH",
                "RELAY_POLL_INTERVAL",
                "RELAY_STANDBY_INTERVAL",
                "API_SEQUENCE_WAIT",
            ),
            "opsmessaging.E007",
        )
    )
    sequencing = user.get("SEQUENCING", DEFAULTS["SEQUENCING"])
    if sequencing not in ("relay", "inline"):
        errors.append(
            Error(
                f"OPSMESSAGING['SEQUENCING'] must be 'relay' or 'inline', not "
                f"{sequencing!r}.",
                hint="'relay' (the default) never makes appends wait for each other.",
                id="opsmessaging.E013",
            )
        )
    routes = user.get("NOTIFICATIONS", DEFAULTS["NOTIFICATIONS"])
    if not isinstance(routes, list | tuple):
        route_problems = ["NOTIFICATIONS must be a list of routes"]
    else:
        route_problems = [
            problem
            for index, route in enumerate(routes)
            for problem in notifications.route_errors(index, route)
        ]
    errors += [
        Error(
            f"OPSMESSAGING['NOTIFICATIONS']: {problem}.",
            hint='e.g. {"min_severity": "error", "email": ["ops@example.com"]} or '
            '{"min_severity": "critical", "webhook": "https://...", "secret": "..."}.',
            id="opsmessaging.E014",
        )
        for problem in route_problems
    ]
    poll = user.get("WS_POLL_INTERVAL", DEFAULTS["WS_POLL_INTERVAL"])
    if not (_positive_int(poll) or poll == 0) or isinstance(poll, bool):
        errors.append(
            Error(
                f"OPSMESSAGING['WS_POLL_INTERVAL'] must be 0 (off) or a positive integer of "
                f"milliseconds, not {poll!r}.",
                hint=f"The default is {DEFAULTS['WS_POLL_INTERVAL']}.",
                id="opsmessaging.E008",
            )
        )
    errors.extend(_check_integrity(user))
    node_type = user.get("NODE_TYPE", DEFAULTS["NODE_TYPE"])
    if not isinstance(node_type, str) or not node_type:
        errors.append(
            Error(
                f"OPSMESSAGING['NODE_TYPE'] must be a non-empty string, not {node_type!r}.",
                hint="For example 'combined_node', 'web' or 'worker'.",
                id="opsmessaging.E006",
            )
        )
    errors.extend(_check_capture(user))
    errors.extend(_check_api_settings(user))
    errors.extend(_check_outages(user))
    errors.extend(_check_page_settings(user))
    errors.extend(_check_standards_settings(user))
    errors.extend(_check_security_settings(user))
    return errors


def _check_security_settings(user: dict[str, Any]) -> list[CheckMessage]:
    """Report bad values of the security review's settings (``opsmessaging.E711``-``E713``)."""
    errors = _positive_ints(
        user,
        ("WS_MAX_SUBSCRIPTIONS", "WS_MAX_CONNECTIONS_PER_USER"),
        "opsmessaging.E711",
    )
    for name in ("WS_ACCESS_CHECK_INTERVAL", "COMPATIBILITY_CACHE_TTL"):
        value = user.get(name, 0)
        if isinstance(value, bool) or not (_positive_int(value) or value == 0):
            errors.append(
                Error(
                    f"OPSMESSAGING[{name!r}] must be 0 (off) or a positive integer of "
                    f"milliseconds, not {value!r}.",
                    hint=f"The default is {DEFAULTS[name]}.",
                    id="opsmessaging.E712",
                )
            )
    errors.extend(_positive_ints(user, ("TIMESTAMP_MAX_AHEAD",), "opsmessaging.E711"))
    age = user.get("TIMESTAMP_MAX_AGE")
    if "TIMESTAMP_MAX_AGE" in user and age is not None and not _positive_int(age):
        errors.append(
            Error(
                f"OPSMESSAGING['TIMESTAMP_MAX_AGE'] must be None (no bound) or a positive "
                f"integer of milliseconds, not {age!r}.",
                hint=f"The default is {DEFAULTS['TIMESTAMP_MAX_AGE']} (3650 days).",
                id="opsmessaging.E711",
            )
        )
    rate = user.get("COMPATIBILITY_THROTTLE_RATE")
    if rate is not None and (not isinstance(rate, str) or not _RATE_RE.match(rate)):
        errors.append(
            Error(
                f"OPSMESSAGING['COMPATIBILITY_THROTTLE_RATE'] must be a rate such as "
                f"'60/minute', or None for no limit; not {rate!r}.",
                hint="Use '<count>/second', '/minute', '/hour' or '/day'.",
                id="opsmessaging.E713",
            )
        )
    return errors


def _check_node_name(node_name: Any) -> list[CheckMessage]:
    """Report a ``NODE_NAME`` that is no node name (``E004``) or that every role shares
    (``W002``)."""
    if node_name is None:
        return []
    try:
        rendered = (
            render_node_name(node_name, "web") if isinstance(node_name, str) else None
        )
    except (KeyError, IndexError, ValueError):
        rendered = None
    if not is_node_name(rendered):
        return [
            Error(
                f"OPSMESSAGING['NODE_NAME'] {node_name!r} is not a node name.",
                hint="Use letters, digits, '_', '.', '-', optionally '@host', and the "
                f"placeholders {', '.join('{' + f + '}' for f in NODE_NAME_FIELDS)}, e.g. "
                "'{role}-{pid}@{host}'; or leave it unset for '{role}@{host}'.",
                id="opsmessaging.E004",
            )
        ]
    if "{role}" not in node_name:
        return [
            Warning(
                f"OPSMESSAGING['NODE_NAME'] {node_name!r} names every process alike: the "
                "web server, the Celery worker and beat, which read the same settings, "
                "would share one node, whose role flips with each heartbeat.",
                hint="Leave NODE_NAME unset ('{role}@{host}'), put '{role}' in it, or set "
                "it per process from the environment.",
                id="opsmessaging.W002",
            )
        ]
    return []


def _has_worker() -> bool:
    """Tell whether Celery workers run apart from this process (a real broker is set)."""
    broker = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    return bool(broker) and not broker.startswith("memory://")


@register(Tags.compatibility)
def check_deployment(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report the deployments that lose messages or fail under several processes
    (``opsmessaging.W501``-``W503``)."""
    errors: list[CheckMessage] = []
    layers = getattr(settings, "CHANNEL_LAYERS", None)
    if not layers and find_spec("channels") is not None:
        errors.append(
            Warning(
                "Channels is installed but CHANNEL_LAYERS is not set: the WebSocket "
                "endpoint delivers nothing live, only what its store check finds.",
                hint='Set CHANNEL_LAYERS = {"default": {"BACKEND": '
                '"channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": '
                "[REDIS_URL]}}} (or the in-memory layer for one process).",
                id="opsmessaging.W501",
            )
        )
    backend = str(((layers or {}).get("default") or {}).get("BACKEND", ""))
    if backend.endswith("InMemoryChannelLayer") and _has_worker():
        errors.append(
            Warning(
                "The in-memory channel layer serves one process, but Celery workers "
                "broadcast from processes of their own: their messages reach WebSocket "
                "subscribers only through the store check, late.",
                hint="Use channels_redis's RedisPubSubChannelLayer with the broker's Redis.",
                id="opsmessaging.W502",
            )
        )
    alias = router.db_for_write(Message)
    database: dict[str, Any] = dict(settings.DATABASES.get(alias, {}))
    options: dict[str, Any] = dict(database.get("OPTIONS") or {})
    if (
        str(database.get("ENGINE", "")).endswith("sqlite3")
        and _has_worker()
        and not (
            options.get("timeout")
            and (
                str(options.get("transaction_mode", "")).upper() == "IMMEDIATE"
                or "wal" in str(options.get("init_command", "")).lower()
            )
        )
    ):
        errors.append(
            Warning(
                f"The message store's database {alias!r} is SQLite without a timeout and "
                "IMMEDIATE transactions (or WAL), while Celery workers write to it too: "
                "concurrent writes fail with 'database is locked'.",
                hint=f'Set DATABASES[{alias!r}]["OPTIONS"] = {{"transaction_mode": '
                '"IMMEDIATE", "timeout": 20}, or use PostgreSQL for several processes.',
                id="opsmessaging.W503",
            )
        )
    return errors


def _check_outages(user: dict[str, Any]) -> list[CheckMessage]:
    """Report bad values of the outage settings (``opsmessaging.E401``-``E403``, ``W401``)."""
    errors: list[CheckMessage] = []
    spool_dir = user.get("SPOOL_DIR")
    if spool_dir is not None and (
        not isinstance(spool_dir, str | os.PathLike) or not os.path.isabs(spool_dir)
    ):
        errors.append(
            Error(
                f"OPSMESSAGING['SPOOL_DIR'] must be None (no spool) or an absolute path, "
                f"not {spool_dir!r}.",
                hint="For example BASE_DIR / 'var' / 'spool'; each node writes its own file there.",
                id="opsmessaging.E401",
            )
        )
    errors.extend(
        _positive_ints(
            user, ("SPOOL_MAX_BYTES", "SPOOL_MAX_MESSAGES"), "opsmessaging.E402"
        )
    )
    for name in ("DB_TIMEOUT", "WS_LAYER_CHECK_INTERVAL"):
        if name in user and not (_positive_int(user[name]) or user[name] == 0):
            errors.append(
                Error(
                    f"OPSMESSAGING[{name!r}] must be 0 (off) or a positive integer of "
                    f"milliseconds, not {user[name]!r}.",
                    hint=f"The default is {DEFAULTS[name]}.",
                    id="opsmessaging.E403",
                )
            )
    errors.extend(_check_connect_timeout())
    return errors


def _check_connect_timeout() -> list[CheckMessage]:
    alias = router.db_for_write(Message)
    database = connections.settings.get(alias, {})
    if "postgresql" not in database.get("ENGINE", ""):
        return []
    if database.get("OPTIONS", {}).get("connect_timeout"):
        return []
    return [
        Warning(
            f"The message store's database {alias!r} has no connect_timeout: while its "
            "server is unreachable, a broadcast can wait minutes to connect before it "
            "spools or fails.",
            hint=f'Add "OPTIONS": {{"connect_timeout": 5}} (seconds) to DATABASES[{alias!r}].',
            id="opsmessaging.W401",
        )
    ]


def _check_capture(user: dict[str, Any]) -> list[CheckMessage]:
    """Report bad values of the automatic-capture settings (``opsmessaging.E101``-``E106``)."""
    errors: list[CheckMessage] = []
    for name in _CAPTURE_SWITCHES:
        if name in user and not isinstance(user[name], bool):
            errors.append(
                Error(
                    f"OPSMESSAGING[{name!r}] must be True or False, not {user[name]!r}; "
                    "anything but True turns this capture off.",
                    hint="Use a boolean.",
                    id="opsmessaging.E101",
                )
            )
    for name in _CAPTURE_COUNTS:
        if name in user and not _positive_int(user[name]):
            unit = "milliseconds" if name.endswith("WINDOW") else "a count"
            errors.append(
                Error(
                    f"OPSMESSAGING[{name!r}] must be a positive integer ({unit}), not "
                    f"{user[name]!r}.",
                    hint=f"The default is {DEFAULTS[name]}.",
                    id="opsmessaging.E102",
                )
            )
    if (
        "LOG_CAPTURE_LEVEL" in user
        and log_level_number(user["LOG_CAPTURE_LEVEL"]) is None
    ):
        errors.append(
            Error(
                f"OPSMESSAGING['LOG_CAPTURE_LEVEL'] {user['LOG_CAPTURE_LEVEL']!r} is not a "
                "logging level.",
                hint="Use a level name such as 'WARNING' or 'ERROR', or a number such as 30.",
                id="opsmessaging.E103",
            )
        )
    system_name = user.get("SYSTEM_NAME", DEFAULTS["SYSTEM_NAME"])
    if (
        not isinstance(system_name, str)
        or not is_node_name(system_name)
        or "@" in system_name
    ):
        errors.append(
            Error(
                f"OPSMESSAGING['SYSTEM_NAME'] {system_name!r} is not a system name.",
                hint="Use letters, digits, '_', '.' or '-', e.g. 'billing'.",
                id="opsmessaging.E104",
            )
        )
    window = user.get("ACCESS_VIOLATION_WINDOW", 0)
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        errors.append(
            Error(
                "OPSMESSAGING['ACCESS_VIOLATION_WINDOW'] must be 0 (store every "
                f"violation) or a positive integer (milliseconds), not {window!r}.",
                hint=f"The default is {DEFAULTS['ACCESS_VIOLATION_WINDOW']}.",
                id="opsmessaging.E106",
            )
        )
    version = user.get("SYSTEM_VERSION", DEFAULTS["SYSTEM_VERSION"])
    if not isinstance(version, str) or not version.strip():
        errors.append(
            Error(
                f"OPSMESSAGING['SYSTEM_VERSION'] must be a non-empty string, not {version!r}.",
                hint="For example '1.4.2' or a commit id.",
                id="opsmessaging.E105",
            )
        )
    return errors


def _check_integrity(user: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    keys = user.get("SIGNING_KEYS", [])
    if not isinstance(keys, list) or not all(
        isinstance(k, dict)
        and isinstance(k.get("id"), str)
        and k["id"]
        and k.get("secret")
        and isinstance(k.get("verify_only", False), bool)
        for k in keys
    ):
        errors.append(
            Error(
                "OPSMESSAGING['SIGNING_KEYS'] must be a list of {'id': ..., 'secret': ...} "
                "(optionally 'verify_only': True).",
                hint="Current key first; keep old keys listed while messages use them.",
                id="opsmessaging.E009",
            )
        )
    elif keys and all(k.get("verify_only") is True for k in keys):
        errors.append(
            Error(
                "OPSMESSAGING['SIGNING_KEYS'] has only verify-only keys: nothing can sign.",
                hint="Give at least one key without 'verify_only'; the first such signs.",
                id="opsmessaging.E009",
            )
        )
    fernet_keys = user.get("ENCRYPTION_KEYS", [])
    try:
        if not isinstance(fernet_keys, list):
            raise ValueError("not a list")
        for key in fernet_keys:
            Fernet(key)
    except (ValueError, TypeError) as exc:
        errors.append(
            Error(
                f"OPSMESSAGING['ENCRYPTION_KEYS'] must be a list of Fernet keys ({exc}).",
                hint="Make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="opsmessaging.E010",
            )
        )
    encrypted = user.get("ENCRYPTED_CATEGORIES", DEFAULTS["ENCRYPTED_CATEGORIES"])
    unknown = (
        sorted(set(encrypted) - set(Category.values))
        if isinstance(encrypted, list | tuple | set | frozenset)
        else [encrypted]
    )
    if unknown:
        errors.append(
            Error(
                f"OPSMESSAGING['ENCRYPTED_CATEGORIES'] names unknown categories: {unknown!r}.",
                hint=f"Choose among {', '.join(Category.values)}.",
                id="opsmessaging.E011",
            )
        )
    threshold = user.get("COMPRESS_MIN_BYTES", DEFAULTS["COMPRESS_MIN_BYTES"])
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        errors.append(
            Error(
                f"OPSMESSAGING['COMPRESS_MIN_BYTES'] must be 0 (never) or a positive "
                f"integer, not {threshold!r}.",
                hint=f"The default is {DEFAULTS['COMPRESS_MIN_BYTES']}.",
                id="opsmessaging.E012",
            )
        )
    return errors


_SCHEDULE_INTEGERS = (
    "HEARTBEAT_INTERVAL",
    "NODE_FAILURE_THRESHOLD",
    "HEALTH_PROBE_TIMEOUT",
    "HEALTH_PROBE_SLOW",
    "RETENTION_BATCH_SIZE",
    "RETENTION_INTERVAL",
)


@register(Tags.compatibility)
def check_schedule_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report bad node, health-probe and retention settings."""
    user = getattr(settings, "OPSMESSAGING", {})
    if not isinstance(user, dict):
        return []  # reported as E001 by check_settings
    errors: list[CheckMessage] = [
        Error(
            f"OPSMESSAGING[{name!r}] must be a positive integer, not {user[name]!r}.",
            hint=f"The default is {DEFAULTS[name]}.",
            id="opsmessaging.E201",
        )
        for name in _SCHEDULE_INTEGERS
        if name in user and not _positive_int(user[name])
    ]
    retention = user.get("RETENTION_DAYS", {})
    if not isinstance(retention, dict):
        return [
            *errors,
            Error(
                f"OPSMESSAGING['RETENTION_DAYS'] must be a dict of category: days, not "
                f"{retention!r}.",
                hint='For example {"metrics": 3, "audit": None} (None keeps forever).',
                id="opsmessaging.E202",
            ),
        ]
    for category, days in retention.items():
        if category not in DEFAULTS["RETENTION_DAYS"]:
            errors.append(
                Error(
                    f"OPSMESSAGING['RETENTION_DAYS'] names {category!r}, which is not an "
                    "operational category.",
                    hint=f"Use one of: {', '.join(DEFAULTS['RETENTION_DAYS'])}.",
                    id="opsmessaging.E202",
                )
            )
        elif days is not None and (
            isinstance(days, bool) or not isinstance(days, int | float) or days <= 0
        ):
            errors.append(
                Error(
                    f"OPSMESSAGING['RETENTION_DAYS'][{category!r}] must be a positive "
                    f"number of days or None, not {days!r}.",
                    hint=f"The default is {DEFAULTS['RETENTION_DAYS'][category]}.",
                    id="opsmessaging.E202",
                )
            )
    return errors


def _check_api_settings(user: dict[str, Any]) -> list[CheckMessage]:
    # The API's checks are numbered from E301.
    errors: list[CheckMessage] = []
    for name in _API_SIZES:
        if name in user and not _positive_int(user[name]):
            errors.append(
                Error(
                    f"OPSMESSAGING[{name!r}] must be a positive integer, not {user[name]!r}.",
                    hint=f"The default is {DEFAULTS[name]}.",
                    id="opsmessaging.E301",
                )
            )
    page = user.get("API_PAGE_SIZE", DEFAULTS["API_PAGE_SIZE"])
    most = user.get("API_MAX_PAGE_SIZE", DEFAULTS["API_MAX_PAGE_SIZE"])
    if _positive_int(page) and _positive_int(most) and page > most:
        errors.append(
            Error(
                f"OPSMESSAGING['API_PAGE_SIZE'] ({page}) is larger than "
                f"OPSMESSAGING['API_MAX_PAGE_SIZE'] ({most}).",
                hint="Raise API_MAX_PAGE_SIZE or lower API_PAGE_SIZE.",
                id="opsmessaging.E302",
            )
        )
    rate = user.get("API_WRITE_THROTTLE_RATE", DEFAULTS["API_WRITE_THROTTLE_RATE"])
    if rate is not None and (not isinstance(rate, str) or not _RATE_RE.match(rate)):
        errors.append(
            Error(
                f"OPSMESSAGING['API_WRITE_THROTTLE_RATE'] must be a rate such as "
                f"'120/minute', or None for no limit; not {rate!r}.",
                hint="Use '<count>/second', '/minute', '/hour' or '/day'.",
                id="opsmessaging.E303",
            )
        )
    return errors


def _check_page_settings(user: dict[str, Any]) -> list[CheckMessage]:
    # The operations page's checks are numbered from E601.
    value = user.get("OPEN_ALERTS_SCAN", DEFAULTS["OPEN_ALERTS_SCAN"])
    if _positive_int(value):
        return []
    return [
        Error(
            f"OPSMESSAGING['OPEN_ALERTS_SCAN'] must be a positive integer, not {value!r}.",
            hint=f"The default is {DEFAULTS['OPEN_ALERTS_SCAN']} (the newest SystemAlerts "
            "searched for open ones).",
            id="opsmessaging.E601",
        )
    ]


_SSE_INTERVALS = (
    "SSE_POLL_INTERVAL",
    "SSE_HEARTBEAT_INTERVAL",
    "SSE_RETRY",
    "SSE_MAX_DURATION",
)


def _check_standards_settings(user: dict[str, Any]) -> list[CheckMessage]:
    # The metrics exposition's and the event stream's checks are numbered from E701.
    errors: list[CheckMessage] = []
    token = user.get("METRICS_TOKEN")
    if token is not None and (not isinstance(token, str) or len(token) < 16):
        errors.append(
            Error(
                "OPSMESSAGING['METRICS_TOKEN'] must be None or a string of at least 16 "
                f"characters, not a {type(token).__name__} of length "
                f"{len(token) if isinstance(token, str) else '-'} (the value is not shown).",
                hint="Generate one with: python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'.",
                id="opsmessaging.E701",
            )
        )
    for name in _SSE_INTERVALS:
        if name in user and not _positive_int(user[name]):
            errors.append(
                Error(
                    f"OPSMESSAGING[{name!r}] must be a positive integer of milliseconds, "
                    f"not {user[name]!r}.",
                    hint=f"The default is {DEFAULTS[name]}.",
                    id="opsmessaging.E702",
                )
            )
    endpoint = user.get("OTLP_LOGS_ENDPOINT")
    if endpoint is not None and (
        not isinstance(endpoint, str)
        or urlsplit(endpoint).scheme not in ("http", "https")
        or not urlsplit(endpoint).netloc
    ):
        errors.append(
            Error(
                "OPSMESSAGING['OTLP_LOGS_ENDPOINT'] must be None or an http(s) URL, not "
                f"{endpoint!r}.",
                hint="The full URL of the logs signal, e.g. "
                "'http://collector:4318/v1/logs'.",
                id="opsmessaging.E703",
            )
        )
    headers = user.get("OTLP_HEADERS", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        errors.append(
            Error(
                "OPSMESSAGING['OTLP_HEADERS'] must be a dict of header names to string "
                "values.",
                hint="For example {'authorization': 'Bearer <token>'}.",
                id="opsmessaging.E704",
            )
        )
    categories = user.get("OTLP_CATEGORIES")
    known = {c.value for c in Category}
    if categories is not None and (
        not isinstance(categories, list | tuple)
        or not categories
        or not all(isinstance(c, str) and c in known for c in categories)
    ):
        errors.append(
            Error(
                "OPSMESSAGING['OTLP_CATEGORIES'] must be None (every category) or a "
                f"non-empty list of categories, not {categories!r}.",
                hint=f"Categories: {', '.join(sorted(known))}.",
                id="opsmessaging.E705",
            )
        )
    errors.extend(
        _positive_ints(
            user,
            ("OTLP_EXPORT_INTERVAL", "OTLP_BATCH_SIZE", "OTLP_TIMEOUT"),
            "opsmessaging.E706",
        )
    )
    return errors

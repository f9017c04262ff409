"""System checks of the ``OPSMESSAGING`` settings (``manage.py check``)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from opsmessaging.conf import DEFAULTS
from opsmessaging.helpers import is_node_name

_INTERVALS = ("HEALTH_BROADCAST_INTERVAL", "METRICS_BROADCAST_INTERVAL")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


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
    node_name = user.get("NODE_NAME")
    if node_name is not None and not is_node_name(node_name):
        errors.append(
            Error(
                f"OPSMESSAGING['NODE_NAME'] {node_name!r} is not a node name.",
                hint="Use letters, digits, '_', '.', '-', optionally '@host', e.g. 'web1@app-3'; "
                "or leave it unset for 'django@<hostname>'.",
                id="opsmessaging.E004",
            )
        )
    limit = user.get("MAX_PAYLOAD_BYTES", DEFAULTS["MAX_PAYLOAD_BYTES"])
    if not _positive_int(limit):
        errors.append(
            Error(
                f"OPSMESSAGING['MAX_PAYLOAD_BYTES'] must be a positive integer, not {limit!r}.",
                hint=f"The default is {DEFAULTS['MAX_PAYLOAD_BYTES']}.",
                id="opsmessaging.E005",
            )
        )
    for name in (
        "FANOUT_TIMEOUT",
        "WS_MAX_FRAME_BYTES",
        "WS_BUFFER_SIZE",
        "WS_REPLAY_BATCH",
    ):
        if name in user and not _positive_int(user[name]):
            errors.append(
                Error(
                    f"OPSMESSAGING[{name!r}] must be a positive integer, not {user[name]!r}.",
                    hint=f"The default is {DEFAULTS[name]}.",
                    id="opsmessaging.E007",
                )
            )
    node_type = user.get("NODE_TYPE", DEFAULTS["NODE_TYPE"])
    if not isinstance(node_type, str) or not node_type:
        errors.append(
            Error(
                f"OPSMESSAGING['NODE_TYPE'] must be a non-empty string, not {node_type!r}.",
                hint="For example 'combined_node', 'web' or 'worker'.",
                id="opsmessaging.E006",
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
            id="opsmessaging.E007",
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
                id="opsmessaging.E009",
            ),
        ]
    for category, days in retention.items():
        if category not in DEFAULTS["RETENTION_DAYS"]:
            errors.append(
                Error(
                    f"OPSMESSAGING['RETENTION_DAYS'] names {category!r}, which is not an "
                    "operational category.",
                    hint=f"Use one of: {', '.join(DEFAULTS['RETENTION_DAYS'])}.",
                    id="opsmessaging.E009",
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
                    id="opsmessaging.E009",
                )
            )
    return errors

"""System checks of the ``OPSMESSAGING`` settings (``manage.py check``)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from opsmessaging.conf import DEFAULTS, log_level_number
from opsmessaging.helpers import is_node_name

_INTERVALS = ("HEALTH_BROADCAST_INTERVAL", "METRICS_BROADCAST_INTERVAL")
_CAPTURE_SWITCHES = (
    "CAPTURE_AUTH",
    "CAPTURE_ACCESS_VIOLATIONS",
    "CAPTURE_ADMIN",
    "CAPTURE_DATA_CHANGES",
    "CAPTURE_LOGGING",
    "CAPTURE_LIFECYCLE",
    "CAPTURE_CONFIG_CHANGES",
    "CAPTURE_FAILURES",
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
    return errors


def _check_capture(user: dict[str, Any]) -> list[CheckMessage]:
    """Report bad values of the automatic-capture settings (``opsmessaging.E101``-``E105``)."""
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

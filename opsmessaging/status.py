"""The compatibility status: ``validate_messaging_compatibility()`` plus the app's checks.

Shared by the API's ``compatibility/`` endpoint and the ``opsmessaging_check`` command.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import ERROR, CheckMessage
from django.core.checks.registry import registry

from opsmessaging import pubsub
from opsmessaging.catalogue.base import to_json_value

_LEVELS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical"}


def app_check_messages() -> list[CheckMessage]:
    """Run the system checks that opsmessaging registers (not the whole project's)."""
    messages: list[CheckMessage] = []
    for check in registry.get_checks(include_deployment_checks=False):
        if check.__module__.partition(".")[0] == "opsmessaging":
            messages.extend(check(app_configs=None, databases=None))
    return messages


def describe_check(message: CheckMessage) -> dict[str, Any]:
    """Return one check message as JSON data."""
    return {
        "id": message.id,
        "level": _LEVELS.get(message.level, str(message.level)),
        "message": message.msg,
        "hint": message.hint,
    }


def compatibility_status() -> dict[str, Any]:
    """Return ``compatible``, the compatibility ``report`` and the app's ``checks``.

    ``compatible`` is true when the report says all is well and no check is an error.
    """
    report = pubsub.validate_messaging_compatibility()
    checks = app_check_messages()
    compatible = pubsub.is_compatible(report) and not any(
        message.level >= ERROR for message in checks
    )
    return {
        "compatible": compatible,
        "report": to_json_value(report, "report"),
        "checks": [describe_check(message) for message in checks],
    }

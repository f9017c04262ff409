"""The payload catalogue: the 36 payload types of the nine operational categories.

``get_type("SystemAlert")`` returns a type; ``catalogue.alerts.system_alert(...)`` builds a
payload with the original constructor's arguments and defaults.
"""

from __future__ import annotations

from opsmessaging.catalogue import (
    alerts,
    audit,
    diagnostics,
    health,
    lifecycle,
    logs,
    metrics,
    security,
    system,
)
from opsmessaging.catalogue.base import Field, Kind, Payload, PayloadType, registry
from opsmessaging.categories import Category, parse_category
from opsmessaging.exceptions import InvalidMessage

__all__ = [
    "Field",
    "Kind",
    "Payload",
    "PayloadType",
    "alerts",
    "all_types",
    "audit",
    "diagnostics",
    "get_type",
    "health",
    "lifecycle",
    "logs",
    "metrics",
    "security",
    "system",
    "type_for_tag",
    "types_in",
]


def all_types() -> list[PayloadType]:
    """Return every payload type, grouped by category in the categories' order."""
    order = list(Category)
    return sorted(registry().values(), key=lambda t: order.index(t.category))


def get_type(name: object, field: str = "type") -> PayloadType:
    """Return the payload type called ``name`` or raise ``InvalidMessage`` naming ``field``."""
    if isinstance(name, PayloadType):
        return name
    found = registry().get(name) if isinstance(name, str) else None
    if found is None:
        raise InvalidMessage(
            f"unknown payload type {name!r}; choose one of: {', '.join(sorted(registry()))}",
            field,
        )
    return found


def type_for_tag(tag: str) -> PayloadType:
    """Return the payload type whose message tag is ``tag`` (e.g. ``"system_alert"``)."""
    for payload_type in registry().values():
        if payload_type.tag == tag:
            return payload_type
    raise InvalidMessage(f"unknown message tag {tag!r}", "tag")


def types_in(category: Category | str) -> list[PayloadType]:
    """Return the payload types of one category."""
    cat = parse_category(category)
    return [t for t in registry().values() if t.category == cat]

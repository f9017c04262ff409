"""Alerts category: system alerts, acknowledgements, escalations, notification status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsmessaging import categories as c
from opsmessaging.catalogue.base import (
    Field,
    Kind,
    Payload,
    PayloadType,
    node_field,
    register,
    timestamp_field,
)
from opsmessaging.categories import Category
from opsmessaging.nodenames import generate_hex_id
from opsmessaging.timestamps import current_timestamp

ALERT_SEVERITIES = ("info", "warning", "error", "critical")
ALERT_CATEGORIES = ("system", "performance", "security", "data", "network")
ESCALATION_LEVELS = ("level1", "level2", "level3")
DELIVERY_METHODS = ("email", "sms", "webhook", "push")
NOTIFICATION_STATUSES = ("sent", "delivered", "failed", "bounced")
ACK_REQUIRED_SEVERITIES = ("error", "critical")


def _alert_topic(data: Mapping[str, Any]) -> str:
    return str(data.get("alert_type") or data["category"])


def _requires_ack(data: dict[str, Any]) -> None:
    if data.get("requires_ack") is None:
        data["requires_ack"] = data["severity"] in ACK_REQUIRED_SEVERITIES


SystemAlert = register(
    PayloadType(
        "SystemAlert",
        Category.ALERTS,
        "system_alert",
        (
            Field("alert_id", Kind.IDENTIFIER, required=True, factory=generate_hex_id),
            Field("severity", Kind.STRING, required=True, choices=ALERT_SEVERITIES),
            Field("category", Kind.STRING, required=True, choices=ALERT_CATEGORIES),
            Field("title", Kind.STRING, required=True),
            Field("description", Kind.STRING),
            Field("source", Kind.STRING, default="opsmessaging"),
            node_field(),
            Field("metadata", Kind.OBJECT, default={}),
            Field(
                "requires_ack",
                Kind.BOOLEAN,
                description="Defaults to severity in error/critical.",
            ),
            Field(
                "alert_type",
                Kind.IDENTIFIER,
                description="The kind of alert, e.g. node_failure.",
            ),
            timestamp_field(),
        ),
        "Something needs attention.",
        default_topic=_alert_topic,
        severity_field="severity",
        derive=_requires_ack,
    )
)

AlertAck = register(
    PayloadType(
        "AlertAck",
        Category.ALERTS,
        "alert_acknowledged",
        (
            Field("alert_id", Kind.IDENTIFIER, required=True),
            Field("ack_by", Kind.STRING, required=True),
            Field("ack_note", Kind.STRING),
            Field("resolution", Kind.STRING),
            Field(
                "ack_timestamp", Kind.DATETIME, required=True, factory=current_timestamp
            ),
            timestamp_field(),
        ),
        "Someone acknowledged an alert.",
        default_topic=c.ACKNOWLEDGEMENTS_TOPIC,
    )
)

AlertEscalation = register(
    PayloadType(
        "AlertEscalation",
        Category.ALERTS,
        "alert_escalated",
        (
            Field("alert_id", Kind.IDENTIFIER, required=True),
            Field("from_level", Kind.STRING, required=True, choices=ESCALATION_LEVELS),
            Field("to_level", Kind.STRING, required=True, choices=ESCALATION_LEVELS),
            Field("escalation_reason", Kind.STRING, required=True),
            Field("escalated_by", Kind.STRING, default="system"),
            Field("notify_contacts", Kind.ARRAY, items=Kind.STRING, default=[]),
            timestamp_field(),
        ),
        "An alert moved to another escalation level.",
        default_topic=c.ESCALATIONS_TOPIC,
    )
)

NotificationStatus = register(
    PayloadType(
        "NotificationStatus",
        Category.ALERTS,
        "notification_status",
        (
            Field("alert_id", Kind.IDENTIFIER, required=True),
            Field(
                "delivery_method", Kind.STRING, required=True, choices=DELIVERY_METHODS
            ),
            Field("recipient", Kind.STRING, required=True),
            Field("status", Kind.STRING, required=True, choices=NOTIFICATION_STATUSES),
            Field("error_reason", Kind.STRING),
            Field("attempts", Kind.INTEGER, default=1, minimum=1),
            timestamp_field(),
        ),
        "The delivery state of an alert notification.",
        default_topic=c.NOTIFICATIONS_TOPIC,
    )
)


def system_alert(
    severity: str,
    category: str,
    title: str,
    description: str | None,
    source: str,
    **opts: Any,
) -> Payload:
    return SystemAlert.new(
        severity=severity,
        category=category,
        title=title,
        description=description,
        source=source,
        **opts,
    )


def alert_ack(alert_id: str, ack_by: str, **opts: Any) -> Payload:
    return AlertAck.new(alert_id=alert_id, ack_by=ack_by, **opts)


def alert_escalation(
    alert_id: str, from_level: str, to_level: str, escalation_reason: str, **opts: Any
) -> Payload:
    return AlertEscalation.new(
        alert_id=alert_id,
        from_level=from_level,
        to_level=to_level,
        escalation_reason=escalation_reason,
        **opts,
    )


def notification_status(
    alert_id: str, delivery_method: str, recipient: str, status: str, **opts: Any
) -> Payload:
    return NotificationStatus.new(
        alert_id=alert_id,
        delivery_method=delivery_method,
        recipient=recipient,
        status=status,
        **opts,
    )


#: The alert category of the original's alert types (reference section 4.7); others are
#: "system" unless the caller says otherwise.
ALERT_TYPE_CATEGORIES = {
    "node_failure": "network",
    "store_failure": "data",
    "store_startup_failed": "data",
    "store_shutdown_failed": "data",
    "persistence_failure": "data",
    "health_degraded": "system",
    "health_critical": "system",
    "process_failure": "system",
    "resource_critical": "performance",
    "resource_warning": "performance",
    # Recoveries announced by the scheduled health and metrics runs.
    "health_recovered": "system",
    "resource_recovered": "performance",
}

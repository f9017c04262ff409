"""Audit category: data changes, admin actions, access logs, compliance events."""

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

DATA_CHANGE_ACTIONS = ("create", "update", "delete", "read")
ADMIN_ACTION_TYPES = (
    "user_created",
    "user_deleted",
    "permissions_changed",
    "config_updated",
    # Not in the original: what the Django admin does to any other object (its LogEntry
    # additions, changes and deletions), so that no admin action needs a false type.
    "object_created",
    "object_updated",
    "object_deleted",
)
COMPLIANCE_EVENT_TYPES = (
    "data_retention",
    "data_export",
    "data_deletion",
    "policy_violation",
)


def _data_change_topic(data: Mapping[str, Any]) -> str:
    return str(data.get("event_type") or c.DATA_CHANGES_TOPIC)


DataChange = register(
    PayloadType(
        "DataChange",
        Category.AUDIT,
        "data_change",
        (
            Field(
                "user_id",
                Kind.STRING,
                required=True,
                description="Who made the change.",
            ),
            Field("resource_type", Kind.IDENTIFIER),
            Field("resource_id", Kind.STRING, required=True),
            Field("action", Kind.STRING, required=True, choices=DATA_CHANGE_ACTIONS),
            Field("changes", Kind.OBJECT, default={}),
            Field("metadata", Kind.OBJECT, default={}),
            Field("source_ip", Kind.IP_ADDRESS),
            Field("event_type", Kind.IDENTIFIER, description="The audit event kind."),
            node_field(),
            timestamp_field(),
        ),
        "Someone created, changed, deleted or read data.",
        default_topic=_data_change_topic,
    )
)

AdminAction = register(
    PayloadType(
        "AdminAction",
        Category.AUDIT,
        "admin_action",
        (
            Field("admin_user_id", Kind.STRING, required=True),
            Field(
                "action_type", Kind.STRING, required=True, choices=ADMIN_ACTION_TYPES
            ),
            Field("target_resource", Kind.STRING, required=True),
            Field("details", Kind.OBJECT, default={}),
            Field("justification", Kind.STRING),
            Field("source_ip", Kind.IP_ADDRESS),
            node_field(),
            timestamp_field(),
        ),
        "An administrator acted.",
        default_topic=c.ADMIN_ACTIONS_TOPIC,
    )
)

AccessLog = register(
    PayloadType(
        "AccessLog",
        Category.AUDIT,
        "access_log",
        (
            Field("user_id", Kind.STRING, required=True),
            Field("resource_type", Kind.IDENTIFIER, required=True),
            Field("resource_id", Kind.STRING, required=True),
            Field("action", Kind.IDENTIFIER, required=True),
            Field("success", Kind.BOOLEAN, required=True),
            Field("duration_ms", Kind.NUMBER, minimum=0),
            Field("source_ip", Kind.IP_ADDRESS),
            Field("user_agent", Kind.STRING),
            node_field(),
            timestamp_field(),
        ),
        "Someone accessed a resource.",
        default_topic=c.ACCESS_LOGS_TOPIC,
    )
)

ComplianceEvent = register(
    PayloadType(
        "ComplianceEvent",
        Category.AUDIT,
        "compliance_event",
        (
            Field(
                "event_type", Kind.STRING, required=True, choices=COMPLIANCE_EVENT_TYPES
            ),
            Field("compliance_rule", Kind.STRING, required=True),
            Field("affected_data", Kind.ANY, required=True),
            Field("action_taken", Kind.STRING, required=True),
            Field("user_id", Kind.STRING),
            Field("automated", Kind.BOOLEAN, default=False),
            Field("metadata", Kind.OBJECT, default={}),
            node_field(),
            timestamp_field(),
        ),
        "A compliance rule was applied or violated.",
        default_topic=c.COMPLIANCE_TOPIC,
    )
)


def data_change(
    user_id: str, resource_type: str | None, resource_id: str, action: str, **opts: Any
) -> Payload:
    return DataChange.new(
        user_id=user_id,
        resource_type=resource_type,
        resource_id=resource_id,
        action=action,
        **opts,
    )


def admin_action(
    admin_user_id: str, action_type: str, target_resource: str, **opts: Any
) -> Payload:
    return AdminAction.new(
        admin_user_id=admin_user_id,
        action_type=action_type,
        target_resource=target_resource,
        **opts,
    )


def access_log(
    user_id: str,
    resource_type: str,
    resource_id: str,
    action: str,
    success: bool,
    **opts: Any,
) -> Payload:
    return AccessLog.new(
        user_id=user_id,
        resource_type=resource_type,
        resource_id=resource_id,
        action=action,
        success=success,
        **opts,
    )


def compliance_event(
    event_type: str,
    compliance_rule: str,
    affected_data: Any,
    action_taken: str,
    **opts: Any,
) -> Payload:
    return ComplianceEvent.new(
        event_type=event_type,
        compliance_rule=compliance_rule,
        affected_data=affected_data,
        action_taken=action_taken,
        **opts,
    )

"""System category: lifecycle, configuration changes and feature toggles."""

from __future__ import annotations

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

SYSTEM_LIFECYCLE_EVENTS = ("starting", "started", "stopping", "stopped")

SystemConfig = register(
    PayloadType(
        "SystemConfig",
        Category.SYSTEM,
        "system_config_changed",
        (
            Field("component", Kind.IDENTIFIER, required=True),
            Field("changes", Kind.OBJECT, required=True),
            Field("previous_config", Kind.OBJECT),
            timestamp_field(),
            Field("changed_by", Kind.STRING, default="system"),
            node_field(),
        ),
        "A component's configuration changed.",
        default_topic=c.CONFIG_TOPIC,
    )
)

SystemLifecycle = register(
    PayloadType(
        "SystemLifecycle",
        Category.SYSTEM,
        "system_lifecycle_event",
        (
            Field("event", Kind.STRING, required=True, choices=SYSTEM_LIFECYCLE_EVENTS),
            Field("system_name", Kind.IDENTIFIER, required=True),
            Field("version", Kind.STRING, required=True),
            node_field(required=True),
            timestamp_field(),
        ),
        "A system is starting, started, stopping or stopped.",
        default_topic=c.LIFECYCLE_TOPIC,
    )
)

FeatureToggle = register(
    PayloadType(
        "FeatureToggle",
        Category.SYSTEM,
        "feature_toggle_changed",
        (
            Field("feature", Kind.IDENTIFIER, required=True),
            Field("enabled", Kind.BOOLEAN, required=True),
            Field("previous_state", Kind.BOOLEAN),
            Field("changed_by", Kind.STRING, required=True),
            timestamp_field(),
            node_field(required=True),
        ),
        "A feature was switched on or off.",
        default_topic=c.FEATURES_TOPIC,
    )
)


def system_config(component: str, changes: dict[str, Any], **opts: Any) -> Payload:
    return SystemConfig.new(component=component, changes=changes, **opts)


def system_lifecycle(
    event: str, system_name: str, version: str, **opts: Any
) -> Payload:
    return SystemLifecycle.new(
        event=event, system_name=system_name, version=version, **opts
    )


def feature_toggle(
    feature: str,
    enabled: bool,
    previous_state: bool | None,
    changed_by: str,
    **opts: Any,
) -> Payload:
    return FeatureToggle.new(
        feature=feature,
        enabled=enabled,
        previous_state=previous_state,
        changed_by=changed_by,
        **opts,
    )

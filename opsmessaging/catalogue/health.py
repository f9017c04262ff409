"""Health category: node, cluster and component health, and health checks."""

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

NODE_STATUSES = ("healthy", "degraded", "unhealthy", "unknown")
HEALTH_STATUSES = ("healthy", "degraded", "unhealthy")
QUORUM_STATUSES = ("available", "lost")
CHECK_RESULTS = ("pass", "fail", "timeout")

NodeHealth = register(
    PayloadType(
        "NodeHealth",
        Category.HEALTH,
        "node_health_updated",
        (
            node_field(required=True, description="The node whose health this is."),
            Field("status", Kind.STRING, required=True, choices=NODE_STATUSES),
            Field("checks", Kind.OBJECT, default={}),
            Field("load_avg", Kind.NUMBER, minimum=0),
            Field("memory_usage", Kind.NUMBER, minimum=0),
            Field("disk_usage", Kind.NUMBER, minimum=0),
            timestamp_field(),
        ),
        "The overall health of one node.",
        default_topic=c.NODE_HEALTH_TOPIC,
    )
)

ClusterHealth = register(
    PayloadType(
        "ClusterHealth",
        Category.HEALTH,
        "cluster_health_updated",
        (
            Field("status", Kind.STRING, required=True, choices=HEALTH_STATUSES),
            Field("healthy_nodes", Kind.ARRAY, required=True, items=Kind.NODE),
            Field("total_nodes", Kind.INTEGER, required=True, minimum=0),
            Field("degraded_nodes", Kind.ARRAY, items=Kind.NODE, default=[]),
            Field("unhealthy_nodes", Kind.ARRAY, items=Kind.NODE, default=[]),
            Field(
                "quorum_status",
                Kind.STRING,
                choices=QUORUM_STATUSES,
                default="available",
            ),
            Field(
                "event_type",
                Kind.IDENTIFIER,
                description="What caused this report, e.g. node_failure or node_reconnected.",
            ),
            timestamp_field(),
        ),
        "The health of the whole cluster.",
        default_topic=c.CLUSTER_HEALTH_TOPIC,
    )
)


def _component_health_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    store_id = (data.get("details") or {}).get("store_id")
    return {**data, "store_id": store_id if isinstance(store_id, str) else None}


ComponentHealth = register(
    PayloadType(
        "ComponentHealth",
        Category.HEALTH,
        "component_health_updated",
        (
            Field("component", Kind.IDENTIFIER, required=True),
            node_field(required=True),
            Field("status", Kind.STRING, required=True, choices=HEALTH_STATUSES),
            Field("details", Kind.OBJECT, default={}),
            Field("last_check", Kind.DATETIME),
            Field(
                "store_id",
                Kind.IDENTIFIER,
                description="The store the component belongs to.",
                since=2,
            ),
            timestamp_field(),
        ),
        "The health of one component on one node.",
        default_topic=c.COMPONENT_HEALTH_TOPIC,
        # v1 is ExESDBGater's struct; v2 adds store_id, which upstream lost in the details.
        version=2,
        upcasters={1: _component_health_v1_to_v2},
    )
)

HealthCheck = register(
    PayloadType(
        "HealthCheck",
        Category.HEALTH,
        "health_check_completed",
        (
            Field("check_name", Kind.IDENTIFIER, required=True),
            node_field(required=True),
            Field("result", Kind.STRING, required=True, choices=CHECK_RESULTS),
            Field("duration_ms", Kind.NUMBER, minimum=0),
            Field("details", Kind.OBJECT, default={}),
            Field("error", Kind.STRING),
            timestamp_field(),
        ),
        "The outcome of one health check.",
        default_topic=c.HEALTH_CHECKS_TOPIC,
    )
)


def node_health(node: str, status: str, **opts: Any) -> Payload:
    return NodeHealth.new(node=node, status=status, **opts)


def cluster_health(
    status: str, healthy_nodes: list[str], total_nodes: int, **opts: Any
) -> Payload:
    return ClusterHealth.new(
        status=status, healthy_nodes=healthy_nodes, total_nodes=total_nodes, **opts
    )


def component_health(component: str, node: str, status: str, **opts: Any) -> Payload:
    return ComponentHealth.new(component=component, node=node, status=status, **opts)


def health_check(check_name: str, node: str, result: str, **opts: Any) -> Payload:
    return HealthCheck.new(check_name=check_name, node=node, result=result, **opts)

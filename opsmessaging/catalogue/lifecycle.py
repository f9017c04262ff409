"""Lifecycle category: node and process lifecycle, supervision, cluster membership."""

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
from opsmessaging.nodenames import this_node

NODE_LIFECYCLE_EVENTS = ("joining", "joined", "leaving", "left", "down", "reconnected")
PROCESS_LIFECYCLE_EVENTS = ("started", "stopped", "crashed", "restarted")
SUPERVISION_EVENTS = ("child_started", "child_terminated", "restart_limit_exceeded")
MEMBERSHIP_EVENTS = (
    "node_added",
    "node_removed",
    "partition_detected",
    "partition_healed",
)
QUORUM_STATUSES = ("available", "lost")


def _total_nodes(data: dict[str, Any]) -> None:
    if data.get("total_nodes") is None:
        data["total_nodes"] = len(data["active_nodes"])


NodeLifecycle = register(
    PayloadType(
        "NodeLifecycle",
        Category.LIFECYCLE,
        "node_lifecycle_event",
        (
            node_field(required=True),
            Field("event", Kind.STRING, required=True, choices=NODE_LIFECYCLE_EVENTS),
            Field("cluster_size", Kind.INTEGER, minimum=0),
            Field("metadata", Kind.OBJECT, default={}),
            timestamp_field(),
        ),
        "A node joined, left, went down or came back.",
        default_topic=c.NODE_LIFECYCLE_TOPIC,
    )
)

ProcessLifecycle = register(
    PayloadType(
        "ProcessLifecycle",
        Category.LIFECYCLE,
        "process_lifecycle_event",
        (
            Field(
                "pid",
                Kind.STRING,
                required=True,
                description="Process id or process name.",
            ),
            Field("name", Kind.STRING),
            Field("module", Kind.STRING, required=True),
            Field(
                "event", Kind.STRING, required=True, choices=PROCESS_LIFECYCLE_EVENTS
            ),
            node_field(),
            Field("reason", Kind.STRING),
            Field("restart_count", Kind.INTEGER, default=0, minimum=0),
            Field("details", Kind.OBJECT, default={}),
            timestamp_field(),
        ),
        "A process started, stopped, crashed or restarted.",
        default_topic=c.PROCESS_LIFECYCLE_TOPIC,
    )
)

SupervisionEvent = register(
    PayloadType(
        "SupervisionEvent",
        Category.LIFECYCLE,
        "supervision_event",
        (
            Field("supervisor", Kind.STRING, required=True),
            Field("child_spec", Kind.ANY, required=True),
            Field("event", Kind.STRING, required=True, choices=SUPERVISION_EVENTS),
            node_field(),
            Field("reason", Kind.STRING),
            timestamp_field(),
        ),
        "A supervisor started or lost a child.",
        default_topic=c.SUPERVISION_TOPIC,
    )
)

ClusterMembership = register(
    PayloadType(
        "ClusterMembership",
        Category.LIFECYCLE,
        "cluster_membership_changed",
        (
            Field("event", Kind.STRING, required=True, choices=MEMBERSHIP_EVENTS),
            Field("affected_nodes", Kind.ARRAY, required=True, items=Kind.NODE),
            Field("active_nodes", Kind.ARRAY, required=True, items=Kind.NODE),
            Field(
                "total_nodes",
                Kind.INTEGER,
                minimum=0,
                description="Defaults to len(active_nodes).",
            ),
            Field(
                "quorum_status",
                Kind.STRING,
                choices=QUORUM_STATUSES,
                default="available",
            ),
            timestamp_field(),
            Field("originating_node", Kind.NODE, required=True, factory=this_node),
        ),
        "Nodes joined or left the cluster.",
        default_topic=c.CLUSTER_MEMBERSHIP_TOPIC,
        derive=_total_nodes,
    )
)


def node_lifecycle(node: str, event: str, cluster_size: int, **opts: Any) -> Payload:
    return NodeLifecycle.new(node=node, event=event, cluster_size=cluster_size, **opts)


def process_lifecycle(pid: str, module: str, event: str, **opts: Any) -> Payload:
    return ProcessLifecycle.new(pid=pid, module=module, event=event, **opts)


def supervision_event(
    supervisor: str, child_spec: Any, event: str, **opts: Any
) -> Payload:
    return SupervisionEvent.new(
        supervisor=supervisor, child_spec=child_spec, event=event, **opts
    )


def cluster_membership(
    event: str, affected_nodes: list[str], active_nodes: list[str], **opts: Any
) -> Payload:
    return ClusterMembership.new(
        event=event, affected_nodes=affected_nodes, active_nodes=active_nodes, **opts
    )

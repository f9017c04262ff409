"""The public broadcast API: ``broadcast_*``, ``broadcast``, ``broadcast_typed`` and
``broadcast_batch``.

Every function builds its payload (``opsmessaging.builders``), wraps it in a validated
envelope and hands it to ``opsmessaging.publishing.publish``, the one path that stores
every message; delivery to live subscribers follows from the committed log. Invalid input
raises ``InvalidMessage`` and stores nothing; a store failure is returned, not raised.
While the database is unreachable, messages wait in this node's spool and are stored, in
order, once it is back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opsmessaging import builders
from opsmessaging.builders import BATCH_KINDS, envelope_for, quorum_status
from opsmessaging.catalogue import Payload, get_type
from opsmessaging.compatibility import is_compatible, validate_messaging_compatibility
from opsmessaging.publishing import (
    BatchResult,
    BroadcastResult,
    disable,
    drain_spool,
    enable,
    enabled,
    health_broadcast_interval,
    metrics_broadcast_interval,
    publish,
    publish_many,
    reset,
)


def broadcast(payload: Payload, **options: Any) -> BroadcastResult:
    """Broadcast any catalogue payload; ``topic=`` defaults to its type's default topic."""
    return publish(envelope_for(payload, **options))


def broadcast_typed(
    payload_type: str, payload: Mapping[str, Any] | None = None, **options: Any
) -> BroadcastResult:
    """Broadcast a payload given as its type's name and a mapping of its fields.

    This is the path of the HTTP API and the ``opsmessaging_broadcast`` command: field
    values are plain JSON data (timestamps as RFC 3339 strings). ``options`` are ``topic``,
    ``category`` (refused when it is not the type's) and the node fields; ``node`` also
    fills the payload's own node field when it has one and the payload leaves it out.
    """
    return publish(builders.typed(payload_type, payload, **options))


def broadcast_system_lifecycle(
    event: str, system_name: str, version: str, **opts: Any
) -> BroadcastResult:
    """Broadcast a ``SystemLifecycle`` (starting/started/stopping/stopped) to system/"lifecycle"."""
    return publish(builders.system_lifecycle(event, system_name, version, **opts))


def broadcast_system_config(
    component: str,
    changes: dict[str, Any],
    previous_config: dict[str, Any] | None = None,
    changed_by: str = "system",
    **opts: Any,
) -> BroadcastResult:
    """Broadcast a ``SystemConfig`` change to system/"config"."""
    return publish(
        builders.system_config(component, changes, previous_config, changed_by, **opts)
    )


def broadcast_store_health(
    store_id: str,
    component: str,
    status: str,
    details: Mapping[str, Any] | None = None,
    **opts: Any,
) -> BroadcastResult:
    """Broadcast a store component's ``ComponentHealth`` to health/"<store_id>:health"."""
    return publish(builders.store_health(store_id, component, status, details, **opts))


def broadcast_cluster_health(
    nodes: Sequence[str], failed_nodes: Sequence[str], event_type: str, **opts: Any
) -> BroadcastResult:
    """Broadcast a ``ClusterHealth`` computed from known and failed nodes to "cluster:health".

    Status is healthy with no failure, degraded with failures but a quorum, unhealthy when
    the quorum (a strict majority of all nodes) is lost.
    """
    return publish(builders.cluster_health(nodes, failed_nodes, event_type, **opts))


def broadcast_health_update(
    component: str, status: str, details: Mapping[str, Any] | None = None, **opts: Any
) -> BroadcastResult:
    """Broadcast a component's ``ComponentHealth`` to health/"component_health"."""
    return publish(builders.health_update(component, status, details, **opts))


def broadcast_metrics(
    component: str, metrics: Mapping[str, Any], **opts: Any
) -> BroadcastResult:
    """Broadcast a component's metrics to metrics/"<component>".

    ``persistence``/``store`` give a ``PerformanceMetric`` of operations, ``emitter``/
    ``subscription`` a ``ThroughputMetric``, any other component a ``PerformanceMetric`` of
    ``metrics["value"]``; the whole map is kept in ``tags``.
    """
    return publish(builders.metrics(component, metrics, **opts))


def broadcast_alert(
    alert_type: str,
    severity: str,
    message: str,
    context: Mapping[str, Any] | None = None,
    **opts: Any,
) -> BroadcastResult:
    """Broadcast a ``SystemAlert`` to alerts/"<alert_type>"; ``context`` is its metadata."""
    return publish(builders.alert(alert_type, severity, message, context, **opts))


def broadcast_audit_event(
    event_type: str,
    actor: str,
    resource: str,
    action: str,
    details: Mapping[str, Any] | None = None,
    **opts: Any,
) -> BroadcastResult:
    """Broadcast a ``DataChange`` by ``actor`` on ``resource`` to audit/"<event_type>"."""
    return publish(
        builders.audit_event(event_type, actor, resource, action, details, **opts)
    )


def broadcast_lifecycle_event(
    event_type: str,
    process_name: str,
    details: Mapping[str, Any] | None = None,
    **opts: Any,
) -> BroadcastResult:
    """Broadcast a ``ProcessLifecycle`` to lifecycle/"process_lifecycle"."""
    return publish(builders.lifecycle_event(event_type, process_name, details, **opts))


def broadcast_diagnostic(
    diagnostic_type: str, component: str, data: Mapping[str, Any], **opts: Any
) -> BroadcastResult:
    """Broadcast a ``DebugTrace`` to diagnostics/"diagnostics"."""
    return publish(builders.diagnostic(diagnostic_type, component, data, **opts))


def broadcast_security_event(kind: str, **opts: Any) -> BroadcastResult:
    """Broadcast a security payload: ``kind`` is auth_event, access_violation,
    security_alert or session_event; the other keywords are its fields."""
    return publish(builders.security_event(kind, **opts))


def broadcast_log_entry(
    level: str | int, message: str, module: str = "root", **opts: Any
) -> BroadcastResult:
    """Broadcast a ``LogEntry``; ``level`` may be a catalogue level or a Python logging level."""
    return publish(builders.log_entry(level, message, module, **opts))


def broadcast_batch(events: Iterable[object], **opts: Any) -> BatchResult:
    """Validate every event, then store them all in one transaction.

    Each event is a ``Payload`` or a tuple such as ``("alert", type, severity, message,
    context)`` (see ``BATCH_KINDS``); ``opts`` apply to all. Validation is all-or-nothing:
    one bad event raises ``InvalidMessage`` naming it (``events[3].severity``) and nothing is
    stored. A store failure fails the whole batch and is counted in ``errors``; so is a
    failed delivery, whose results keep their stored messages.
    """
    return publish_many(builders.batch_envelopes(events, **opts))


__all__ = [
    "BATCH_KINDS",
    "BatchResult",
    "BroadcastResult",
    "broadcast",
    "broadcast_alert",
    "broadcast_audit_event",
    "broadcast_batch",
    "broadcast_cluster_health",
    "broadcast_diagnostic",
    "broadcast_health_update",
    "broadcast_lifecycle_event",
    "broadcast_log_entry",
    "broadcast_metrics",
    "broadcast_security_event",
    "broadcast_store_health",
    "broadcast_system_config",
    "broadcast_system_lifecycle",
    "broadcast_typed",
    "disable",
    "drain_spool",
    "enable",
    "enabled",
    "get_type",
    "health_broadcast_interval",
    "is_compatible",
    "metrics_broadcast_interval",
    "publish",
    "publish_many",
    "quorum_status",
    "reset",
    "validate_messaging_compatibility",
]

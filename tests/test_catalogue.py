"""Tests of the payload catalogue against section 6 of the ExESDB reference.

The reference's allowed values are enforced here (the original only listed them in
comments), and its struct validators' required fields reject None.
"""

from __future__ import annotations

import inspect
import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import pytest
from django.test import override_settings

from opsmessaging import helpers
from opsmessaging.catalogue import (
    Kind,
    Payload,
    PayloadType,
    alerts,
    all_types,
    audit,
    diagnostics,
    get_type,
    health,
    lifecycle,
    logs,
    metrics,
    security,
    system,
    type_for_tag,
    types_in,
)
from opsmessaging.catalogue.base import register, registry
from opsmessaging.categories import Category
from opsmessaging.exceptions import InvalidMessage, UnknownCategory
from opsmessaging.severity import Severity

THIS_NODE = "web1@testhost"
THIS_NODE_SETTINGS = {"NODE_NAME": THIS_NODE}
WIRE_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# --- the reference's catalogue (section 6) -------------------------------------------------

#: name -> (category, message tag, constructor), in the reference's order.
TYPES: dict[str, tuple[Category, str, Callable[..., Payload]]] = {
    "SystemConfig": (Category.SYSTEM, "system_config_changed", system.system_config),
    "SystemLifecycle": (
        Category.SYSTEM,
        "system_lifecycle_event",
        system.system_lifecycle,
    ),
    "FeatureToggle": (Category.SYSTEM, "feature_toggle_changed", system.feature_toggle),
    "NodeHealth": (Category.HEALTH, "node_health_updated", health.node_health),
    "ClusterHealth": (Category.HEALTH, "cluster_health_updated", health.cluster_health),
    "ComponentHealth": (
        Category.HEALTH,
        "component_health_updated",
        health.component_health,
    ),
    "HealthCheck": (Category.HEALTH, "health_check_completed", health.health_check),
    "PerformanceMetric": (
        Category.METRICS,
        "performance_metric",
        metrics.performance_metric,
    ),
    "ThroughputMetric": (
        Category.METRICS,
        "throughput_metric",
        metrics.throughput_metric,
    ),
    "LatencyMetric": (Category.METRICS, "latency_metric", metrics.latency_metric),
    "ResourceUsage": (Category.METRICS, "resource_usage", metrics.resource_usage),
    "MetricAlert": (Category.METRICS, "metric_alert", metrics.metric_alert),
    "SystemAlert": (Category.ALERTS, "system_alert", alerts.system_alert),
    "AlertAck": (Category.ALERTS, "alert_acknowledged", alerts.alert_ack),
    "AlertEscalation": (Category.ALERTS, "alert_escalated", alerts.alert_escalation),
    "NotificationStatus": (
        Category.ALERTS,
        "notification_status",
        alerts.notification_status,
    ),
    "DataChange": (Category.AUDIT, "data_change", audit.data_change),
    "AdminAction": (Category.AUDIT, "admin_action", audit.admin_action),
    "AccessLog": (Category.AUDIT, "access_log", audit.access_log),
    "ComplianceEvent": (Category.AUDIT, "compliance_event", audit.compliance_event),
    "DebugTrace": (Category.DIAGNOSTICS, "debug_trace", diagnostics.debug_trace),
    "PerformanceAnalysis": (
        Category.DIAGNOSTICS,
        "performance_analysis",
        diagnostics.performance_analysis,
    ),
    "SystemState": (Category.DIAGNOSTICS, "system_state", diagnostics.system_state),
    "ErrorAnalysis": (
        Category.DIAGNOSTICS,
        "error_analysis",
        diagnostics.error_analysis,
    ),
    "NodeLifecycle": (
        Category.LIFECYCLE,
        "node_lifecycle_event",
        lifecycle.node_lifecycle,
    ),
    "ProcessLifecycle": (
        Category.LIFECYCLE,
        "process_lifecycle_event",
        lifecycle.process_lifecycle,
    ),
    "SupervisionEvent": (
        Category.LIFECYCLE,
        "supervision_event",
        lifecycle.supervision_event,
    ),
    "ClusterMembership": (
        Category.LIFECYCLE,
        "cluster_membership_changed",
        lifecycle.cluster_membership,
    ),
    "LogEntry": (Category.LOGGING, "log_entry", logs.log_entry),
    "LogSummary": (Category.LOGGING, "log_summary", logs.log_summary),
    "LogFilter": (Category.LOGGING, "log_filter_updated", logs.log_filter),
    "LogRotation": (Category.LOGGING, "log_rotation", logs.log_rotation),
    "AuthEvent": (Category.SECURITY, "auth_event", security.auth_event),
    "AccessViolation": (
        Category.SECURITY,
        "access_violation",
        security.access_violation,
    ),
    "SecurityAlert": (Category.SECURITY, "security_alert", security.security_alert),
    "SessionEvent": (Category.SECURITY, "session_event", security.session_event),
}
NAMES = list(TYPES)

#: name -> the struct's fields, in the reference's order.
REFERENCE_FIELDS: dict[str, tuple[str, ...]] = {
    "SystemConfig": (
        "component",
        "changes",
        "previous_config",
        "timestamp",
        "changed_by",
        "node",
    ),
    "SystemLifecycle": ("event", "system_name", "version", "node", "timestamp"),
    "FeatureToggle": (
        "feature",
        "enabled",
        "previous_state",
        "changed_by",
        "timestamp",
        "node",
    ),
    "NodeHealth": (
        "node",
        "status",
        "checks",
        "load_avg",
        "memory_usage",
        "disk_usage",
        "timestamp",
    ),
    "ClusterHealth": (
        "status",
        "healthy_nodes",
        "total_nodes",
        "degraded_nodes",
        "unhealthy_nodes",
        "quorum_status",
        "timestamp",
    ),
    "ComponentHealth": (
        "component",
        "node",
        "status",
        "details",
        "last_check",
        "timestamp",
    ),
    "HealthCheck": (
        "check_name",
        "node",
        "result",
        "duration_ms",
        "details",
        "error",
        "timestamp",
    ),
    "PerformanceMetric": (
        "metric_name",
        "value",
        "unit",
        "node",
        "component",
        "tags",
        "timestamp",
    ),
    "ThroughputMetric": (
        "operation",
        "count",
        "duration_ms",
        "rate_per_sec",
        "node",
        "timestamp",
    ),
    "LatencyMetric": (
        "operation",
        "latency_ms",
        "percentile",
        "sample_count",
        "node",
        "timestamp",
    ),
    "ResourceUsage": (
        "resource_type",
        "usage_percent",
        "total_available",
        "current_used",
        "node",
        "timestamp",
    ),
    "MetricAlert": (
        "metric_name",
        "current_value",
        "threshold_value",
        "threshold_type",
        "severity",
        "node",
        "timestamp",
    ),
    "SystemAlert": (
        "alert_id",
        "severity",
        "category",
        "title",
        "description",
        "source",
        "node",
        "metadata",
        "requires_ack",
        "timestamp",
    ),
    "AlertAck": (
        "alert_id",
        "ack_by",
        "ack_note",
        "resolution",
        "ack_timestamp",
        "timestamp",
    ),
    "AlertEscalation": (
        "alert_id",
        "from_level",
        "to_level",
        "escalation_reason",
        "escalated_by",
        "notify_contacts",
        "timestamp",
    ),
    "NotificationStatus": (
        "alert_id",
        "delivery_method",
        "recipient",
        "status",
        "error_reason",
        "attempts",
        "timestamp",
    ),
    "DataChange": (
        "user_id",
        "resource_type",
        "resource_id",
        "action",
        "changes",
        "metadata",
        "source_ip",
        "node",
        "timestamp",
    ),
    "AdminAction": (
        "admin_user_id",
        "action_type",
        "target_resource",
        "details",
        "justification",
        "source_ip",
        "node",
        "timestamp",
    ),
    "AccessLog": (
        "user_id",
        "resource_type",
        "resource_id",
        "action",
        "success",
        "duration_ms",
        "source_ip",
        "user_agent",
        "node",
        "timestamp",
    ),
    "ComplianceEvent": (
        "event_type",
        "compliance_rule",
        "affected_data",
        "action_taken",
        "user_id",
        "automated",
        "metadata",
        "node",
        "timestamp",
    ),
    "DebugTrace": (
        "trace_id",
        "component",
        "operation",
        "trace_data",
        "stack_trace",
        "duration_ms",
        "node",
        "metadata",
        "timestamp",
    ),
    "PerformanceAnalysis": (
        "analysis_id",
        "component",
        "analysis_type",
        "findings",
        "recommendations",
        "severity",
        "node",
        "timestamp",
    ),
    "SystemState": (
        "snapshot_id",
        "snapshot_type",
        "state_data",
        "process_count",
        "memory_usage",
        "node",
        "trigger_reason",
        "timestamp",
    ),
    "ErrorAnalysis": (
        "error_id",
        "error_type",
        "error_message",
        "stack_trace",
        "context",
        "frequency",
        "first_seen",
        "last_seen",
        "node",
        "timestamp",
    ),
    "NodeLifecycle": ("node", "event", "cluster_size", "metadata", "timestamp"),
    "ProcessLifecycle": (
        "pid",
        "name",
        "module",
        "event",
        "node",
        "reason",
        "restart_count",
        "timestamp",
    ),
    "SupervisionEvent": (
        "supervisor",
        "child_spec",
        "event",
        "node",
        "reason",
        "timestamp",
    ),
    "ClusterMembership": (
        "event",
        "affected_nodes",
        "active_nodes",
        "total_nodes",
        "quorum_status",
        "timestamp",
        "originating_node",
    ),
    "LogEntry": (
        "log_id",
        "level",
        "message",
        "module",
        "function",
        "line",
        "node",
        "pid",
        "metadata",
        "timestamp",
    ),
    "LogSummary": (
        "summary_id",
        "time_period",
        "log_counts",
        "top_errors",
        "error_rate",
        "nodes_reporting",
        "total_logs",
        "timestamp",
    ),
    "LogFilter": (
        "filter_id",
        "filter_type",
        "filter_value",
        "action",
        "enabled",
        "created_by",
        "metadata",
        "timestamp",
    ),
    "LogRotation": (
        "rotation_id",
        "log_type",
        "old_file",
        "new_file",
        "file_size",
        "entries_count",
        "node",
        "timestamp",
    ),
    "AuthEvent": (
        "user_id",
        "event_type",
        "auth_method",
        "source_ip",
        "user_agent",
        "node",
        "metadata",
        "timestamp",
    ),
    "AccessViolation": (
        "user_id",
        "violation_type",
        "resource",
        "action",
        "source_ip",
        "severity",
        "metadata",
        "timestamp",
    ),
    "SecurityAlert": (
        "alert_type",
        "severity",
        "description",
        "affected_users",
        "source_ip",
        "node",
        "metadata",
        "timestamp",
    ),
    "SessionEvent": (
        "session_id",
        "user_id",
        "event_type",
        "duration_ms",
        "source_ip",
        "node",
        "timestamp",
    ),
}

#: Fields the port adds to a struct (used by the broadcast_* functions of section 4).
EXTENSION_FIELDS: dict[str, set[str]] = {
    "ClusterHealth": {"event_type"},
    "ComponentHealth": {"store_id"},
    "SystemAlert": {"alert_type"},
    "DataChange": {"event_type"},
    "ProcessLifecycle": {"details"},
}

#: name -> the constructor's positional arguments (reference order) with sample values.
SAMPLES: dict[str, dict[str, Any]] = {
    "SystemConfig": {"component": "database", "changes": {"pool_size": 10}},
    "SystemLifecycle": {
        "event": "started",
        "system_name": "test_system",
        "version": "1.0.0",
    },
    "FeatureToggle": {
        "feature": "dark_mode",
        "enabled": True,
        "previous_state": False,
        "changed_by": "admin",
    },
    "NodeHealth": {"node": "node1@host", "status": "healthy"},
    "ClusterHealth": {
        "status": "healthy",
        "healthy_nodes": ["node1@host", "node2@host"],
        "total_nodes": 2,
    },
    "ComponentHealth": {
        "component": "event_store",
        "node": "node1@host",
        "status": "degraded",
    },
    "HealthCheck": {"check_name": "db_ping", "node": "node1@host", "result": "pass"},
    "PerformanceMetric": {"metric_name": "write_latency", "value": 12.5, "unit": "ms"},
    "ThroughputMetric": {
        "operation": "event_processing",
        "count": 30,
        "duration_ms": 1500,
    },
    "LatencyMetric": {
        "operation": "append",
        "latency_ms": 4.25,
        "percentile": "p95",
        "sample_count": 100,
    },
    "ResourceUsage": {
        "resource_type": "memory",
        "usage_percent": 42.5,
        "total_available": 1024,
        "current_used": 435.2,
    },
    "MetricAlert": {
        "metric_name": "cpu",
        "current_value": 95,
        "threshold_value": 90,
        "threshold_type": "max",
        "severity": "critical",
    },
    "SystemAlert": {
        "severity": "warning",
        "category": "performance",
        "title": "High load",
        "description": "load above 90%",
        "source": "ExESDB",
    },
    "AlertAck": {"alert_id": "0123456789abcdef", "ack_by": "oncall"},
    "AlertEscalation": {
        "alert_id": "0123456789abcdef",
        "from_level": "level1",
        "to_level": "level2",
        "escalation_reason": "not acknowledged in 15 minutes",
    },
    "NotificationStatus": {
        "alert_id": "0123456789abcdef",
        "delivery_method": "email",
        "recipient": "ops@example.com",
        "status": "sent",
    },
    "DataChange": {
        "user_id": "user-1",
        "resource_type": "stream",
        "resource_id": "orders-1",
        "action": "update",
    },
    "AdminAction": {
        "admin_user_id": "admin",
        "action_type": "config_updated",
        "target_resource": "settings",
    },
    "AccessLog": {
        "user_id": "user-1",
        "resource_type": "stream",
        "resource_id": "orders-1",
        "action": "read",
        "success": True,
    },
    "ComplianceEvent": {
        "event_type": "data_retention",
        "compliance_rule": "gdpr-30-days",
        "affected_data": {"streams": 3},
        "action_taken": "purged",
    },
    "DebugTrace": {
        "component": "emitter",
        "operation": "dispatch",
        "trace_data": {"events": 2},
    },
    "PerformanceAnalysis": {
        "component": "store",
        "analysis_type": "bottleneck",
        "findings": {"slowest": "disk"},
    },
    "SystemState": {
        "snapshot_type": "full",
        "state_data": {"processes": 10},
        "trigger_reason": "manual",
    },
    "ErrorAnalysis": {"error_type": "timeout", "error_message": "request timed out"},
    "NodeLifecycle": {"node": "node2@host", "event": "joined", "cluster_size": 3},
    "ProcessLifecycle": {
        "pid": "<0.123.0>",
        "module": "ExESDB.StoreWorker",
        "event": "started",
    },
    "SupervisionEvent": {
        "supervisor": "ExESDB.System",
        "child_spec": {"id": "worker"},
        "event": "child_started",
    },
    "ClusterMembership": {
        "event": "node_added",
        "affected_nodes": ["node3@host"],
        "active_nodes": ["node1@host", "node3@host"],
    },
    "LogEntry": {"level": "info", "message": "started", "module": "ExESDB.System"},
    "LogSummary": {"time_period": "1h", "log_counts": {"info": 7, "error": 3}},
    "LogFilter": {"filter_type": "level", "filter_value": "debug", "action": "exclude"},
    "LogRotation": {
        "log_type": "application",
        "old_file": "app.log.1",
        "new_file": "app.log",
    },
    "AuthEvent": {
        "user_id": "user-1",
        "event_type": "login_success",
        "auth_method": "password",
    },
    "AccessViolation": {
        "violation_type": "permission_denied",
        "resource": "/admin",
        "action": "write",
    },
    "SecurityAlert": {
        "alert_type": "brute_force",
        "severity": "high",
        "description": "50 failed logins in a minute",
    },
    "SessionEvent": {
        "session_id": "sess-1",
        "user_id": "user-1",
        "event_type": "created",
    },
}

#: name -> the constructor's defaults, exactly as the reference states them.
DEFAULTS: dict[str, dict[str, Any]] = {
    "SystemConfig": {"previous_config": None, "changed_by": "system"},
    "SystemLifecycle": {},
    "FeatureToggle": {},
    "NodeHealth": {
        "checks": {},
        "load_avg": None,
        "memory_usage": None,
        "disk_usage": None,
    },
    "ClusterHealth": {
        "degraded_nodes": [],
        "unhealthy_nodes": [],
        "quorum_status": "available",
    },
    "ComponentHealth": {"details": {}, "last_check": None},
    "HealthCheck": {"details": {}, "duration_ms": None, "error": None},
    "PerformanceMetric": {"component": None, "tags": {}},
    "ThroughputMetric": {},
    "LatencyMetric": {},
    "ResourceUsage": {},
    "MetricAlert": {},
    "SystemAlert": {"metadata": {}, "requires_ack": False},
    "AlertAck": {"ack_note": None, "resolution": None},
    "AlertEscalation": {"escalated_by": "system", "notify_contacts": []},
    "NotificationStatus": {"attempts": 1, "error_reason": None},
    "DataChange": {"changes": {}, "metadata": {}, "source_ip": None},
    "AdminAction": {"details": {}, "justification": None, "source_ip": None},
    "AccessLog": {"duration_ms": None, "source_ip": None, "user_agent": None},
    "ComplianceEvent": {"automated": False, "metadata": {}, "user_id": None},
    "DebugTrace": {"metadata": {}, "stack_trace": None, "duration_ms": None},
    "PerformanceAnalysis": {"recommendations": [], "severity": "medium"},
    "SystemState": {"process_count": None, "memory_usage": None},
    "ErrorAnalysis": {"stack_trace": [], "context": {}, "frequency": 1},
    "NodeLifecycle": {"metadata": {}},
    "ProcessLifecycle": {"name": None, "reason": None, "restart_count": 0},
    "SupervisionEvent": {"reason": None},
    "ClusterMembership": {"quorum_status": "available", "total_nodes": 2},
    "LogEntry": {"metadata": {}, "function": None, "line": None},
    "LogSummary": {"top_errors": [], "error_rate": 0.0, "total_logs": 10},
    "LogFilter": {"enabled": True, "created_by": "system", "metadata": {}},
    "LogRotation": {"file_size": None, "entries_count": None},
    "AuthEvent": {"source_ip": None, "user_agent": None, "metadata": {}},
    "AccessViolation": {
        "user_id": None,
        "severity": "medium",
        "source_ip": None,
        "metadata": {},
    },
    "SecurityAlert": {"affected_users": [], "source_ip": None, "metadata": {}},
    "SessionEvent": {"duration_ms": None, "source_ip": None},
}

#: name -> (generated id field, its prefix); None means 16 bare hex characters.
GENERATED_IDS: dict[str, tuple[str, str | None]] = {
    "SystemAlert": ("alert_id", None),
    "DebugTrace": ("trace_id", "trace"),
    "PerformanceAnalysis": ("analysis_id", "analysis"),
    "SystemState": ("snapshot_id", "snapshot"),
    "ErrorAnalysis": ("error_id", "error"),
    "LogEntry": ("log_id", "log"),
    "LogSummary": ("summary_id", "summary"),
    "LogFilter": ("filter_id", "filter"),
    "LogRotation": ("rotation_id", "rotation"),
}

#: Types without a ``node`` field: the six the reference names, and the two cluster-wide ones
#: whose structs list none.
NODELESS = {
    "ClusterHealth",
    "AlertAck",
    "AlertEscalation",
    "NotificationStatus",
    "LogSummary",
    "LogFilter",
    "AccessViolation",
    "ClusterMembership",
}
#: Types whose ``node`` is a constructor argument; every other node defaults to this node.
NODE_ARGUMENT = {"NodeHealth", "ComponentHealth", "HealthCheck", "NodeLifecycle"}
NODE_FROM_OPTIONS = [n for n in NAMES if n not in NODELESS and n not in NODE_ARGUMENT]

#: The required fields of the reference's struct validators (section 6).
VALIDATOR_REQUIRED: dict[str, tuple[str, ...]] = {
    "SystemConfig": ("component", "changes"),
    "SystemLifecycle": ("event", "system_name", "version", "node"),
    "FeatureToggle": ("feature", "enabled", "changed_by", "node"),
    "NodeHealth": ("node", "status"),
    "ClusterHealth": ("status", "healthy_nodes", "total_nodes"),
    "ComponentHealth": ("component", "node", "status"),
    "HealthCheck": ("check_name", "node", "result"),
}

HEALTH_STATUSES = ("healthy", "degraded", "unhealthy")
QUORUM = ("available", "lost")
FOUR_SEVERITIES = ("low", "medium", "high", "critical")

#: name -> field -> allowed values, as the reference lists them.
ALLOWED: dict[str, dict[str, tuple[str, ...]]] = {
    "SystemLifecycle": {"event": ("starting", "started", "stopping", "stopped")},
    "NodeHealth": {"status": ("healthy", "degraded", "unhealthy", "unknown")},
    "ClusterHealth": {"status": HEALTH_STATUSES, "quorum_status": QUORUM},
    "ComponentHealth": {"status": HEALTH_STATUSES},
    "HealthCheck": {"result": ("pass", "fail", "timeout")},
    "LatencyMetric": {"percentile": ("p50", "p95", "p99", "max", "min", "avg")},
    "ResourceUsage": {"resource_type": ("cpu", "memory", "disk", "network")},
    "MetricAlert": {
        "threshold_type": ("min", "max"),
        "severity": ("warning", "critical"),
    },
    "SystemAlert": {
        "severity": ("info", "warning", "error", "critical"),
        "category": ("system", "performance", "security", "data", "network"),
    },
    "AlertEscalation": {
        "from_level": ("level1", "level2", "level3"),
        "to_level": ("level1", "level2", "level3"),
    },
    "NotificationStatus": {
        "delivery_method": ("email", "sms", "webhook", "push"),
        "status": ("sent", "delivered", "failed", "bounced"),
    },
    "DataChange": {"action": ("create", "update", "delete", "read")},
    "AdminAction": {
        "action_type": (
            "user_created",
            "user_deleted",
            "permissions_changed",
            "config_updated",
            # Added for the admin capture (README, "Differences from the original").
            "object_created",
            "object_updated",
            "object_deleted",
        )
    },
    "ComplianceEvent": {
        "event_type": (
            "data_retention",
            "data_export",
            "data_deletion",
            "policy_violation",
        )
    },
    "PerformanceAnalysis": {
        "analysis_type": ("bottleneck", "memory_leak", "cpu_hotspot", "io_analysis"),
        "severity": FOUR_SEVERITIES,
    },
    "SystemState": {
        "snapshot_type": ("full", "partial", "process_tree", "memory_dump")
    },
    "NodeLifecycle": {
        "event": ("joining", "joined", "leaving", "left", "down", "reconnected")
    },
    "ProcessLifecycle": {"event": ("started", "stopped", "crashed", "restarted")},
    "SupervisionEvent": {
        "event": ("child_started", "child_terminated", "restart_limit_exceeded")
    },
    "ClusterMembership": {
        "event": (
            "node_added",
            "node_removed",
            "partition_detected",
            "partition_healed",
        ),
        # The reference gives only the default; the values are ClusterHealth's.
        "quorum_status": QUORUM,
    },
    "LogEntry": {"level": ("debug", "info", "warn", "error", "critical")},
    "LogFilter": {
        "filter_type": ("level", "module", "pattern", "node"),
        "action": ("include", "exclude", "rate_limit"),
    },
    "AuthEvent": {
        "event_type": ("login_success", "login_failure", "logout", "token_refresh"),
        "auth_method": ("password", "token", "certificate", "oauth"),
    },
    "AccessViolation": {
        "violation_type": (
            "unauthorized_access",
            "permission_denied",
            "rate_limit_exceeded",
            "invalid_token",
        ),
        "severity": FOUR_SEVERITIES,
    },
    "SecurityAlert": {
        "alert_type": (
            "brute_force",
            "suspicious_activity",
            "policy_violation",
            "data_breach",
        ),
        # The reference lists no values; the port uses AccessViolation's.
        "severity": FOUR_SEVERITIES,
    },
    "SessionEvent": {"event_type": ("created", "destroyed", "expired", "invalidated")},
}

#: Every (type, enum field, allowed values), read from the catalogue itself.
ENUM_FIELDS = [
    (t.name, name, choices)
    for t in all_types()
    for name, choices in t.allowed_values.items()
]
ENUM_VALUES = [
    (type_name, name, value)
    for type_name, name, choices in ENUM_FIELDS
    for value in choices
]

#: name -> the field that carries its severity.
SEVERITY_FIELDS = {
    "MetricAlert": "severity",
    "SystemAlert": "severity",
    "PerformanceAnalysis": "severity",
    "LogEntry": "level",
    "AccessViolation": "severity",
    "SecurityAlert": "severity",
}

SOURCE_IP_TYPES = [n for n in NAMES if "source_ip" in REFERENCE_FIELDS[n]]


def build(name: str, **overrides: Any) -> Payload:
    """Call ``name``'s constructor with its sample arguments, ``overrides`` replacing them."""
    constructor = TYPES[name][2]
    values = {**SAMPLES[name], **overrides}
    arguments = [values.pop(field) for field in SAMPLES[name]]
    return constructor(*arguments, **values)


def errors_of(call: Callable[[], object]) -> dict[str, list[str]]:
    """Return the ``errors`` of the ``InvalidMessage`` that ``call`` raises."""
    with pytest.raises(InvalidMessage) as excinfo:
        call()
    return excinfo.value.errors


def now_ms() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def datetime_fields(payload_type: PayloadType) -> list[str]:
    return [f.name for f in payload_type.fields if f.kind is Kind.DATETIME]


# --- the registry ---------------------------------------------------------------------------


def test_catalogue_has_exactly_36_types() -> None:
    assert len(all_types()) == 36
    assert len(registry()) == 36


def test_catalogue_type_names_are_the_reference_names() -> None:
    assert sorted(t.name for t in all_types()) == sorted(NAMES)


def test_type_names_are_unique() -> None:
    names = [t.name for t in all_types()]
    assert len(set(names)) == len(names)


def test_message_tags_are_unique() -> None:
    tags = [t.tag for t in all_types()]
    assert len(set(tags)) == len(tags) == 36


@pytest.mark.parametrize(
    ("category", "count"),
    [
        (Category.SYSTEM, 3),
        (Category.HEALTH, 4),
        (Category.METRICS, 5),
        (Category.SECURITY, 4),
        (Category.AUDIT, 4),
        (Category.ALERTS, 4),
        (Category.DIAGNOSTICS, 4),
        (Category.LIFECYCLE, 4),
        (Category.LOGGING, 4),
    ],
)
def test_category_has_its_number_of_types(category: Category, count: int) -> None:
    assert len(types_in(category)) == count


@pytest.mark.parametrize("category", list(Category))
def test_types_in_returns_the_reference_types_of_the_category(
    category: Category,
) -> None:
    expected = [name for name, (cat, _, _) in TYPES.items() if cat == category]
    assert [t.name for t in types_in(category)] == expected


def test_types_in_accepts_the_category_name_as_a_string() -> None:
    assert [t.name for t in types_in("logging")] == [
        "LogEntry",
        "LogSummary",
        "LogFilter",
        "LogRotation",
    ]


def test_all_types_are_grouped_in_category_order() -> None:
    order = list(Category)
    positions = [order.index(t.category) for t in all_types()]
    assert positions == sorted(positions)
    assert Counter(t.category for t in all_types()) == Counter(
        cat for cat, _, _ in TYPES.values()
    )


@pytest.mark.parametrize("name", NAMES)
def test_type_has_the_reference_category(name: str) -> None:
    assert get_type(name).category == TYPES[name][0]


@pytest.mark.parametrize("name", NAMES)
def test_type_has_the_reference_message_tag(name: str) -> None:
    assert get_type(name).tag == TYPES[name][1]


@pytest.mark.parametrize("name", NAMES)
def test_type_for_tag_returns_the_type_with_that_tag(name: str) -> None:
    assert type_for_tag(TYPES[name][1]).name == name


@pytest.mark.parametrize("name", NAMES)
def test_get_type_returns_the_type_of_that_name(name: str) -> None:
    payload_type = get_type(name)
    assert payload_type.name == name
    assert get_type(payload_type) is payload_type


def test_get_type_rejects_an_unknown_name() -> None:
    errors = errors_of(lambda: get_type("Nope"))
    assert list(errors) == ["type"]
    assert errors["type"][0].startswith("unknown payload type 'Nope'")


def test_get_type_names_the_given_field_in_its_error() -> None:
    assert list(errors_of(lambda: get_type("Nope", "payload_type"))) == ["payload_type"]


def test_get_type_rejects_a_non_string() -> None:
    assert list(errors_of(lambda: get_type(42))) == ["type"]


def test_type_for_tag_rejects_an_unknown_tag() -> None:
    errors = errors_of(lambda: type_for_tag("nope"))
    assert errors == {"tag": ["unknown message tag 'nope'"]}


def test_type_for_tag_does_not_accept_a_type_name() -> None:
    with pytest.raises(InvalidMessage):
        type_for_tag("SystemAlert")


def test_types_in_rejects_the_excluded_events_category() -> None:
    with pytest.raises(UnknownCategory) as excinfo:
        types_in("events")
    assert list(excinfo.value.errors) == ["category"]


def test_types_in_rejects_an_unknown_category() -> None:
    with pytest.raises(UnknownCategory):
        types_in("custom_topic")


def test_register_refuses_a_second_type_with_the_same_name() -> None:
    with pytest.raises(ValueError, match="SystemAlert is already registered"):
        register(alerts.SystemAlert)
    assert len(registry()) == 36


def test_register_refuses_a_second_type_with_the_same_tag() -> None:
    duplicate = PayloadType("SystemAlertCopy", Category.ALERTS, "system_alert", ())
    with pytest.raises(ValueError, match="system_alert is already registered"):
        register(duplicate)
    assert "SystemAlertCopy" not in registry()


# --- fields and constructors ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_type_has_the_reference_struct_fields_in_order(name: str) -> None:
    extensions = EXTENSION_FIELDS.get(name, set())
    field_names = get_type(name).field_names
    assert (
        tuple(f for f in field_names if f not in extensions) == REFERENCE_FIELDS[name]
    )


@pytest.mark.parametrize("name", NAMES)
def test_type_adds_only_the_known_extension_fields(name: str) -> None:
    extra = set(get_type(name).field_names) - set(REFERENCE_FIELDS[name])
    assert extra == EXTENSION_FIELDS.get(name, set())


@pytest.mark.parametrize("name", NAMES)
def test_payload_holds_exactly_the_fields_of_its_type(name: str) -> None:
    payload = build(name)
    assert tuple(payload.data) == get_type(name).field_names


@pytest.mark.parametrize("name", NAMES)
def test_constructor_builds_a_payload_of_its_type(name: str) -> None:
    payload = build(name)
    assert payload.type is get_type(name)
    assert payload.tag == TYPES[name][1]
    assert payload.category == TYPES[name][0]


@pytest.mark.parametrize("name", NAMES)
def test_constructor_takes_the_reference_positional_arguments(name: str) -> None:
    parameters = inspect.signature(TYPES[name][2]).parameters.values()
    positional = tuple(
        p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    )
    assert positional == tuple(SAMPLES[name])


@pytest.mark.parametrize("name", NAMES)
def test_constructor_puts_its_arguments_into_their_fields(name: str) -> None:
    payload = build(name)
    assert {field: payload[field] for field in SAMPLES[name]} == SAMPLES[name]


@pytest.mark.parametrize("name", NAMES)
def test_constructor_defaults_match_the_reference(name: str) -> None:
    payload = build(name)
    expected = DEFAULTS[name]
    assert {field: payload[field] for field in expected} == expected


@pytest.mark.parametrize("name", NAMES)
def test_constructor_function_is_the_snake_case_of_the_type_name(name: str) -> None:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    assert TYPES[name][2].__name__ == snake


def test_explicit_none_for_an_optional_field_takes_its_default() -> None:
    payload = system.system_config("database", {"pool_size": 10}, changed_by=None)
    assert payload["changed_by"] == "system"


def test_explicit_option_replaces_a_default() -> None:
    payload = system.system_config(
        "database",
        {"pool_size": 10},
        previous_config={"pool_size": 5},
        changed_by="ops",
    )
    assert payload["previous_config"] == {"pool_size": 5}
    assert payload["changed_by"] == "ops"


def test_mutable_defaults_are_not_shared_between_payloads() -> None:
    first = health.node_health("node1@host", "healthy")
    first["checks"]["disk"] = "ok"
    assert health.node_health("node1@host", "healthy")["checks"] == {}


def test_payload_does_not_alias_the_callers_mapping() -> None:
    changes = {"pool_size": 10}
    payload = system.system_config("database", changes)
    changes["pool_size"] = 99
    assert payload["changes"] == {"pool_size": 10}


def test_payload_get_returns_the_default_for_a_field_it_lacks() -> None:
    payload = alerts.alert_ack("0123456789abcdef", "oncall")
    assert payload.get("node", "none") == "none"
    assert payload.get("ack_by") == "oncall"


def test_feature_toggle_keeps_false_as_a_present_value() -> None:
    payload = system.feature_toggle("dark_mode", False, None, "admin")
    assert payload["enabled"] is False
    assert payload["previous_state"] is None


def test_cluster_health_keeps_given_node_lists_and_quorum() -> None:
    payload = health.cluster_health(
        "degraded",
        ["a@h"],
        3,
        degraded_nodes=["b@h"],
        unhealthy_nodes=["c@h"],
        quorum_status="lost",
    )
    assert (
        payload["degraded_nodes"],
        payload["unhealthy_nodes"],
        payload["quorum_status"],
    ) == (["b@h"], ["c@h"], "lost")


@pytest.mark.parametrize(
    ("severity", "requires_ack"),
    [("info", False), ("warning", False), ("error", True), ("critical", True)],
)
def test_system_alert_requires_ack_exactly_for_error_and_critical(
    severity: str, requires_ack: bool
) -> None:
    payload = alerts.system_alert(severity, "system", "title", None, "ExESDB")
    assert payload["requires_ack"] is requires_ack


def test_system_alert_explicit_requires_ack_wins() -> None:
    payload = alerts.system_alert(
        "info", "system", "title", None, "ExESDB", requires_ack=True
    )
    assert payload["requires_ack"] is True


@pytest.mark.parametrize(
    ("count", "duration_ms"),
    [(30, 1500), (0, 1000), (5, 250), (7, 3), (1, 0.5)],
)
def test_throughput_rate_is_count_per_second(count: int, duration_ms: float) -> None:
    payload = metrics.throughput_metric("event_processing", count, duration_ms)
    assert payload["rate_per_sec"] == count / (duration_ms / 1000)


def test_throughput_rate_of_30_in_1500_ms_is_20_per_second() -> None:
    payload = metrics.throughput_metric("event_processing", 30, 1500)
    assert payload["rate_per_sec"] == 20.0


def test_throughput_rate_cannot_be_given_a_contradicting_value() -> None:
    payload = metrics.throughput_metric("event_processing", 30, 1500, rate_per_sec=999)
    assert payload["rate_per_sec"] == 20.0


@pytest.mark.parametrize(
    "active_nodes", [[], ["a@h"], ["a@h", "b@h", "c@h"]], ids=["0", "1", "3"]
)
def test_cluster_membership_total_nodes_is_the_number_of_active_nodes(
    active_nodes: list[str],
) -> None:
    payload = lifecycle.cluster_membership("node_removed", ["x@h"], active_nodes)
    assert payload["total_nodes"] == len(active_nodes)


@pytest.mark.parametrize(
    ("log_counts", "total"),
    [
        ({"info": 7, "error": 3}, 10),
        ({}, 0),
        ({"debug": 1, "warn": 2, "critical": 4}, 7),
    ],
)
def test_log_summary_total_logs_is_the_sum_of_log_counts(
    log_counts: dict[str, int], total: int
) -> None:
    assert logs.log_summary("1h", log_counts)["total_logs"] == total


def test_log_summary_error_rate_defaults_to_the_float_zero() -> None:
    error_rate = logs.log_summary("1h", {})["error_rate"]
    assert error_rate == 0.0
    assert isinstance(error_rate, float)


def test_log_entry_pid_defaults_to_this_process() -> None:
    assert logs.log_entry("info", "started", "app")["pid"] == str(os.getpid())


def test_notify_contacts_tuple_is_stored_as_a_list() -> None:
    payload = alerts.alert_escalation(
        "0123456789abcdef", "level1", "level2", "late", notify_contacts=("a", "b")
    )
    assert payload["notify_contacts"] == ["a", "b"]


# --- generated ids --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(GENERATED_IDS))
def test_constructor_generates_a_prefixed_16_hex_character_id(name: str) -> None:
    field, prefix = GENERATED_IDS[name]
    pattern = rf"^{prefix}_[0-9a-f]{{16}}$" if prefix else r"^[0-9a-f]{16}$"
    assert re.fullmatch(pattern, build(name)[field])


def test_system_alert_id_is_16_lowercase_hex_characters_without_prefix() -> None:
    alert_id = alerts.system_alert("info", "system", "t", None, "ExESDB")["alert_id"]
    assert len(alert_id) == 16
    assert set(alert_id) <= set("0123456789abcdef")


@pytest.mark.parametrize("name", list(GENERATED_IDS))
def test_generated_ids_differ_between_payloads(name: str) -> None:
    field, _ = GENERATED_IDS[name]
    assert build(name)[field] != build(name)[field]


@pytest.mark.parametrize("name", list(GENERATED_IDS))
def test_explicit_id_replaces_the_generated_one(name: str) -> None:
    field, _ = GENERATED_IDS[name]
    assert build(name, **{field: "given_id"})[field] == "given_id"


def test_only_the_reference_types_generate_ids() -> None:
    generated = {
        t.name
        for t in all_types()
        for f in t.fields
        if f.factory is not None and f.name.endswith("_id")
    }
    assert generated == set(GENERATED_IDS)


# --- node fields ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_type_has_a_node_field_unless_the_reference_says_otherwise(name: str) -> None:
    assert get_type(name).has_node is (name not in NODELESS)
    assert ("node" in get_type(name).field_names) is (name not in NODELESS)


def test_nodeless_types_are_the_reference_ones() -> None:
    assert {t.name for t in all_types() if not t.has_node} == NODELESS
    assert {n for n in NAMES if "node" not in REFERENCE_FIELDS[n]} == NODELESS


@pytest.mark.parametrize("name", sorted(NODELESS))
def test_nodeless_type_refuses_a_node_option(name: str) -> None:
    errors = errors_of(lambda: build(name, node="node1@host"))
    assert list(errors) == ["node"]
    assert errors["node"][0].startswith(f"unknown field for {name}")


@override_settings(OPSMESSAGING=THIS_NODE_SETTINGS)
@pytest.mark.parametrize("name", NODE_FROM_OPTIONS)
def test_node_defaults_to_this_node(name: str) -> None:
    assert build(name)["node"] == THIS_NODE


@override_settings(OPSMESSAGING=THIS_NODE_SETTINGS)
@pytest.mark.parametrize("name", NODE_FROM_OPTIONS)
def test_explicit_node_wins_over_this_node(name: str) -> None:
    assert build(name, node="other@elsewhere")["node"] == "other@elsewhere"


@override_settings(OPSMESSAGING=THIS_NODE_SETTINGS)
@pytest.mark.parametrize("name", sorted(NODE_ARGUMENT))
def test_node_argument_is_the_payloads_node(name: str) -> None:
    assert build(name, node="node9@far")["node"] == "node9@far"


def test_node_is_a_constructor_argument_exactly_where_the_reference_says() -> None:
    assert {n for n in NAMES if "node" in SAMPLES[n]} == NODE_ARGUMENT


@override_settings(OPSMESSAGING=THIS_NODE_SETTINGS)
def test_cluster_membership_originating_node_defaults_to_this_node() -> None:
    payload = lifecycle.cluster_membership("node_added", ["b@h"], ["a@h", "b@h"])
    assert payload["originating_node"] == THIS_NODE


@override_settings(OPSMESSAGING=THIS_NODE_SETTINGS)
def test_cluster_membership_explicit_originating_node_wins() -> None:
    payload = lifecycle.cluster_membership(
        "node_added", ["b@h"], ["a@h", "b@h"], originating_node="a@h"
    )
    assert payload["originating_node"] == "a@h"


@override_settings(OPSMESSAGING=THIS_NODE_SETTINGS)
def test_log_summary_nodes_reporting_defaults_to_this_node_only() -> None:
    assert logs.log_summary("1h", {"info": 1})["nodes_reporting"] == [THIS_NODE]


def test_node_default_follows_the_setting_at_call_time() -> None:
    with override_settings(OPSMESSAGING={"NODE_NAME": "first@host"}):
        first = metrics.performance_metric("m", 1, "count")
    with override_settings(OPSMESSAGING={"NODE_NAME": "second@host"}):
        second = metrics.performance_metric("m", 1, "count")
    assert (first["node"], second["node"]) == ("first@host", "second@host")


@pytest.mark.parametrize(
    "node", ["bad node", "", "node@", "@host", "a@b@c", "node/1", 42]
)
def test_bad_node_name_is_rejected(node: object) -> None:
    errors = errors_of(lambda: metrics.performance_metric("m", 1, "count", node=node))
    assert list(errors) == ["node"]


@pytest.mark.parametrize(
    "node", ["node1", "node1@host", "web-1@10.0.0.5", "ex_esdb@db.example.com"]
)
def test_good_node_name_is_accepted(node: str) -> None:
    assert metrics.performance_metric("m", 1, "count", node=node)["node"] == node


def test_bad_node_in_a_node_list_is_named_by_its_index() -> None:
    errors = errors_of(lambda: health.cluster_health("healthy", ["a@h", "bad node"], 2))
    assert list(errors) == ["healthy_nodes[1]"]


def test_bad_originating_node_is_rejected() -> None:
    errors = errors_of(
        lambda: lifecycle.cluster_membership(
            "node_added", [], [], originating_node="bad node"
        )
    )
    assert list(errors) == ["originating_node"]


# --- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_constructor_stamps_an_aware_utc_millisecond_timestamp_at_call_time(
    name: str,
) -> None:
    before = now_ms()
    payload = build(name)
    after = datetime.now(UTC)
    timestamp = payload["timestamp"]
    assert timestamp.tzinfo is UTC
    assert timestamp.microsecond % 1000 == 0
    assert before <= timestamp <= after


@pytest.fixture
def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every reading of the clock one millisecond later than the one before."""
    ticks = itertools.count(1)

    class TickingDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(
                milliseconds=next(ticks)
            )

    monkeypatch.setattr(helpers, "datetime", TickingDatetime)


def test_ticking_clock_gives_distinct_timestamps(ticking_clock: None) -> None:
    assert helpers.current_timestamp() != helpers.current_timestamp()


def test_alert_ack_timestamp_defaults_to_the_payload_timestamp(
    ticking_clock: None,
) -> None:
    payload = alerts.alert_ack("0123456789abcdef", "oncall")
    assert payload["ack_timestamp"] == payload["timestamp"]


def test_error_analysis_first_and_last_seen_share_the_payload_timestamp(
    ticking_clock: None,
) -> None:
    payload = diagnostics.error_analysis("timeout", "request timed out")
    assert payload["first_seen"] == payload["last_seen"] == payload["timestamp"]


def test_explicit_first_seen_is_kept_apart_from_the_timestamp() -> None:
    first_seen = datetime(2024, 1, 1, tzinfo=UTC)
    payload = diagnostics.error_analysis(
        "timeout", "request timed out", first_seen=first_seen, frequency=4
    )
    assert payload["first_seen"] == first_seen
    assert payload["last_seen"] == payload["timestamp"] != first_seen
    assert payload["frequency"] == 4


def test_every_defaulted_time_field_is_one_of_the_reference_ones() -> None:
    defaulted = {
        (t.name, f.name)
        for t in all_types()
        for f in t.fields
        if f.kind is Kind.DATETIME and f.factory is not None and f.name != "timestamp"
    }
    assert defaulted == {
        ("AlertAck", "ack_timestamp"),
        ("ErrorAnalysis", "first_seen"),
        ("ErrorAnalysis", "last_seen"),
    }


def test_naive_datetime_is_rejected_for_a_datetime_field() -> None:
    errors = errors_of(
        lambda: health.component_health(
            "store", "node1@host", "healthy", last_check=datetime(2024, 1, 1, 12, 0)
        )
    )
    assert list(errors) == ["last_check"]


def test_aware_non_utc_datetime_is_converted_to_utc_and_truncated() -> None:
    plus_two = timezone(timedelta(hours=2))
    payload = health.component_health(
        "store",
        "node1@host",
        "healthy",
        last_check=datetime(2024, 1, 1, 1, 2, 3, 456789, tzinfo=plus_two),
    )
    assert payload["last_check"] == datetime(2023, 12, 31, 23, 2, 3, 456000, tzinfo=UTC)
    assert payload["last_check"].tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2024-05-06T07:08:09.123456+02:00",
            datetime(2024, 5, 6, 5, 8, 9, 123000, tzinfo=UTC),
        ),
        ("2024-05-06T07:08:09Z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        (
            "2024-05-06T07:08:09.5-01:00",
            datetime(2024, 5, 6, 8, 8, 9, 500000, tzinfo=UTC),
        ),
    ],
)
def test_rfc3339_string_is_accepted_for_a_datetime_field(
    text: str, expected: datetime
) -> None:
    payload = health.component_health("store", "node1@host", "healthy", last_check=text)
    assert payload["last_check"] == expected
    assert payload["last_check"].tzinfo is UTC


@pytest.mark.parametrize("text", ["2024-05-06T07:08:09", "yesterday", ""])
def test_string_without_offset_or_not_a_timestamp_is_rejected(text: str) -> None:
    errors = errors_of(
        lambda: health.component_health(
            "store", "node1@host", "healthy", last_check=text
        )
    )
    assert list(errors) == ["last_check"]


def test_non_datetime_is_rejected_for_a_datetime_field() -> None:
    errors = errors_of(
        lambda: health.component_health(
            "store", "node1@host", "healthy", last_check=1700000000
        )
    )
    assert list(errors) == ["last_check"]


# --- required fields ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(VALIDATOR_REQUIRED))
def test_required_fields_are_the_validators_plus_timestamp(name: str) -> None:
    required = get_type(name).required_fields
    assert set(required) == {*VALIDATOR_REQUIRED[name], "timestamp"}


@pytest.mark.parametrize(
    ("name", "field"),
    [(name, field) for name, fields in VALIDATOR_REQUIRED.items() for field in fields],
)
def test_none_for_a_required_field_is_rejected_naming_it(name: str, field: str) -> None:
    errors = errors_of(lambda: build(name, **{field: None}))
    assert errors == {field: ["this field is required"]}


@pytest.mark.parametrize("name", NAMES)
def test_timestamp_is_required_by_every_type(name: str) -> None:
    assert "timestamp" in get_type(name).required_fields


def test_system_config_with_nothing_reports_both_missing_fields() -> None:
    errors = errors_of(lambda: system.system_config(None, None))  # type: ignore[arg-type]
    assert set(errors) == {"component", "changes"}


def test_system_lifecycle_with_nothing_reports_every_missing_field() -> None:
    errors = errors_of(lambda: system.system_lifecycle(None, None, None))  # type: ignore[arg-type]
    assert set(errors) == {"event", "system_name", "version"}


def test_node_health_refuses_none_as_its_node_argument() -> None:
    errors = errors_of(lambda: health.node_health(None, "healthy"))  # type: ignore[arg-type]
    assert errors == {"node": ["this field is required"]}


@pytest.mark.parametrize("value", ["", "   "])
def test_blank_required_string_is_rejected(value: str) -> None:
    errors = errors_of(lambda: metrics.performance_metric("m", 1, value))
    assert list(errors) == ["unit"]


# --- allowed values -------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_allowed_values_match_the_reference(name: str) -> None:
    assert get_type(name).allowed_values == ALLOWED.get(name, {})


def test_every_enum_field_of_the_reference_is_enforced() -> None:
    assert len(ENUM_FIELDS) == sum(len(fields) for fields in ALLOWED.values()) == 37


@pytest.mark.parametrize(("name", "field", "value"), ENUM_VALUES)
def test_allowed_value_is_accepted(name: str, field: str, value: str) -> None:
    assert build(name, **{field: value})[field] == value


@pytest.mark.parametrize(("name", "field", "choices"), ENUM_FIELDS)
def test_unknown_value_of_an_enum_field_is_rejected_naming_it(
    name: str, field: str, choices: tuple[str, ...]
) -> None:
    errors = errors_of(lambda: build(name, **{field: "not_a_choice"}))
    assert errors == {
        field: [f"'not_a_choice' is not allowed; choose one of: {', '.join(choices)}"]
    }


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: system.system_lifecycle("exploded", "sys", "1.0"), "event"),
        (lambda: system.system_lifecycle("STARTED", "sys", "1.0"), "event"),
        (lambda: health.component_health("c", "n@h", "fine"), "status"),
        (lambda: health.component_health("c", "n@h", "unknown"), "status"),
        (lambda: health.health_check("ping", "n@h", "passed"), "result"),
        (lambda: metrics.latency_metric("op", 1.0, "p42", 10), "percentile"),
        (lambda: metrics.resource_usage("gpu", 10, 100, 10), "resource_type"),
        (lambda: metrics.metric_alert("cpu", 9, 8, "max", "info"), "severity"),
        (lambda: alerts.system_alert("urgent", "system", "t", None, "s"), "severity"),
        (lambda: alerts.system_alert("warn", "system", "t", None, "s"), "severity"),
        (lambda: alerts.system_alert("info", "database", "t", None, "s"), "category"),
        (lambda: logs.log_entry("verbose", "m", "mod"), "level"),
        (lambda: logs.log_entry("warning", "m", "mod"), "level"),
        (lambda: security.access_violation("x", "/r", "read"), "violation_type"),
    ],
    ids=[
        "lifecycle-exploded",
        "lifecycle-uppercase",
        "component-fine",
        "component-unknown",
        "check-passed",
        "latency-p42",
        "resource-gpu",
        "metric-alert-info",
        "alert-urgent",
        "alert-warn",
        "alert-category-database",
        "log-verbose",
        "log-warning",
        "violation-x",
    ],
)
def test_value_outside_the_reference_list_is_rejected(
    call: Callable[[], Payload], field: str
) -> None:
    assert list(errors_of(call)) == [field]


# --- field validation -----------------------------------------------------------------------


def test_unknown_keyword_is_rejected_naming_it() -> None:
    errors = errors_of(lambda: system.system_config("database", {}, colour="blue"))
    assert list(errors) == ["colour"]
    assert errors["colour"][0].startswith("unknown field for SystemConfig")


def test_non_json_value_inside_an_object_is_named_by_its_path() -> None:
    errors = errors_of(
        lambda: health.component_health("c", "n@h", "healthy", details={"x": object()})
    )
    assert errors == {"details.x": ["value of type object is not JSON-serialisable"]}


def test_non_json_value_inside_a_nested_list_is_named_by_its_index() -> None:
    errors = errors_of(
        lambda: system.system_config("database", {"hosts": ["a", {1, 2}]})
    )
    assert list(errors) == ["changes.hosts[1]"]


def test_non_string_object_key_is_rejected() -> None:
    errors = errors_of(
        lambda: health.component_health("c", "n@h", "healthy", details={1: "one"})
    )
    assert list(errors) == ["details"]


def test_naive_datetime_inside_an_object_is_rejected() -> None:
    errors = errors_of(
        lambda: system.system_config("database", {"at": datetime(2024, 1, 1)})
    )
    assert list(errors) == ["changes.at"]


def test_aware_datetime_inside_an_object_becomes_a_wire_timestamp() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    payload = system.system_config("database", {"at": when})
    assert payload["changes"] == {"at": "2024-01-02T03:04:05.678Z"}


@pytest.mark.parametrize("value", ["not a mapping", ["a", 1], 3])
def test_non_mapping_is_rejected_for_an_object_field(value: object) -> None:
    assert list(errors_of(lambda: system.system_config("database", value))) == [  # type: ignore[arg-type]
        "changes"
    ]


def test_string_is_rejected_for_a_list_field() -> None:
    errors = errors_of(lambda: health.cluster_health("healthy", "node1@host", 1))  # type: ignore[arg-type]
    assert list(errors) == ["healthy_nodes"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_number_is_rejected(value: float) -> None:
    errors = errors_of(lambda: health.node_health("n@h", "healthy", load_avg=value))
    assert list(errors) == ["load_avg"]


def test_nan_inside_an_object_is_rejected() -> None:
    errors = errors_of(
        lambda: health.node_health("n@h", "healthy", checks={"a": float("nan")})
    )
    assert list(errors) == ["checks.a"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: metrics.throughput_metric("op", True, 1000), "count"),
        (lambda: health.cluster_health("healthy", [], False), "total_nodes"),
        (
            lambda: alerts.notification_status(
                "a1", "sms", "+1", "sent", attempts=True
            ),
            "attempts",
        ),
        (lambda: metrics.performance_metric("m", True, "count"), "value"),
    ],
    ids=["count", "total_nodes", "attempts", "number-value"],
)
def test_bool_is_rejected_where_a_number_is_expected(
    call: Callable[[], Payload], field: str
) -> None:
    assert list(errors_of(call)) == [field]


def test_float_is_rejected_where_an_integer_is_expected() -> None:
    errors = errors_of(lambda: health.cluster_health("healthy", [], 2.5))  # type: ignore[arg-type]
    assert list(errors) == ["total_nodes"]


def test_string_is_rejected_where_a_bool_is_expected() -> None:
    errors = errors_of(lambda: system.feature_toggle("f", "yes", None, "admin"))  # type: ignore[arg-type]
    assert list(errors) == ["enabled"]


def test_identifier_with_a_space_is_rejected() -> None:
    errors = errors_of(lambda: health.component_health("event store", "n@h", "healthy"))
    assert list(errors) == ["component"]


@pytest.mark.parametrize("name", SOURCE_IP_TYPES)
def test_source_ip_rejects_a_non_address(name: str) -> None:
    errors = errors_of(lambda: build(name, source_ip="not-an-ip"))
    assert errors == {"source_ip": ["'not-an-ip' is not an IPv4 or IPv6 address"]}


@pytest.mark.parametrize(
    ("address", "stored"),
    [("::1", "::1"), ("192.168.0.1", "192.168.0.1"), ("2001:DB8::0:1", "2001:db8::1")],
)
def test_source_ip_accepts_an_address_in_canonical_form(
    address: str, stored: str
) -> None:
    payload = security.auth_event("u", "logout", "token", source_ip=address)
    assert payload["source_ip"] == stored


@pytest.mark.parametrize("address", [3232235777, b"\x7f\x00\x00\x01"])
def test_source_ip_rejects_a_number_or_packed_bytes(address: object) -> None:
    errors = errors_of(
        lambda: security.auth_event("u", "logout", "token", source_ip=address)
    )
    assert list(errors) == ["source_ip"]


def test_source_ip_names_match_the_reference_types() -> None:
    assert set(SOURCE_IP_TYPES) == {
        "DataChange",
        "AdminAction",
        "AccessLog",
        "AuthEvent",
        "AccessViolation",
        "SecurityAlert",
        "SessionEvent",
    }
    assert all(
        get_type(name).field_map["source_ip"].kind is Kind.IP_ADDRESS
        for name in SOURCE_IP_TYPES
    )


@pytest.mark.parametrize("duration_ms", [0, 0.0, -5])
def test_throughput_duration_must_be_positive(duration_ms: float) -> None:
    errors = errors_of(lambda: metrics.throughput_metric("op", 10, duration_ms))
    assert list(errors) == ["duration_ms"]


def test_throughput_negative_count_is_rejected() -> None:
    errors = errors_of(lambda: metrics.throughput_metric("op", -1, 1000))
    assert list(errors) == ["count"]


@pytest.mark.parametrize("percent", [101, 100.5, -1])
def test_resource_usage_percent_outside_0_to_100_is_rejected(percent: float) -> None:
    errors = errors_of(lambda: metrics.resource_usage("cpu", percent, 8, 4))
    assert list(errors) == ["usage_percent"]


@pytest.mark.parametrize("percent", [0, 100, 55.5])
def test_resource_usage_percent_within_0_to_100_is_accepted(percent: float) -> None:
    assert metrics.resource_usage("cpu", percent, 8, 4)["usage_percent"] == percent


def test_notification_attempts_below_one_is_rejected() -> None:
    errors = errors_of(
        lambda: alerts.notification_status("a1", "sms", "+1", "sent", attempts=0)
    )
    assert list(errors) == ["attempts"]


def test_log_summary_negative_count_is_rejected_naming_its_level() -> None:
    errors = errors_of(lambda: logs.log_summary("1h", {"info": 2, "error": -1}))
    assert errors == {"log_counts.error": ["must be at least 0, got -1"]}


def test_log_summary_non_integer_count_is_rejected_naming_its_level() -> None:
    errors = errors_of(lambda: logs.log_summary("1h", {"info": "3"}))  # type: ignore[dict-item]
    assert list(errors) == ["log_counts.info"]


def test_every_bad_field_is_reported_in_one_error() -> None:
    errors = errors_of(
        lambda: security.auth_event(
            None,  # type: ignore[arg-type]
            "hacked",
            "token",
            source_ip="not-an-ip",
            node="bad node",
            bogus=1,
        )
    )
    assert set(errors) == {"user_id", "event_type", "source_ip", "node", "bogus"}


def test_invalid_message_text_names_every_bad_field() -> None:
    with pytest.raises(InvalidMessage) as excinfo:
        metrics.resource_usage("gpu", 101, 8, 4)
    assert excinfo.value.fields == ["resource_type", "usage_percent"]
    assert "resource_type: 'gpu' is not allowed" in str(excinfo.value)
    assert "usage_percent: must be at most 100, got 101" in str(excinfo.value)


# --- JSON form ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_to_json_gives_every_time_field_as_an_rfc3339_millisecond_utc_string(
    name: str,
) -> None:
    data = build(name).to_json()
    fields = datetime_fields(get_type(name))
    assert "timestamp" in fields
    for field in fields:
        if data[field] is not None:
            assert WIRE_TIMESTAMP.match(data[field]), (field, data[field])


@pytest.mark.parametrize("name", NAMES)
def test_to_json_round_trips_through_the_json_module(name: str) -> None:
    data = build(name).to_json()
    assert json.loads(json.dumps(data)) == data


def test_to_json_formats_the_exact_instant() -> None:
    payload = health.component_health(
        "store",
        "n@h",
        "healthy",
        last_check=datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
    )
    assert payload.to_json()["last_check"] == "2024-02-29T23:59:59.999Z"


def test_to_json_pads_milliseconds_to_three_digits() -> None:
    payload = health.component_health(
        "store",
        "n@h",
        "healthy",
        last_check=datetime(2024, 1, 1, 0, 0, 0, 7000, tzinfo=UTC),
    )
    assert payload.to_json()["last_check"] == "2024-01-01T00:00:00.007Z"


def test_to_json_keeps_the_timestamp_instant() -> None:
    payload = metrics.performance_metric("m", 1, "count")
    wire = payload.to_json()["timestamp"]
    assert datetime.fromisoformat(wire) == payload["timestamp"]


def test_to_json_leaves_the_payload_data_untouched() -> None:
    payload = metrics.performance_metric("m", 1, "count")
    payload.to_json()
    assert isinstance(payload["timestamp"], datetime)


# --- severity -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_severity_field_is_the_reference_one(name: str) -> None:
    assert get_type(name).severity_field == SEVERITY_FIELDS.get(name)


@pytest.mark.parametrize(
    ("name", "value", "severity"),
    [
        ("SystemAlert", "info", Severity.INFO),
        ("SystemAlert", "warning", Severity.WARNING),
        ("SystemAlert", "error", Severity.ERROR),
        ("SystemAlert", "critical", Severity.CRITICAL),
        ("MetricAlert", "warning", Severity.WARNING),
        ("MetricAlert", "critical", Severity.CRITICAL),
        ("AccessViolation", "low", Severity.INFO),
        ("AccessViolation", "medium", Severity.WARNING),
        ("AccessViolation", "high", Severity.ERROR),
        ("AccessViolation", "critical", Severity.CRITICAL),
        ("SecurityAlert", "high", Severity.ERROR),
        ("PerformanceAnalysis", "low", Severity.INFO),
        ("LogEntry", "debug", Severity.DEBUG),
        ("LogEntry", "info", Severity.INFO),
        ("LogEntry", "warn", Severity.WARNING),
        ("LogEntry", "error", Severity.ERROR),
        ("LogEntry", "critical", Severity.CRITICAL),
    ],
)
def test_severity_of_normalises_the_types_own_scale(
    name: str, value: str, severity: Severity
) -> None:
    payload = build(name, **{SEVERITY_FIELDS[name]: value})
    assert get_type(name).severity_of(payload.data) is severity


def test_default_performance_analysis_severity_is_warning() -> None:
    payload = diagnostics.performance_analysis("store", "bottleneck", {})
    assert payload.type.severity_of(payload.data) is Severity.WARNING


@pytest.mark.parametrize("name", [n for n in NAMES if n not in SEVERITY_FIELDS])
def test_severity_of_a_type_without_severity_is_none(name: str) -> None:
    payload = build(name)
    assert get_type(name).severity_of(payload.data) is None


def test_severity_of_data_without_the_field_is_none() -> None:
    assert alerts.SystemAlert.severity_of({}) is None


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (1e16, 10**16),
        (-1e22, -(10**22)),
        (1e23, 10**23),  # the number its JSON text names, not the float's binary value
        (1.2345678901234568e17, 123456789012345680),
        (1.5e300, 15 * 10**299),
    ],
)
def test_floats_written_with_an_exponent_become_the_integer_they_name(value, stored):
    from opsmessaging.catalogue.base import to_json_value

    result = to_json_value({"v": [value]}, "payload")["v"][0]
    assert (type(result), result) == (int, stored)


@pytest.mark.parametrize("value", [2.5, 0.1, 1.0, 1e15, 1e-20, -3.75e-7])
def test_other_floats_stay_floats(value):
    from opsmessaging.catalogue.base import to_json_value

    assert repr(to_json_value(value, "payload")) == repr(value)


def test_negative_zero_loses_its_sign():
    from opsmessaging.catalogue.base import to_json_value

    assert repr(to_json_value(-0.0, "payload")) == "0.0"

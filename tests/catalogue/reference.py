"""The reference catalogue as data: ExESDB's 36 payload types, one table per fact.

"The reference" is the original ExESDB catalogue that this app ports. The tests of
tests/catalogue/ are parametrised over these tables: every type's category, message tag
and constructor, its struct's fields in order, sample arguments, defaults, generated ids,
node fields, required fields, allowed values and severity field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsmessaging.catalogue import (
    Payload,
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
from opsmessaging.categories import Category

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

#: Fields the port adds to a struct (used by the broadcast_* functions).
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

#: The required fields of the reference's struct validators.
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

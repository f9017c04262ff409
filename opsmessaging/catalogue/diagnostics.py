"""Diagnostics category: debug traces, performance analyses, state snapshots, error analyses."""

from __future__ import annotations

from functools import partial
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

ANALYSIS_TYPES = ("bottleneck", "memory_leak", "cpu_hotspot", "io_analysis")
ANALYSIS_SEVERITIES = ("low", "medium", "high", "critical")
SNAPSHOT_TYPES = ("full", "partial", "process_tree", "memory_dump")

DebugTrace = register(
    PayloadType(
        "DebugTrace",
        Category.DIAGNOSTICS,
        "debug_trace",
        (
            Field(
                "trace_id",
                Kind.IDENTIFIER,
                required=True,
                factory=partial(generate_hex_id, "trace"),
            ),
            Field("component", Kind.IDENTIFIER, required=True),
            Field("operation", Kind.IDENTIFIER, required=True),
            Field("trace_data", Kind.OBJECT, required=True),
            Field("stack_trace", Kind.ANY),
            Field("duration_ms", Kind.NUMBER, minimum=0),
            node_field(),
            Field("metadata", Kind.OBJECT, default={}),
            timestamp_field(),
        ),
        "Diagnostic data about one operation.",
        default_topic=c.DIAGNOSTICS_TOPIC,
    )
)

PerformanceAnalysis = register(
    PayloadType(
        "PerformanceAnalysis",
        Category.DIAGNOSTICS,
        "performance_analysis",
        (
            Field(
                "analysis_id",
                Kind.IDENTIFIER,
                required=True,
                factory=partial(generate_hex_id, "analysis"),
            ),
            Field("component", Kind.IDENTIFIER, required=True),
            Field("analysis_type", Kind.STRING, required=True, choices=ANALYSIS_TYPES),
            Field("findings", Kind.ANY, required=True),
            Field("recommendations", Kind.ARRAY, default=[]),
            Field(
                "severity", Kind.STRING, choices=ANALYSIS_SEVERITIES, default="medium"
            ),
            node_field(),
            timestamp_field(),
        ),
        "The result of analysing a component's performance.",
        default_topic=c.PERFORMANCE_ANALYSIS_TOPIC,
        severity_field="severity",
    )
)

SystemState = register(
    PayloadType(
        "SystemState",
        Category.DIAGNOSTICS,
        "system_state",
        (
            Field(
                "snapshot_id",
                Kind.IDENTIFIER,
                required=True,
                factory=partial(generate_hex_id, "snapshot"),
            ),
            Field("snapshot_type", Kind.STRING, required=True, choices=SNAPSHOT_TYPES),
            Field("state_data", Kind.OBJECT, required=True),
            Field("process_count", Kind.INTEGER, minimum=0),
            Field("memory_usage", Kind.NUMBER, minimum=0),
            node_field(),
            Field("trigger_reason", Kind.STRING, required=True),
            timestamp_field(),
        ),
        "A snapshot of a node's state.",
        default_topic=c.SYSTEM_STATE_TOPIC,
    )
)

ErrorAnalysis = register(
    PayloadType(
        "ErrorAnalysis",
        Category.DIAGNOSTICS,
        "error_analysis",
        (
            Field(
                "error_id",
                Kind.IDENTIFIER,
                required=True,
                factory=partial(generate_hex_id, "error"),
            ),
            Field("error_type", Kind.STRING, required=True),
            Field("error_message", Kind.STRING, required=True),
            Field("stack_trace", Kind.ARRAY, default=[]),
            Field("context", Kind.OBJECT, default={}),
            Field("frequency", Kind.INTEGER, default=1, minimum=1),
            Field(
                "first_seen", Kind.DATETIME, required=True, factory=current_timestamp
            ),
            Field("last_seen", Kind.DATETIME, required=True, factory=current_timestamp),
            node_field(),
            timestamp_field(),
        ),
        "An error, how often it happened and when.",
        default_topic=c.ERROR_ANALYSIS_TOPIC,
    )
)


def debug_trace(
    component: str, operation: str, trace_data: dict[str, Any], **opts: Any
) -> Payload:
    return DebugTrace.new(
        component=component, operation=operation, trace_data=trace_data, **opts
    )


def performance_analysis(
    component: str, analysis_type: str, findings: Any, **opts: Any
) -> Payload:
    return PerformanceAnalysis.new(
        component=component, analysis_type=analysis_type, findings=findings, **opts
    )


def system_state(
    snapshot_type: str, state_data: dict[str, Any], trigger_reason: str, **opts: Any
) -> Payload:
    return SystemState.new(
        snapshot_type=snapshot_type,
        state_data=state_data,
        trigger_reason=trigger_reason,
        **opts,
    )


def error_analysis(error_type: str, error_message: str, **opts: Any) -> Payload:
    return ErrorAnalysis.new(error_type=error_type, error_message=error_message, **opts)

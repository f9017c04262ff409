"""Metrics category: performance, throughput, latency, resource usage, metric alerts."""

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

PERCENTILES = ("p50", "p95", "p99", "max", "min", "avg")
RESOURCE_TYPES = ("cpu", "memory", "disk", "network")
THRESHOLD_TYPES = ("min", "max")
METRIC_ALERT_SEVERITIES = ("warning", "critical")


def _metric_topic(data: Mapping[str, Any]) -> str:
    return str(data.get("component") or c.PERFORMANCE_TOPIC)


def _rate(data: dict[str, Any]) -> None:
    # Always computed, as in the original: a given rate_per_sec cannot contradict it.
    data["rate_per_sec"] = data["count"] / (data["duration_ms"] / 1000.0)


PerformanceMetric = register(
    PayloadType(
        "PerformanceMetric",
        Category.METRICS,
        "performance_metric",
        (
            Field("metric_name", Kind.IDENTIFIER, required=True),
            Field("value", Kind.NUMBER, required=True),
            Field("unit", Kind.STRING, required=True),
            node_field(),
            Field("component", Kind.IDENTIFIER),
            Field("tags", Kind.OBJECT, default={}),
            timestamp_field(),
        ),
        "One measured value of a component.",
        default_topic=_metric_topic,
    )
)

ThroughputMetric = register(
    PayloadType(
        "ThroughputMetric",
        Category.METRICS,
        "throughput_metric",
        (
            Field("operation", Kind.IDENTIFIER, required=True),
            Field("count", Kind.INTEGER, required=True, minimum=0),
            Field("duration_ms", Kind.NUMBER, required=True, exclusive_minimum=0),
            Field(
                "rate_per_sec",
                Kind.NUMBER,
                minimum=0,
                description="count / seconds; computed.",
            ),
            node_field(),
            timestamp_field(),
        ),
        "How many operations happened in a period, and their rate.",
        default_topic=c.THROUGHPUT_TOPIC,
        derive=_rate,
    )
)

LatencyMetric = register(
    PayloadType(
        "LatencyMetric",
        Category.METRICS,
        "latency_metric",
        (
            Field("operation", Kind.IDENTIFIER, required=True),
            Field("latency_ms", Kind.NUMBER, required=True, minimum=0),
            Field("percentile", Kind.STRING, required=True, choices=PERCENTILES),
            Field("sample_count", Kind.INTEGER, minimum=0),
            node_field(),
            timestamp_field(),
        ),
        "A latency statistic of an operation.",
        default_topic=c.LATENCY_TOPIC,
    )
)

ResourceUsage = register(
    PayloadType(
        "ResourceUsage",
        Category.METRICS,
        "resource_usage",
        (
            Field("resource_type", Kind.STRING, required=True, choices=RESOURCE_TYPES),
            Field("usage_percent", Kind.NUMBER, required=True, minimum=0, maximum=100),
            Field("total_available", Kind.NUMBER, minimum=0),
            Field("current_used", Kind.NUMBER, minimum=0),
            node_field(),
            timestamp_field(),
        ),
        "How much of a resource a node uses.",
        default_topic=c.RESOURCE_USAGE_TOPIC,
    )
)

MetricAlert = register(
    PayloadType(
        "MetricAlert",
        Category.METRICS,
        "metric_alert",
        (
            Field("metric_name", Kind.IDENTIFIER, required=True),
            Field("current_value", Kind.NUMBER, required=True),
            Field("threshold_value", Kind.NUMBER, required=True),
            Field(
                "threshold_type", Kind.STRING, required=True, choices=THRESHOLD_TYPES
            ),
            Field(
                "severity", Kind.STRING, required=True, choices=METRIC_ALERT_SEVERITIES
            ),
            node_field(),
            timestamp_field(),
        ),
        "A metric crossed a threshold.",
        default_topic=c.METRIC_ALERTS_TOPIC,
        severity_field="severity",
    )
)


def performance_metric(
    metric_name: str, value: float, unit: str, **opts: Any
) -> Payload:
    return PerformanceMetric.new(
        metric_name=metric_name, value=value, unit=unit, **opts
    )


def throughput_metric(
    operation: str, count: int, duration_ms: float, **opts: Any
) -> Payload:
    return ThroughputMetric.new(
        operation=operation, count=count, duration_ms=duration_ms, **opts
    )


def latency_metric(
    operation: str, latency_ms: float, percentile: str, sample_count: int, **opts: Any
) -> Payload:
    return LatencyMetric.new(
        operation=operation,
        latency_ms=latency_ms,
        percentile=percentile,
        sample_count=sample_count,
        **opts,
    )


def resource_usage(
    resource_type: str,
    usage_percent: float,
    total_available: float,
    current_used: float,
    **opts: Any,
) -> Payload:
    return ResourceUsage.new(
        resource_type=resource_type,
        usage_percent=usage_percent,
        total_available=total_available,
        current_used=current_used,
        **opts,
    )


def metric_alert(
    metric_name: str,
    current_value: float,
    threshold_value: float,
    threshold_type: str,
    severity: str,
    **opts: Any,
) -> Payload:
    return MetricAlert.new(
        metric_name=metric_name,
        current_value=current_value,
        threshold_value=threshold_value,
        threshold_type=threshold_type,
        severity=severity,
        **opts,
    )

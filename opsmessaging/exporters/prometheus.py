"""The Prometheus/OpenMetrics collector: the store's and this process's figures at scrape time.

Cluster-wide values (messages stored, last sequences, nodes, open alerts, the latest health
and metrics messages) are read from the store, so every node's exposition agrees; values of
this process only (fan-out deliveries, the spool) carry a ``node`` label. Only sequenced rows
(``sequence`` not NULL) are counted, as every reader of the log does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import Count
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from opsmessaging import fanout, spool
from opsmessaging.alerting import alert_board, payload_of
from opsmessaging.catalogue import alerts, health, metrics
from opsmessaging.categories import Category
from opsmessaging.conf import conf
from opsmessaging.models import ComponentStatus, Message, Node
from opsmessaging.nodenames import this_node

#: The newest messages of each health/metrics type searched for the latest value of each
#: (node, component) pair: two index range scans of ``(payload_type, id)`` per scrape.
LATEST_SCAN = 500

#: Delivery latency percentiles of ``fanout.delivery_stats()``, as Prometheus quantiles.
QUANTILES = {"p50": "0.5", "p95": "0.95", "p99": "0.99", "max": "1"}


def _sequenced() -> Any:
    return Message.objects.filter(sequence__isnull=False)


def _latest(
    payload_type: str, key: Callable[[Message, dict[str, Any]], tuple[str, ...]]
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Yield ``(key, payload)`` of the newest message of each key among the newest ones."""
    seen: set[tuple[str, ...]] = set()
    rows = _sequenced().filter(payload_type=payload_type).order_by("-id")
    for message in rows[:LATEST_SCAN]:
        payload = payload_of(message)
        if payload is None:
            continue
        labels = key(message, payload)
        if labels not in seen:
            seen.add(labels)
            yield labels, payload


def _node(message: Message, payload: dict[str, Any]) -> str:
    return str(payload.get("node") or message.node)


class StoreCollector(Collector):
    """Yields the metric families of the store and of this process, read at each scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from self._messages()
        yield from self._deliveries()
        yield from self._spool()
        yield self._nodes()
        yield from self._heartbeats()
        yield self._open_alerts()
        yield self._component_status()
        yield from self._measurements()

    def _messages(self) -> Iterator[Metric]:
        stored = GaugeMetricFamily(
            "opsmessaging_messages_stored",
            "Messages in the store (after retention), by category and payload type.",
            labels=["category", "payload_type"],
        )
        counts = (
            _sequenced()
            .order_by()
            .values("category", "payload_type")
            .annotate(count=Count("id"))
        )
        for row in sorted(counts, key=lambda r: (r["category"], r["payload_type"])):
            stored.add_metric([row["category"], row["payload_type"]], row["count"])
        yield stored
        last = GaugeMetricFamily(
            "opsmessaging_category_last_sequence",
            "The last sequence stored in each category (0 before its first message).",
            labels=["category"],
        )
        for category in Category:
            value = (
                _sequenced()
                .filter(category=category.value)
                .order_by("-sequence")
                .values_list("sequence", flat=True)
                .first()
            )
            last.add_metric([category.value], value or 0)
        yield last

    def _deliveries(self) -> Iterator[Metric]:
        node = this_node()
        stats = fanout.delivery_stats()
        delivered = CounterMetricFamily(
            "opsmessaging_fanout_delivered_messages",
            "Messages this process delivered to the channel layer since it started.",
            labels=["node"],
        )
        delivered.add_metric([node], stats["delivered"])
        yield delivered
        failed = CounterMetricFamily(
            "opsmessaging_fanout_failed_messages",
            "Messages this process failed to deliver (stored, not pushed live).",
            labels=["node"],
        )
        failed.add_metric([node], stats["failed"])
        yield failed
        latency = GaugeMetricFamily(
            "opsmessaging_fanout_latency_seconds",
            "Fan-out latency of this process's recent deliveries, by quantile.",
            labels=["node", "quantile"],
        )
        for name, quantile in QUANTILES.items():
            value = stats["latency_ms"][name]
            if value is not None:
                latency.add_metric([node, quantile], value / 1000)
        yield latency

    def _spool(self) -> Iterator[Metric]:
        directory = conf.SPOOL_DIR
        if directory is None:
            return
        node = this_node()
        local = spool.Spool(directory, node)
        waiting = GaugeMetricFamily(
            "opsmessaging_spool_messages",
            "Messages waiting in this node's spool for the database to come back.",
            labels=["node"],
        )
        size = GaugeMetricFamily(
            "opsmessaging_spool_size_bytes",
            "Size of this node's spool file.",
            labels=["node"],
        )
        try:
            size.add_metric([node], os.path.getsize(local.path))
            waiting.add_metric([node], local.pending_messages())
        except FileNotFoundError:
            size.add_metric([node], 0)
            waiting.add_metric([node], 0)
        yield waiting
        yield size

    def _nodes(self) -> Metric:
        family = GaugeMetricFamily(
            "opsmessaging_nodes", "Registered nodes by status.", labels=["status"]
        )
        counts = dict(
            Node.objects.order_by()
            .values_list("status")
            .annotate(count=Count("id"))
            .values_list("status", "count")
        )
        for status in Node.Status:
            family.add_metric([status.value], counts.get(status.value, 0))
        return family

    def _heartbeats(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "opsmessaging_node_last_heartbeat_timestamp_seconds",
            "When each node last sent a heartbeat (Unix time).",
            labels=["node", "role"],
        )
        for name, role, at in Node.objects.filter(
            last_heartbeat_at__isnull=False
        ).values_list("name", "role", "last_heartbeat_at"):
            if at is not None:
                family.add_metric([name, role], at.timestamp())
        yield family

    def _open_alerts(self) -> Metric:
        family = GaugeMetricFamily(
            "opsmessaging_open_alerts",
            "Alerts that require an acknowledgement and have none, by severity.",
            labels=["severity"],
        )
        counts = dict.fromkeys(alerts.ALERT_SEVERITIES, 0)
        for alert in alert_board(acknowledged=0).open:
            payload = payload_of(alert)
            if payload is not None and payload.get("severity") in counts:
                counts[payload["severity"]] += 1
        for severity, count in counts.items():
            family.add_metric([severity], count)
        return family

    def _component_status(self) -> Metric:
        family = GaugeMetricFamily(
            "opsmessaging_component_status",
            "1 for the last status seen of each component of each node, 0 for the others.",
            labels=["node", "component", "status"],
        )
        for row in ComponentStatus.objects.order_by("node", "component"):
            for status in health.HEALTH_STATUSES:
                family.add_metric(
                    [row.node, row.component, status], int(row.status == status)
                )
        return family

    def _measurements(self) -> Iterator[Metric]:
        usage = GaugeMetricFamily(
            "opsmessaging_resource_usage_ratio",
            "The latest ResourceUsage of each node and resource, from 0 to 1.",
            labels=["node", "resource"],
        )
        for (node, resource), payload in _latest(
            metrics.ResourceUsage.name,
            lambda m, p: (_node(m, p), str(p["resource_type"])),
        ):
            usage.add_metric([node, resource], payload["usage_percent"] / 100)
        yield usage
        latency = GaugeMetricFamily(
            "opsmessaging_operation_latency_seconds",
            "The latest LatencyMetric of each node, operation and percentile.",
            labels=["node", "operation", "percentile"],
        )
        for labels, payload in _latest(
            metrics.LatencyMetric.name,
            lambda m, p: (_node(m, p), str(p["operation"]), str(p["percentile"])),
        ):
            latency.add_metric(list(labels), payload["latency_ms"] / 1000)
        yield latency
        performance = GaugeMetricFamily(
            "opsmessaging_performance_metric",
            "The latest PerformanceMetric of each node, component and metric name "
            "(in the unit the unit label names).",
            labels=["node", "component", "metric", "unit"],
        )
        for labels, payload in _latest(
            metrics.PerformanceMetric.name,
            lambda m, p: (
                _node(m, p),
                str(p.get("component") or ""),
                str(p["metric_name"]),
                str(p["unit"]),
            ),
        ):
            performance.add_metric(list(labels), payload["value"])
        yield performance


def registry() -> CollectorRegistry:
    """Return a registry holding only the store collector (no process/platform noise
    of the default registry, which would differ per worker of one node)."""
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(StoreCollector())
    return scraped

"""Metrics of the store and of this process, measured for real and broadcast.

``run_metrics`` broadcasts, in one batch: the messages stored per category since the
previous run and their rate (``ThroughputMetric``), the size of the store
(``PerformanceMetric`` ``store_size``), this process's broadcast delivery latency
percentiles (``LatencyMetric``) and failed deliveries (``PerformanceMetric``
``failed_deliveries``), and this process's CPU and memory (``ResourceUsage``). A resource
above 75 % raises a ``resource_warning`` alert, above 90 % a ``resource_critical`` one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psutil
from django.db import connections, router
from django.utils import timezone

from opsmessaging import fanout, pubsub, relay, retention, status_changes
from opsmessaging.catalogue import Payload, metrics
from opsmessaging.categories import Category
from opsmessaging.models import CategorySequence, Message
from opsmessaging.nodenames import this_node
from opsmessaging.timestamps import (
    format_timestamp,
    parse_timestamp,
    truncate_to_milliseconds,
)

#: Resource usage thresholds of the original's health checker, in percent.
RESOURCE_WARNING = 75.0
RESOURCE_CRITICAL = 90.0

#: The delivery percentiles broadcast as ``LatencyMetric``.
LATENCY_PERCENTILES = ("p50", "p95", "p99", "max")

_process: psutil.Process | None = None


def resource_level(percent: float) -> str:
    """Return healthy, degraded (above 75 %) or unhealthy (above 90 %)."""
    if percent > RESOURCE_CRITICAL:
        return status_changes.UNHEALTHY
    if percent > RESOURCE_WARNING:
        return status_changes.DEGRADED
    return status_changes.HEALTHY


def store_sizes() -> dict[str, int]:
    """Return the number of stored messages of each category.

    Counted from sequences (the kept history has no holes), not by scanning the table.
    """
    return {
        category.value: retention.last_sequence(category)
        - retention.first_kept_sequence(category)
        + 1
        for category in Category
    }


def _store_bytes() -> int | None:
    connection = connections[router.db_for_read(Message)]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size(%s::regclass)", [Message._meta.db_table]
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def throughput(
    previous: Mapping[str, Any], now: datetime
) -> tuple[list[Payload], dict[str, Any]]:
    """Return one ``ThroughputMetric`` per category since ``previous``, and the new state.

    The state holds each category's last sequence and the time it was read; the first run
    only records it.
    """
    now = truncate_to_milliseconds(now)  # as kept in the state
    last = {category.value: retention.last_sequence(category) for category in Category}
    state = {"at": format_timestamp(now), "last_sequences": last}
    if "at" not in previous:
        return [], state
    duration_ms = max((now - parse_timestamp(previous["at"])).total_seconds() * 1000, 1)
    before = previous.get("last_sequences", {})
    payloads = [
        metrics.throughput_metric(
            f"messages_stored.{name}",
            max(sequence - before.get(name, sequence), 0),
            round(duration_ms, 3),
        )
        for name, sequence in last.items()
    ]
    return payloads, state


def latency() -> list[Payload]:
    """Return this process's broadcast delivery latency percentiles, if it delivered."""
    latencies = fanout.delivery_stats()["latency_ms"]
    if not latencies["samples"]:
        return []
    return [
        metrics.latency_metric(
            "broadcast_delivery",
            latencies[percentile],
            percentile,
            latencies["samples"],
        )
        for percentile in LATENCY_PERCENTILES
    ]


def deliveries() -> Payload:
    """Return this process's failed deliveries (since it started) as a metric, with the
    cluster's delivery lag per category (sequences committed, not yet delivered live by
    the cluster's relay) and whether this process's relay leads."""
    stats = fanout.delivery_stats()
    lag = {
        category: last - delivered
        for category, last, delivered in CategorySequence.objects.values_list(
            "category", "last_sequence", "delivered_sequence"
        )
    }
    return metrics.performance_metric(
        "failed_deliveries",
        stats["failed"],
        "deliveries",
        component="fanout",
        tags={
            "delivered": stats["delivered"],
            "last_error": stats["last_error"],
            "scope": "process",
            "pid": os.getpid(),
            "relay_leader": relay.status()["is_leader"],
            "delivery_lag": lag,
        },
    )


def store_size() -> Payload:
    """Return the number of stored messages (and bytes on PostgreSQL) as a metric."""
    sizes = store_sizes()
    return metrics.performance_metric(
        "store_size",
        sum(sizes.values()),
        "messages",
        component="store",
        tags={"per_category": sizes, "bytes": _store_bytes()},
    )


def process_usage() -> dict[str, tuple[float, float, float]]:
    """Return ``{"cpu": (percent, total, used), "memory": (...)}`` of this process.

    CPU is the share of all cores used since the previous call in this process (over
    0.2 s on the first); memory is the resident set against the machine's memory.
    """
    global _process
    cores = psutil.cpu_count() or 1
    if _process is None or _process.pid != os.getpid():  # first call, or a forked child
        _process = psutil.Process()
        percent = _process.cpu_percent(interval=0.2)
    else:
        percent = _process.cpu_percent(interval=None)
    rss = _process.memory_info().rss
    total = psutil.virtual_memory().total
    return {
        "cpu": (
            round(min(percent / cores, 100.0), 2),
            cores,
            round(percent / 100, 3),
        ),
        "memory": (round(min(rss / total * 100, 100.0), 2), total, rss),
    }


def run_metrics(
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Measure and broadcast this run's metrics, alert on resources; return the new state.

    ``previous`` is the state returned by the previous run (empty on the first).
    """
    return report_metrics(previous, process_usage())


def report_metrics(
    previous: Mapping[str, Any] | None,
    usage: dict[str, tuple[float, float, float]],
) -> dict[str, Any]:
    """Broadcast the metrics of the store and of ``process_usage()``'s ``usage``; alert on
    resources; return the new state.

    Only this part writes, so a periodic run stores it in the transaction of its claim
    (the CPU measurement can sleep, and holds no lock).
    """
    node = this_node()
    now = timezone.now()
    rates, state = throughput(previous or {}, now)
    payloads = [
        *rates,
        store_size(),
        *latency(),
        deliveries(),
        *(
            metrics.resource_usage(kind, percent, total, used)
            for kind, (percent, total, used) in usage.items()
        ),
    ]
    pubsub.broadcast_batch(payloads)
    for kind, (percent, _total, _used) in usage.items():
        status_changes.record_and_alert(
            node,
            f"process_{kind}",
            resource_level(percent),
            status_changes.RESOURCE_ALERTS,
            f"{percent:g}% used (warning above {RESOURCE_WARNING:g}%, critical above "
            f"{RESOURCE_CRITICAL:g}%)",
            {"resource_type": kind, "usage_percent": percent, "pid": os.getpid()},
        )
    return state

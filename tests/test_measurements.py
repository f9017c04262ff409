"""Metrics of the store and of this process, and the 75 % / 90 % resource alerts."""

from __future__ import annotations

from datetime import timedelta

import psutil
import pytest
from django.utils import timezone

from opsmessaging import fanout, measurements, pubsub
from opsmessaging.categories import Category
from opsmessaging.helpers import format_timestamp
from opsmessaging.models import CategorySequence, Message


@pytest.mark.parametrize(
    ("percent", "level"),
    [
        (0.0, "healthy"),
        (75.0, "healthy"),
        (75.01, "degraded"),
        (90.0, "degraded"),
        (90.01, "unhealthy"),
        (100.0, "unhealthy"),
    ],
)
def test_resource_level_follows_the_original_thresholds(percent, level):
    assert measurements.resource_level(percent) == level


@pytest.mark.django_db
def test_first_run_records_a_baseline_without_throughput():
    pubsub.broadcast_health_update("db", "healthy")
    now = timezone.now()
    payloads, state = measurements.throughput({}, now)
    assert payloads == []
    assert state["at"] == format_timestamp(now)
    assert state["last_sequences"] == {
        c.value: (1 if c is Category.HEALTH else 0) for c in Category
    }


@pytest.mark.django_db
def test_throughput_counts_messages_stored_per_category_since_the_last_run():
    start = timezone.now()
    _, state = measurements.throughput({}, start)
    for _ in range(3):
        pubsub.broadcast_health_update("db", "healthy")
    pubsub.broadcast_alert("disk", "warning", "Disk 80%")
    payloads, _ = measurements.throughput(state, start + timedelta(seconds=2))
    counts = {
        p["operation"]: (p["count"], p["duration_ms"], p["rate_per_sec"])
        for p in payloads
    }
    assert counts["messages_stored.health"] == (3, 2000.0, 1.5)
    assert counts["messages_stored.alerts"] == (1, 2000.0, 0.5)
    assert counts["messages_stored.audit"] == (0, 2000.0, 0.0)
    assert len(counts) == 9


@pytest.mark.django_db
def test_store_sizes_count_kept_messages_per_category():
    for _ in range(4):
        pubsub.broadcast_health_update("db", "healthy")
    Message.objects.filter(category="health", sequence__lte=2).delete()
    pubsub.broadcast_diagnostic("trace", "db", {})
    sizes = measurements.store_sizes()
    assert (sizes["health"], sizes["diagnostics"], sizes["audit"]) == (2, 1, 0)
    payload = measurements.store_size()
    assert (payload["metric_name"], payload["value"], payload["unit"]) == (
        "store_size",
        3,
        "messages",
    )


@pytest.mark.django_db
def test_latency_metrics_are_this_process_delivery_percentiles():
    message = pubsub.broadcast_health_update("db", "healthy").message
    assert fanout.deliver([message]) is None  # as this process's relay sends it
    expected = fanout.delivery_stats()["latency_ms"]
    payloads = measurements.latency()
    assert [
        (p["percentile"], p["latency_ms"], p["sample_count"]) for p in payloads
    ] == [
        (name, expected[name], expected["samples"])
        for name in ("p50", "p95", "p99", "max")
    ]
    assert {p["operation"] for p in payloads} == {"broadcast_delivery"}


def test_no_latency_metric_without_deliveries(monkeypatch):
    monkeypatch.setattr(fanout, "stats", fanout.DeliveryStats())
    assert measurements.latency() == []


@pytest.mark.django_db
def test_failed_deliveries_come_from_the_delivery_counters(monkeypatch):
    stats = fanout.DeliveryStats()
    stats.record(3, "delivery failed: TimeoutError", 0.0)
    stats.record(2, None, 1.0)
    monkeypatch.setattr(fanout, "stats", stats)
    payload = measurements.deliveries()
    assert (payload["metric_name"], payload["value"], payload["component"]) == (
        "failed_deliveries",
        3,
        "fanout",
    )
    assert payload["tags"]["delivered"] == 2
    assert payload["tags"]["last_error"] == "delivery failed: TimeoutError"


@pytest.mark.django_db
def test_the_deliveries_metric_carries_the_cluster_delivery_lag():
    pubsub.broadcast_alert("disk", "warning", "one")
    pubsub.broadcast_alert("disk", "warning", "two")
    CategorySequence.objects.filter(category="alerts").update(delivered_sequence=0)
    lag = measurements.deliveries()["tags"]["delivery_lag"]
    assert lag["alerts"] == 2


def test_process_usage_measures_this_process():
    usage = measurements.process_usage()
    cpu_percent, cores, _used = usage["cpu"]
    memory_percent, total, rss = usage["memory"]
    assert cores == psutil.cpu_count()
    assert 0 <= cpu_percent <= 100
    assert total == psutil.virtual_memory().total
    assert abs(rss - psutil.Process().memory_info().rss) < 64 * 1024 * 1024
    assert memory_percent == round(rss / total * 100, 2)


@pytest.mark.django_db
def test_metrics_run_broadcasts_everything_in_one_batch():
    state = measurements.run_metrics()
    types = list(
        Message.objects.filter(category="metrics")
        .order_by("id")
        .values_list("payload_type", "payload__metric_name", "payload__resource_type")
    )
    assert types[0] == ("PerformanceMetric", "store_size", None)
    assert types[-3] == ("PerformanceMetric", "failed_deliveries", None)
    assert types[-2:] == [
        ("ResourceUsage", None, "cpu"),
        ("ResourceUsage", None, "memory"),
    ]
    assert "at" in state
    measurements.run_metrics(state)
    assert Message.objects.filter(payload_type="ThroughputMetric").count() == 9


@pytest.mark.django_db
def test_resource_use_above_75_and_90_percent_raises_warning_then_critical(monkeypatch):
    readings = iter([80.0, 95.0, 20.0])

    def usage():
        percent = next(readings)
        return {"cpu": (percent, 2, percent / 50), "memory": (10.0, 1000, 100)}

    monkeypatch.setattr(measurements, "process_usage", usage)
    for _ in range(3):
        measurements.run_metrics()
    alerts = [
        (m.topic, m.payload["severity"], m.payload["metadata"]["usage_percent"])
        for m in Message.objects.filter(category="alerts").order_by("id")
    ]
    assert alerts == [
        ("resource_warning", "warning", 80.0),
        ("resource_critical", "critical", 95.0),
        ("resource_recovered", "info", 20.0),
    ]
    usage_messages = Message.objects.filter(
        payload_type="ResourceUsage", payload__resource_type="cpu"
    ).order_by("id")
    assert [m.payload["usage_percent"] for m in usage_messages] == [80.0, 95.0, 20.0]

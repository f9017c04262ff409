"""Component status changes kept in the database and raised as alerts."""

from __future__ import annotations

import pytest

from opsmessaging import status_changes
from opsmessaging.models import Message


def _alerts() -> list[tuple[str, str, str]]:
    return [
        (m.topic, m.payload["severity"], m.payload["title"])
        for m in Message.objects.filter(category="alerts").order_by("id")
    ]


def test_worst_status_wins():
    assert status_changes.worst(["healthy", "unhealthy", "degraded"]) == "unhealthy"
    assert status_changes.worst(["healthy", "degraded"]) == "degraded"
    assert status_changes.worst([]) == "healthy"


@pytest.mark.django_db
def test_each_change_raises_its_alert_once():
    def record(status: str, reason: str | None = None) -> None:
        status_changes.record_and_alert(
            "n@h",
            "database",
            status,
            status_changes.HEALTH_ALERTS,
            reason,
            {"duration_ms": 3},
        )

    record("healthy")
    record("healthy")
    record("degraded", "slow: 300 ms")
    record("degraded", "slow: 310 ms")
    record("unhealthy", "OperationalError: gone")
    record("healthy")
    assert _alerts() == [
        ("health_degraded", "warning", "database on n@h is degraded: slow: 300 ms"),
        (
            "health_critical",
            "critical",
            "database on n@h is unhealthy: OperationalError: gone",
        ),
        ("health_recovered", "info", "database on n@h recovered (was unhealthy)"),
    ]
    metadata = (
        Message.objects.filter(category="alerts")
        .order_by("id")
        .first()
        .payload["metadata"]
    )
    assert metadata == {
        "node": "n@h",
        "component": "database",
        "previous_status": "healthy",
        "status": "degraded",
        "duration_ms": 3,
    }


@pytest.mark.django_db
def test_resource_changes_use_the_resource_alert_kinds():
    for status in ("degraded", "unhealthy", "healthy"):
        status_changes.record_and_alert(
            "n@h", "process_cpu", status, status_changes.RESOURCE_ALERTS, "80% used", {}
        )
    assert [(topic, severity) for topic, severity, _ in _alerts()] == [
        ("resource_warning", "warning"),
        ("resource_critical", "critical"),
        ("resource_recovered", "info"),
    ]
    categories = (
        Message.objects.filter(category="alerts")
        .order_by("id")
        .values_list("payload__category", flat=True)
    )
    assert list(categories) == ["performance"] * 3


@pytest.mark.django_db
def test_statuses_are_kept_per_node_and_component():
    status_changes.record_and_alert(
        "a@h", "cache", "unhealthy", status_changes.HEALTH_ALERTS, "x", {}
    )
    status_changes.record_and_alert(
        "b@h", "cache", "unhealthy", status_changes.HEALTH_ALERTS, "x", {}
    )
    status_changes.record_and_alert(
        "a@h", "cache", "unhealthy", status_changes.HEALTH_ALERTS, "x", {}
    )
    assert [title for _, _, title in _alerts()] == [
        "cache on a@h is unhealthy: x",
        "cache on b@h is unhealthy: x",
    ]

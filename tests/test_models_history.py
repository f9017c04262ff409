"""History queries of the store: ``MessageQuerySet.matching`` and ``category_stats``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opsmessaging import pubsub
from opsmessaging.models import Message
from opsmessaging.severity import Severity

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def alert(severity: str = "warning", **opts) -> Message:
    result = pubsub.broadcast_alert("node_failure", severity, "x", {}, **opts)
    assert result.message is not None
    return result.message


def matching(**filters) -> list[int]:
    return list(Message.objects.all().matching(**filters).values_list("id", flat=True))


def test_matching_with_nothing_is_everything():
    made = [alert().id, alert().id]
    assert matching() == made[::-1]


def test_matching_a_tag_uses_its_payload_type():
    one = alert()
    pubsub.broadcast_health_update("c", "healthy")
    assert matching(tag="system_alert") == [one.id]
    assert "payload_type" in str(
        Message.objects.all().matching(tag="system_alert").query
    )


def test_matching_severities():
    alert("info")
    high = alert("critical")
    assert matching(severity=Severity.CRITICAL) == [high.id]
    assert matching(min_severity=Severity.ERROR) == [high.id]


def test_matching_a_node_in_one_field_only():
    moved = alert(source_node="db1@app-2")
    assert matching(node="db1@app-2") == [moved.id]
    assert matching(node="db1@app-2", node_field="node") == []
    with pytest.raises(ValueError, match="node_field"):
        matching(node="x", node_field="host")


def test_matching_after_needs_a_category():
    with pytest.raises(ValueError, match="after needs a category"):
        matching(after=1)
    made = [alert().id for _ in range(3)]
    assert matching(category="alerts", after=1) == made[:0:-1]


def test_matching_time_bounds():
    early = alert(timestamp=T0)
    late = alert(timestamp=T0.replace(hour=5))
    assert matching(since=T0.replace(hour=4)) == [late.id]
    assert matching(until=T0.replace(hour=4)) == [early.id]


def test_category_stats_of_an_empty_category():
    assert Message.objects.category_stats("alerts") == {
        "count": 0,
        "first_sequence": None,
        "last_sequence": None,
        "last_message_at": None,
    }


def test_category_stats_count_first_and_last():
    alert(timestamp=T0)
    alert(timestamp=T0.replace(hour=9))
    pubsub.broadcast_health_update("c", "healthy")
    assert Message.objects.category_stats("alerts") == {
        "count": 2,
        "first_sequence": 1,
        "last_sequence": 2,
        "last_message_at": T0.replace(hour=9),
    }

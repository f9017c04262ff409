"""``pubsub.broadcast_typed`` and the ``"typed"`` batch kind: payloads given as JSON data."""

from __future__ import annotations

import pytest

from opsmessaging import pubsub
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.models import Message

pytestmark = pytest.mark.django_db

ALERT = {"severity": "warning", "category": "system", "title": "slow"}


def test_broadcast_typed_builds_validates_and_stores():
    result = pubsub.broadcast_typed(
        "SystemAlert",
        {**ALERT, "timestamp": "2026-01-02T03:04:05.678+01:00"},
        topic="slowness",
        node="web1@app-1",
    )
    assert result.ok
    wire = Message.objects.get().to_wire()
    assert (wire["category"], wire["topic"], wire["node"], wire["severity"]) == (
        "alerts",
        "slowness",
        "web1@app-1",
        "warning",
    )
    assert wire["timestamp"] == "2026-01-02T02:04:05.678Z"
    assert wire["payload"]["node"] == "web1@app-1"


def test_broadcast_typed_keeps_the_payloads_own_node():
    pubsub.broadcast_typed("SystemAlert", {**ALERT, "node": "db1@app-2"}, node="web1@x")
    wire = Message.objects.get().to_wire()
    assert (wire["node"], wire["payload"]["node"]) == ("web1@x", "db1@app-2")


def test_broadcast_typed_names_payload_errors_under_payload():
    with pytest.raises(InvalidMessage) as caught:
        pubsub.broadcast_typed("SystemAlert", {"severity": "loud", "self": 1})
    assert caught.value.errors == {
        "payload.self": [
            "unknown field for SystemAlert; its fields are: alert_id, severity, "
            "category, title, description, source, node, metadata, requires_ack, "
            "alert_type, timestamp"
        ],
        "payload.severity": [
            "'loud' is not allowed; choose one of: info, warning, error, critical"
        ],
        "payload.category": ["this field is required"],
        "payload.title": ["this field is required"],
    }
    assert Message.objects.count() == 0


def test_broadcast_typed_refuses_an_unknown_type():
    with pytest.raises(InvalidMessage) as caught:
        pubsub.broadcast_typed("Nope", {})
    assert list(caught.value.errors) == ["type"]


def test_broadcast_typed_refuses_a_payload_that_is_not_a_mapping():
    with pytest.raises(InvalidMessage) as caught:
        pubsub.broadcast_typed("SystemAlert", ["x"])
    assert caught.value.errors == {
        "payload": ["must be an object of SystemAlert's fields, got list"]
    }


def test_broadcast_typed_refuses_a_disagreeing_category():
    with pytest.raises(InvalidMessage) as caught:
        pubsub.broadcast_typed("SystemAlert", ALERT, category="health")
    assert list(caught.value.errors) == ["category"]


def test_a_typed_batch_takes_options_per_event():
    result = pubsub.broadcast_batch(
        [
            ("typed", "SystemAlert", ALERT, {"topic": "one"}),
            ("typed", "SystemAlert", ALERT, {"topic": "two"}),
        ]
    )
    assert (result.success, result.errors) == (2, 0)
    assert list(Message.objects.order_by("id").values_list("topic", flat=True)) == [
        "one",
        "two",
    ]


def test_a_typed_batch_names_the_bad_event_and_field():
    with pytest.raises(InvalidMessage) as caught:
        pubsub.broadcast_batch(
            [
                ("typed", "SystemAlert", ALERT),
                ("typed", "SystemAlert", {**ALERT, "title": ""}),
            ]
        )
    assert caught.value.errors == {"events[1].payload.title": ["must not be empty"]}
    assert Message.objects.count() == 0


def test_a_payload_field_called_self_is_an_unknown_field_not_a_crash():
    with pytest.raises(InvalidMessage) as caught:
        pubsub.broadcast_typed("SystemAlert", {**ALERT, "self": 1})
    assert list(caught.value.errors) == ["payload.self"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**ALERT, "title": "a\x00b"}, "payload.title"),
        ({**ALERT, "metadata": {"k": ["ok", "a\x00"]}}, "payload.metadata.k[1]"),
        ({**ALERT, "metadata": {"a\x00": 1}}, "payload.metadata"),
    ],
)
def test_a_nul_character_is_bad_input_not_a_store_failure(payload, field):
    # PostgreSQL cannot store U+0000: it is refused before the store is reached.
    with pytest.raises(InvalidMessage) as caught:
        pubsub.broadcast_typed("SystemAlert", payload)
    assert caught.value.errors == {
        field: ["must not contain the NUL character (U+0000)"]
    }
    assert Message.objects.count() == 0

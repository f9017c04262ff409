"""The CloudEvents form of a message."""

from __future__ import annotations

from opsmessaging import cloudevents

WIRE = {
    "id": 7,
    "message_id": "msg_1_abc",
    "category": "alerts",
    "topic": "node_failure",
    "tag": "system_alert",
    "payload_type": "SystemAlert",
    "version": 1,
    "node": "db1@app-2",
    "source_node": "web1@app-1",
    "originating_node": "mon@app-3",
    "timestamp": "2026-01-02T03:04:05.678Z",
    "severity": "critical",
    "sequence": 12,
    "payload": {"title": "down"},
    "signature_valid": True,
}


def test_to_cloudevent_maps_every_envelope_fact():
    assert cloudevents.to_cloudevent(WIRE) == {
        "specversion": "1.0",
        "id": "msg_1_abc",
        "source": "/opsmessaging/web1@app-1",
        "type": "opsmessaging.alerts.system_alert",
        "subject": "node_failure",
        "time": "2026-01-02T03:04:05.678Z",
        "datacontenttype": "application/json",
        "dataschema": "urn:opsmessaging:payload:SystemAlert:1",
        "category": "alerts",
        "payloadtype": "SystemAlert",
        "node": "db1@app-2",
        "originatingnode": "mon@app-3",
        "sequence": "12",
        "signaturevalid": True,
        "severity": "critical",
        "data": {"title": "down"},
    }


def test_a_message_without_severity_has_no_severity_attribute():
    assert "severity" not in cloudevents.to_cloudevent({**WIRE, "severity": None})


def test_extension_attribute_names_follow_the_spec():
    # Lower-case letters and digits, at most 20 characters.
    event = cloudevents.to_cloudevent(WIRE)
    assert all(name.isalnum() and name.islower() and len(name) <= 20 for name in event)


def test_event_type_names_category_and_tag():
    assert cloudevents.event_type("health", "node_health_updated") == (
        "opsmessaging.health.node_health_updated"
    )

"""The envelope: node defaults, topics, payload size and the wire form."""

from __future__ import annotations

import pytest
from django.test import override_settings

from opsmessaging.catalogue import health, lifecycle, security
from opsmessaging.envelope import WIRE_FIELDS, Envelope
from opsmessaging.exceptions import InvalidMessage

pytestmark = pytest.mark.usefixtures("named_node")


@pytest.fixture
def named_node():
    with override_settings(OPSMESSAGING={"NODE_NAME": "self@h"}):
        yield


def test_node_fields_default_to_the_payload_node_then_this_node():
    envelope = Envelope.from_payload(health.node_health("other@h", "healthy"))
    assert (envelope.node, envelope.source_node, envelope.originating_node) == (
        "other@h",
        "self@h",
        "self@h",
    )


def test_originating_node_defaults_to_the_payloads():
    payload = lifecycle.cluster_membership(
        "node_removed", ["n3"], ["n1", "n2"], originating_node="n1"
    )
    assert Envelope.from_payload(payload).originating_node == "n1"


def test_payload_without_node_field_takes_this_node():
    envelope = Envelope.from_payload(
        security.access_violation("permission_denied", "/x", "GET")
    )
    assert envelope.node == "self@h"


def test_explicit_options_win():
    envelope = Envelope.from_payload(
        health.node_health("other@h", "healthy"),
        node="a",
        source_node="b",
        originating_node="c",
        topic="t",
    )
    assert (
        envelope.node,
        envelope.source_node,
        envelope.originating_node,
        envelope.topic,
    ) == ("a", "b", "c", "t")


def test_wire_round_trip():
    envelope = Envelope.from_payload(
        security.access_violation("permission_denied", "/x", "GET", severity="critical")
    )
    wire = envelope.to_wire(id=5, sequence=9)
    assert tuple(wire) == WIRE_FIELDS
    assert (wire["id"], wire["sequence"], wire["severity"]) == (5, 9, "critical")
    assert Envelope.from_wire(wire) == envelope


def test_payload_size_limit_counts_utf8_bytes():
    with override_settings(OPSMESSAGING={"MAX_PAYLOAD_BYTES": 300}):
        Envelope.from_payload(
            health.component_health("c", "n", "healthy", details={"t": "é" * 20})
        )
        with pytest.raises(InvalidMessage) as error:
            Envelope.from_payload(
                health.component_health("c", "n", "healthy", details={"t": "é" * 200})
            )
    assert list(error.value.errors) == ["payload"]
    assert "the limit is 300" in str(error.value)


def test_payload_json_is_the_compact_text_of_the_payload():
    import json
    from dataclasses import replace

    envelope = Envelope.from_payload(
        health.component_health("db", "self@h", "healthy", details={"é": 1})
    )
    compact = json.dumps(envelope.payload, separators=(",", ":"), ensure_ascii=False)
    assert envelope.payload_json == compact
    assert '"é":1' in envelope.payload_json
    changed = replace(envelope, payload={"a": 1})
    assert changed.payload_json == '{"a":1}'
    assert (
        changed != envelope and replace(changed, payload=envelope.payload) == envelope
    )

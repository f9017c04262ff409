"""The stored and wire form of one operational message; no ORM, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from opsmessaging import schema
from opsmessaging.catalogue import Payload, get_type
from opsmessaging.categories import Category, parse_category, validate_topic
from opsmessaging.codec import compact_json
from opsmessaging.conf import conf
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.nodenames import (
    NODE_FIELDS,
    generate_message_id,
    is_node_name,
    this_node,
)
from opsmessaging.severity import Severity, severity_label
from opsmessaging.timestamps import format_timestamp, parse_timestamp

#: The envelope's own fields, in order: what is signed (with the payload), what the store
#: keeps in a column each, and the wire form's keys between ``id`` and ``sequence``. The
#: ``Envelope`` dataclass below declares them in this order (a test holds it so).
HEADER_FIELDS = (
    "message_id",
    "category",
    "topic",
    "tag",
    "payload_type",
    "version",
    "node",
    "source_node",
    "originating_node",
    "timestamp",
    "severity",
)
#: Who sent a message through the API: the authenticated user and the node that received
#: it (None for messages made on a node itself). Signed when set, so a message stored
#: before they existed keeps its signature.
SENDER_FIELDS = ("sender", "received_by")
SENDER_MAX_LENGTH = 150
#: Keys of the wire form, in order.
WIRE_FIELDS = (
    "id",
    *HEADER_FIELDS,
    "sequence",
    "payload",
    "signature_valid",
    *SENDER_FIELDS,
)


@dataclass(frozen=True)
class Envelope:
    """A validated message ready to store: envelope fields plus the JSON payload."""

    message_id: str
    category: Category
    topic: str
    tag: str
    payload_type: str
    version: int
    node: str
    source_node: str
    originating_node: str
    timestamp: datetime
    severity: Severity | None
    payload: dict[str, Any]
    sender: str | None = None
    received_by: str | None = None

    @classmethod
    def from_payload(
        cls,
        payload: Payload,
        *,
        topic: str | None = None,
        node: str | None = None,
        source_node: str | None = None,
        originating_node: str | None = None,
        category: str | None = None,
        message_id: str | None = None,
        sender: str | None = None,
        received_by: str | None = None,
    ) -> Envelope:
        """Wrap ``payload``; node fields default to the payload's own, then this node.

        Raises ``InvalidMessage`` for a category that disagrees with the payload's type, a
        bad topic or node name, or a payload larger than ``MAX_PAYLOAD_BYTES``.
        """
        if not isinstance(payload, Payload):
            raise InvalidMessage(
                f"expected a catalogue Payload, got {type(payload).__name__}", "payload"
            )
        payload_type = payload.type
        if category is not None and parse_category(category) != payload_type.category:
            raise InvalidMessage(
                f"{payload_type.name} belongs to category '{payload_type.category.value}', "
                f"not '{category}'",
                "category",
            )
        nodes = {
            "node": node if node is not None else payload.get("node") or this_node(),
            "source_node": source_node if source_node is not None else this_node(),
            "originating_node": originating_node
            if originating_node is not None
            else payload.get("originating_node") or this_node(),
        }
        errors = {
            name: f"{value!r} is not a node name (non-empty; letters, digits, '_', '.', '-', "
            "optionally '@host')"
            for name, value in nodes.items()
            if not is_node_name(value)
        }
        if received_by is not None and not is_node_name(received_by):
            errors["received_by"] = f"{received_by!r} is not a node name"
        if sender is not None and (
            not isinstance(sender, str) or not sender or len(sender) > SENDER_MAX_LENGTH
        ):
            errors["sender"] = (
                f"must be a username of 1 to {SENDER_MAX_LENGTH} characters"
            )
        if errors:
            raise InvalidMessage(errors)
        data = payload.to_json()
        text = compact_json(data)
        _check_size(len(text.encode()))
        schema.validate_json(payload_type.name, payload_type.version, data)
        envelope = cls(
            message_id=message_id or generate_message_id(),
            category=payload_type.category,
            topic=validate_topic(
                topic if topic is not None else payload_type.topic_for(payload.data)
            ),
            tag=payload_type.tag,
            payload_type=payload_type.name,
            version=payload_type.version,
            node=nodes["node"],
            source_node=nodes["source_node"],
            originating_node=nodes["originating_node"],
            timestamp=payload["timestamp"],
            severity=payload_type.severity_of(payload.data),
            payload=data,
            sender=sender,
            received_by=received_by,
        )
        envelope.__dict__["payload_json"] = (
            text  # the cached_property, computed already
        )
        return envelope

    @cached_property
    def payload_json(self) -> str:
        """The payload as compact JSON text (as stored and as its size is measured)."""
        return compact_json(self.payload)

    def to_wire(
        self,
        *,
        id: int | None = None,
        sequence: int | None = None,
        signature_valid: bool | None = None,
    ) -> dict[str, Any]:
        """Return the JSON wire form; ``id``, ``sequence`` and ``signature_valid`` come
        from the store."""
        return {
            "id": id,
            **self.header(),
            "sequence": sequence,
            "payload": self.payload,
            "signature_valid": signature_valid,
            "sender": self.sender,
            "received_by": self.received_by,
        }

    def signed_fields(self) -> dict[str, Any]:
        """Return what the signature covers besides the payload: the ``HEADER_FIELDS``
        and the ``SENDER_FIELDS`` that are set."""
        senders = {
            name: getattr(self, name)
            for name in SENDER_FIELDS
            if getattr(self, name) is not None
        }
        return {**self.header(), **senders}

    def header(self) -> dict[str, Any]:
        """Return the ``HEADER_FIELDS`` as JSON values (the wire form's and the signed)."""
        return {
            "message_id": self.message_id,
            "category": self.category.value,
            "topic": self.topic,
            "tag": self.tag,
            "payload_type": self.payload_type,
            "version": self.version,
            "node": self.node,
            "source_node": self.source_node,
            "originating_node": self.originating_node,
            "timestamp": format_timestamp(self.timestamp),
            "severity": severity_label(self.severity),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Envelope:
        """Rebuild an envelope from its wire form (the inverse of ``to_wire``)."""
        payload_type = get_type(data["payload_type"], "payload_type")
        severity = data.get("severity")
        return cls(
            message_id=data["message_id"],
            category=parse_category(data["category"]),
            topic=validate_topic(data["topic"]),
            tag=payload_type.tag,
            payload_type=payload_type.name,
            version=int(data.get("version", payload_type.version)),
            **{name: data[name] for name in NODE_FIELDS},
            timestamp=parse_timestamp(data["timestamp"]),
            severity=None if severity is None else Severity[str(severity).upper()],
            payload=data["payload"],
            sender=data.get("sender"),
            received_by=data.get("received_by"),
        )


def check_payload_size(data: dict[str, Any]) -> int:
    """Return the payload's encoded size, or raise ``InvalidMessage`` if over the limit."""
    return _check_size(len(compact_json(data).encode()))


def _check_size(size: int) -> int:
    limit = conf.MAX_PAYLOAD_BYTES
    if size > limit:
        raise InvalidMessage(
            f"is {size} bytes of JSON; the limit is {limit} (OPSMESSAGING['MAX_PAYLOAD_BYTES'])",
            "payload",
        )
    return size

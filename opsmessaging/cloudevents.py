"""The CloudEvents 1.0 form of a message (structured JSON mode); no ORM, no I/O.

A message leaves Django in a standard form: ``id`` is the message id, ``type`` names the
category and tag, ``subject`` is the topic, ``time`` the timestamp, ``data`` the payload and
``dataschema`` the ``$id`` of the payload type's JSON Schema (``opsmessaging.schema``).
Envelope facts without a CloudEvents attribute travel as extension attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsmessaging.schema import schema_id

SPEC_VERSION = "1.0"
#: ``Content-Type`` of one event and of a batch, in structured mode.
MEDIA_TYPE = "application/cloudevents+json"
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
TYPE_PREFIX = "opsmessaging"


def event_type(category: str, tag: str) -> str:
    """Return the CloudEvents ``type`` of a message, e.g. ``opsmessaging.alerts.system_alert``."""
    return f"{TYPE_PREFIX}.{category}.{tag}"


def to_cloudevent(wire: Mapping[str, Any]) -> dict[str, Any]:
    """Return the structured-mode CloudEvent of a message given in its wire form."""
    event: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": wire["message_id"],
        "source": f"/opsmessaging/{wire['source_node']}",
        "type": event_type(wire["category"], wire["tag"]),
        "subject": wire["topic"],
        "time": wire["timestamp"],
        "datacontenttype": "application/json",
        "dataschema": schema_id(wire["payload_type"], wire["version"]),
        # Extension attributes (lower-case letters and digits only, by the spec).
        "category": wire["category"],
        "payloadtype": wire["payload_type"],
        "node": wire["node"],
        "originatingnode": wire["originating_node"],
        "sequence": str(wire["sequence"]),
        "signaturevalid": wire["signature_valid"],
        "data": wire["payload"],
    }
    if wire.get("severity") is not None:
        event["severity"] = wire["severity"]
    return event

"""Serializers of the API: the message wire form, broadcast bodies and the other resources.

Messages are written by ``opsmessaging.pubsub`` and read as ``Message.to_wire()``: the
serializers here describe those shapes (for validation of a body's outline and for the
OpenAPI description) and never build a message themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from opsmessaging.catalogue import all_types
from opsmessaging.categories import EXCLUDED_CATEGORIES, Category
from opsmessaging.conf import conf
from opsmessaging.models import Message, Node
from opsmessaging.severity import Severity
from opsmessaging.timestamps import format_timestamp

PAYLOAD_TYPE_NAMES = [t.name for t in all_types()]
TAGS = [t.tag for t in all_types()]


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into ``{"events[1].type": ["reason"]}``.

    The same flat, dotted shape as ``InvalidMessage.errors``, so every 400 of the API
    reads alike.
    """
    items: Any
    if isinstance(detail, Mapping):
        items = detail.items()
    elif isinstance(detail, list) and any(
        isinstance(item, Mapping | list) for item in detail
    ):
        items = enumerate(detail)
    else:
        reasons = detail if isinstance(detail, list) else [detail]
        return {prefix or "non_field_errors": [str(reason) for reason in reasons]}
    flat: dict[str, list[str]] = {}
    for key, value in items:
        if isinstance(key, int):
            path = f"{prefix}[{key}]"
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        if value:
            flat.update(flatten_errors(value, path))
    return flat


class TimestampField(serializers.DateTimeField):
    """A time in the wire format of messages: UTC, three fractional digits, ``Z``."""

    def to_representation(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return format_timestamp(value)
        return value


# Some fields below share a name with a serializer attribute (errors, fields, data, ...):
# DRF's metaclass takes declared fields off the class, so the JSON keys can be kept; mypy
# does not know that, hence the ignores.


class MessageSerializer(serializers.Serializer[Message]):
    """A stored message in its wire form (``Message.to_wire()``)."""

    id = serializers.IntegerField(help_text="Store id; grows with every message.")
    message_id = serializers.CharField(help_text="Globally unique message id.")
    category = serializers.ChoiceField(choices=Category.values)
    topic = serializers.CharField()
    tag = serializers.ChoiceField(choices=TAGS, help_text="The original's message tag.")
    payload_type = serializers.ChoiceField(choices=PAYLOAD_TYPE_NAMES)
    version = serializers.IntegerField(help_text="Version of the payload type.")
    node = serializers.CharField()
    source_node = serializers.CharField()
    originating_node = serializers.CharField()
    timestamp = TimestampField(help_text="UTC, millisecond precision.")
    severity = serializers.ChoiceField(
        choices=[s.label for s in Severity],
        allow_null=True,
        help_text="Normalised severity, for types that have one.",
    )
    sequence = serializers.IntegerField(
        help_text="Position in the category, from 1, with no gaps."
    )
    payload = serializers.DictField(
        allow_null=True,
        help_text="The payload; its JSON Schema is at `types/{payload_type}/`. Null when "
        "it is stored encrypted with a key this server does not have.",
    )
    signature_valid = serializers.BooleanField(
        help_text="Whether the stored message's signature verifies (false: tampered)."
    )
    sender = serializers.CharField(
        allow_null=True,
        help_text="The authenticated user who broadcast it through the API (signed); "
        "null for a message made on a node itself.",
    )
    received_by = serializers.CharField(
        allow_null=True,
        help_text="The node that received it through the API (signed); null otherwise.",
    )

    def to_representation(self, instance: Message) -> dict[str, Any]:
        return instance.to_wire()


@extend_schema_field({"type": "string", "enum": PAYLOAD_TYPE_NAMES})
class PayloadTypeNameField(serializers.CharField):
    """A payload type's name, checked by the catalogue (whose error lists the names)."""


def _option(help_text: str) -> serializers.CharField:
    """An optional envelope option of a broadcast, checked by the catalogue."""
    return serializers.CharField(
        required=False, min_length=1, trim_whitespace=False, help_text=help_text
    )


class BroadcastSerializer(serializers.Serializer[Any]):
    """The body of ``POST messages/``: a payload type, its fields and envelope options."""

    type = PayloadTypeNameField(
        help_text="The payload type, e.g. `SystemAlert`; it decides the category."
    )
    payload = serializers.DictField(
        required=False,
        help_text="The payload's fields as JSON (see `types/{type}/`); absent ones take "
        "their defaults, `timestamp` defaults to now.",
    )
    topic = _option("Defaults to the payload type's topic.")
    category = _option("Optional; refused when it is not the payload type's category.")
    node = _option(
        "Defaults to the payload's node, then this server's node name. Setting any "
        "node field needs the `override_message_node` permission."
    )
    source_node = _option("Defaults to this server's node name.")
    originating_node = _option(
        "Defaults to the payload's originating node, then this server's."
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping):
            unknown = {
                str(key): [
                    EXCLUDED_CATEGORIES[key]
                    if key in EXCLUDED_CATEGORIES
                    else f"Unknown field; the fields are: {', '.join(self.fields)}."
                ]
                for key in data
                if key not in self.fields
            }
            if unknown:
                raise serializers.ValidationError(unknown)
        value: dict[str, Any] = super().to_internal_value(data)
        return value


class BatchSerializer(serializers.Serializer[Any]):
    """The body of ``POST messages/batch/``: several broadcasts, stored all or none."""

    events = serializers.ListField(
        child=BroadcastSerializer(),
        allow_empty=False,
        help_text="Each like the body of `POST messages/`; at most "
        "`OPSMESSAGING['API_MAX_BATCH_SIZE']`.",
    )

    def validate_events(self, value: list[Any]) -> list[Any]:
        if len(value) > conf.API_MAX_BATCH_SIZE:
            raise serializers.ValidationError(
                f"At most {conf.API_MAX_BATCH_SIZE} events per batch, got {len(value)}."
            )
        return value


class BatchItemSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["ok", "disabled", "error"])
    message = MessageSerializer(allow_null=True)
    error = serializers.CharField(allow_null=True)


class BatchResultSerializer(serializers.Serializer[Any]):
    """The outcome of a batch: counts and one result per event, in order."""

    success = serializers.IntegerField()
    errors = serializers.IntegerField()  # type: ignore[assignment]
    disabled = serializers.BooleanField()
    results = BatchItemSerializer(many=True)


class NotStoredSerializer(serializers.Serializer[Any]):
    """Nothing was stored: broadcasting is disabled, or the store failed."""

    status = serializers.ChoiceField(choices=["disabled", "error"])
    detail = serializers.CharField()


class CategorySerializer(serializers.Serializer[Any]):
    """One category with its topics and the extent of its history."""

    category = serializers.ChoiceField(choices=Category.values)
    label = serializers.CharField()  # type: ignore[assignment]
    topics = serializers.ListField(
        child=serializers.CharField(), help_text="Its topics, sorted."
    )
    topics_truncated = serializers.BooleanField(
        help_text="True when there are more topics than listed."
    )
    count = serializers.IntegerField(help_text="Messages stored.")
    first_sequence = serializers.IntegerField(allow_null=True)
    last_sequence = serializers.IntegerField(allow_null=True)
    last_message_at = TimestampField(allow_null=True)
    epoch = serializers.CharField(
        help_text="The epoch of the category's log: sequences are positions in it. A new "
        "epoch means the log was started anew and earlier positions are not valid."
    )


class CheckInSerializer(serializers.Serializer[dict[str, Any]]):
    """One run of a monitored job, or a period it missed."""

    status = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    node = serializers.CharField()
    error = serializers.CharField()


class MonitorSerializer(serializers.Serializer[dict[str, Any]]):
    """A monitored job, its thresholds and counters, and its latest check-ins."""

    name = serializers.CharField()
    status = serializers.CharField()
    interval_ms = serializers.IntegerField(allow_null=True)
    crontab = serializers.CharField()
    margin_ms = serializers.IntegerField()
    failure_threshold = serializers.IntegerField()
    recovery_threshold = serializers.IntegerField()
    consecutive_failures = serializers.IntegerField()
    consecutive_successes = serializers.IntegerField()
    is_alerting = serializers.BooleanField()
    last_checkin_at = serializers.DateTimeField(allow_null=True)
    last_ok_at = serializers.DateTimeField(allow_null=True)
    next_due_at = serializers.DateTimeField(allow_null=True)
    checkins = CheckInSerializer(many=True)


class NodeSerializer(serializers.ModelSerializer[Node]):
    """A node of the registry."""

    started_at = TimestampField(allow_null=True)
    last_heartbeat_at = TimestampField(allow_null=True)
    is_connected = serializers.SerializerMethodField(
        help_text="Alive by its heartbeats (one within HEARTBEAT_INTERVAL x "
        "NODE_FAILURE_THRESHOLD) and neither failed nor stopped."
    )

    class Meta:
        model = Node
        fields = [
            "name",
            "role",
            "status",
            "started_at",
            "last_heartbeat_at",
            "is_connected",
            "metadata",
        ]

    def get_is_connected(self, node: Node) -> bool:
        return node.name in self.context.get("connected", ())


class ClusterContextSerializer(serializers.Serializer[Any]):
    """``helpers.cluster_context()``."""

    node_name = serializers.CharField()
    connected_nodes = serializers.ListField(child=serializers.CharField())
    cluster_size = serializers.IntegerField()
    node_type = serializers.CharField()


class ClusterSerializer(serializers.Serializer[Any]):
    cluster = ClusterContextSerializer()
    nodes = NodeSerializer(many=True)


class CheckSerializer(serializers.Serializer[Any]):
    """One system-check message of opsmessaging."""

    id = serializers.CharField(allow_null=True)
    level = serializers.ChoiceField(
        choices=["debug", "info", "warning", "error", "critical"]
    )
    message = serializers.CharField()
    hint = serializers.CharField(allow_null=True)


class CompatibilityReportSerializer(serializers.Serializer[Any]):
    """``pubsub.validate_messaging_compatibility()``: each section, or ``{"error": ...}``."""

    operational_helpers = serializers.DictField()
    gater_integration = serializers.DictField()
    node_consistency = serializers.DictField()
    timestamp_precision = serializers.DictField()


class CompatibilitySerializer(serializers.Serializer[Any]):
    """The compatibility status; ``report`` and ``checks`` only for readers of messages."""

    compatible = serializers.BooleanField()
    report = CompatibilityReportSerializer(required=False)
    checks = CheckSerializer(many=True, required=False)


class PayloadTypeSerializer(serializers.Serializer[Any]):
    """A payload type of the catalogue (``schema.describe_type``)."""

    name = serializers.ChoiceField(choices=PAYLOAD_TYPE_NAMES)
    category = serializers.ChoiceField(choices=Category.values)
    tag = serializers.ChoiceField(choices=TAGS)
    version = serializers.IntegerField()
    description = serializers.CharField(allow_blank=True)
    default_topic = serializers.CharField(
        allow_null=True, help_text="Null when computed from the payload."
    )
    severity_field = serializers.CharField(allow_null=True)
    fields = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]
    required_fields = serializers.ListField(child=serializers.CharField())
    allowed_values = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField())
    )
    schema = serializers.DictField(help_text="The payload's JSON Schema (2020-12).")


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()


class CloudEventSerializer(serializers.Serializer[Any]):
    """A message as a CloudEvent 1.0 in structured mode (``cloudevents.to_cloudevent``)."""

    specversion = serializers.CharField()
    id = serializers.CharField(help_text="The message id.")
    source = serializers.CharField(help_text="`/opsmessaging/<source node>`.")  # type: ignore[assignment]
    type = serializers.CharField(help_text="`opsmessaging.<category>.<tag>`.")
    subject = serializers.CharField(help_text="The topic.")
    time = TimestampField()
    datacontenttype = serializers.CharField()
    dataschema = serializers.CharField(
        help_text="The `$id` of the payload type's JSON Schema (see `types/`)."
    )
    category = serializers.ChoiceField(choices=Category.values)
    payloadtype = serializers.ChoiceField(choices=PAYLOAD_TYPE_NAMES)
    node = serializers.CharField()
    originatingnode = serializers.CharField()
    sequence = serializers.CharField(help_text="The sequence in the category.")
    severity = serializers.ChoiceField(
        choices=[s.label for s in Severity],
        required=False,
        help_text="Absent when the message has none.",
    )
    signaturevalid = serializers.BooleanField(
        help_text="Whether the stored message's signature verifies."
    )
    data = serializers.DictField(  # type: ignore[assignment]
        allow_null=True, help_text="The payload (null when unreadable here)."
    )

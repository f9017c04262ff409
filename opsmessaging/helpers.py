"""The original's operational-message helpers, in one public module.

Node fields and ids live in ``opsmessaging.nodenames``, timestamps in
``opsmessaging.timestamps``; this module re-exports them beside the validators and the
cluster context (which reads the node registry, so it sits above the store).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

from opsmessaging.exceptions import (
    InvalidMessage,
    InvalidNodeFields,
    InvalidTimestamp,
    MissingFields,
)
from opsmessaging.models import Node
from opsmessaging.nodenames import (
    NODE_FIELDS,
    NODE_NAME_MAX_LENGTH,
    NODE_NAME_PATTERN,
    default_node_name,
    generate_hex_id,
    generate_message_id,
    generate_operational_id,
    get_node,
    get_originating_node,
    get_source_node,
    is_node_name,
    this_node,
)
from opsmessaging.timestamps import (
    current_timestamp,
    format_timestamp,
    parse_timestamp,
    truncate_to_milliseconds,
)


def _as_mapping(message: object) -> Mapping[str, Any]:
    if isinstance(message, Mapping):
        return message
    data = getattr(message, "data", None)  # a catalogue Payload
    if isinstance(data, Mapping):
        return data
    if is_dataclass(message) and not isinstance(message, type):
        return asdict(message)
    raise InvalidMessage(f"expected a mapping, got {type(message).__name__}", "message")


def validate_operational_fields(
    message: object, required_fields: Iterable[str]
) -> object:
    """Return ``message`` if every required field is present and not None.

    Raises ``MissingFields`` naming each missing field (``False`` counts as present).
    """
    if isinstance(required_fields, str | bytes) or not isinstance(
        required_fields, Iterable
    ):
        raise TypeError("required_fields must be a list of field names")
    names = list(required_fields)
    if not all(isinstance(name, str) for name in names):
        raise TypeError("required_fields must be a list of field names")
    data = _as_mapping(message)
    missing = [name for name in names if data.get(name) is None]
    if missing:
        raise MissingFields(dict.fromkeys(missing, "this field is required"))
    return message


def validate_node_fields(message: object) -> object:
    """Return ``message`` if its node fields, where present, are node names.

    Raises ``InvalidNodeFields`` naming each bad one.
    """
    data = _as_mapping(message)
    bad = {
        name: f"{data[name]!r} is not a node name (non-empty, letters, digits, '_', '.', '-', "
        f"optionally '@host')"
        for name in NODE_FIELDS
        if data.get(name) is not None and not is_node_name(data[name])
    }
    if bad:
        raise InvalidNodeFields(bad)
    return message


def validate_operational_message(
    message: object, required_fields: Iterable[str]
) -> object:
    """Validate required fields plus ``timestamp``, then node fields, then the timestamp."""
    validate_operational_fields(message, [*required_fields, "timestamp"])
    validate_node_fields(message)
    timestamp = _as_mapping(message)["timestamp"]
    if not isinstance(timestamp, datetime):
        raise InvalidTimestamp(
            "not_datetime: the timestamp must be a datetime", "timestamp"
        )
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise InvalidTimestamp(
            "naive datetime: give an aware datetime (UTC)", "timestamp"
        )
    return message


def cluster_context() -> dict[str, Any]:
    """Return ``node_name``, ``connected_nodes``, ``cluster_size`` and ``node_type``.

    ``connected_nodes`` are the other nodes of the registry that have been seen recently.
    """
    return Node.objects.cluster_context()


def enrich_metadata(meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return ``meta`` with ``cluster_context`` added; keys of ``meta`` win."""
    if meta is not None and not isinstance(meta, Mapping):
        raise InvalidMessage(f"must be a mapping, got {type(meta).__name__}", "meta")
    return {"cluster_context": cluster_context(), **(meta or {})}


__all__ = [
    "NODE_FIELDS",
    "NODE_NAME_MAX_LENGTH",
    "NODE_NAME_PATTERN",
    "cluster_context",
    "current_timestamp",
    "default_node_name",
    "enrich_metadata",
    "format_timestamp",
    "generate_hex_id",
    "generate_message_id",
    "generate_operational_id",
    "get_node",
    "get_originating_node",
    "get_source_node",
    "is_node_name",
    "parse_timestamp",
    "this_node",
    "truncate_to_milliseconds",
    "validate_node_fields",
    "validate_operational_fields",
    "validate_operational_message",
]

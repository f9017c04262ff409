"""Node fields, millisecond UTC timestamps, validation, cluster context and ids.

The Python side of the original's ``OperationalMessageHelpers``.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from typing import Any, cast

from opsmessaging.conf import conf
from opsmessaging.exceptions import (
    InvalidMessage,
    InvalidNodeFields,
    InvalidTimestamp,
    MissingFields,
)

NODE_FIELDS = ("node", "source_node", "originating_node")
# The real class, even where tests replace ``datetime`` to fake now().
_DATETIME = datetime
NODE_NAME_MAX_LENGTH = 255
#: A node name, ``name`` or ``name@host`` (also published in the JSON Schemas).
NODE_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(@[A-Za-z0-9_][A-Za-z0-9_.\-]*)?$"
_NODE_RE = re.compile(NODE_NAME_PATTERN)
_HOST_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def default_node_name() -> str:
    """Return ``django@<hostname>``, the node name used when ``NODE_NAME`` is not set."""
    host = _HOST_UNSAFE.sub("-", socket.gethostname()) or "localhost"
    return f"django@{host}"


def this_node() -> str:
    """Return this node's name: ``OPSMESSAGING["NODE_NAME"]`` or ``django@<hostname>``."""
    return conf.NODE_NAME or default_node_name()


def _option(opts: Mapping[str, Any] | None, name: str) -> str:
    if opts is not None and not isinstance(opts, Mapping):
        raise InvalidMessage(f"must be a mapping, got {type(opts).__name__}", "opts")
    value = (opts or {}).get(name)
    # Not coerced: a bad value (an int, "") must reach validation and be refused there.
    return this_node() if value is None else cast(str, value)


def get_node(opts: Mapping[str, Any] | None = None) -> str:
    """Return ``opts["node"]`` when given, else this node's name."""
    return _option(opts, "node")


def get_source_node(opts: Mapping[str, Any] | None = None) -> str:
    """Return ``opts["source_node"]`` when given, else this node's name."""
    return _option(opts, "source_node")


def get_originating_node(opts: Mapping[str, Any] | None = None) -> str:
    """Return ``opts["originating_node"]`` when given, else this node's name."""
    return _option(opts, "originating_node")


def is_node_name(value: object) -> bool:
    """Tell whether ``value`` is a legal node name (``name`` or ``name@host``)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= NODE_NAME_MAX_LENGTH
        and _NODE_RE.match(value) is not None
    )


def current_timestamp() -> datetime:
    """Return the current UTC time as an aware datetime truncated to milliseconds."""
    return truncate_to_milliseconds(datetime.now(UTC))


def truncate_to_milliseconds(value: datetime) -> datetime:
    """Return ``value`` in UTC with its microseconds truncated to whole milliseconds."""
    if not isinstance(value, _DATETIME):
        raise InvalidTimestamp(
            f"must be a datetime, got {type(value).__name__}", "timestamp"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTimestamp(
            "naive datetime: give an aware datetime (UTC)", "timestamp"
        )
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise InvalidTimestamp(
            f"{value!r} is out of range in UTC", "timestamp"
        ) from None
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def format_timestamp(value: datetime) -> str:
    """Return the wire form of a datetime: RFC 3339, UTC, three fractional digits, ``Z``."""
    value = truncate_to_milliseconds(value)
    # isoformat, unlike strftime("%Y"), writes years before 1000 with four digits.
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_timestamp(value: str, field: str = "timestamp") -> datetime:
    """Parse an RFC 3339 timestamp with an offset into an aware UTC datetime (ms)."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidTimestamp(
            f"{value!r} is not an RFC 3339 timestamp", field
        ) from None
    if parsed.tzinfo is None:
        raise InvalidTimestamp(f"{value!r} has no UTC offset", field)
    return truncate_to_milliseconds(parsed)


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
    from opsmessaging.models import Node

    name = this_node()
    connected = Node.objects.connected_names(exclude=name)
    return {
        "node_name": name,
        "connected_nodes": connected,
        "cluster_size": len(connected) + 1,
        "node_type": conf.NODE_TYPE,
    }


def enrich_metadata(meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return ``meta`` with ``cluster_context`` added; keys of ``meta`` win."""
    if meta is not None and not isinstance(meta, Mapping):
        raise InvalidMessage(f"must be a mapping, got {type(meta).__name__}", "meta")
    return {"cluster_context": cluster_context(), **(meta or {})}


def _random_suffix() -> str:
    return base64.urlsafe_b64encode(os.urandom(4)).rstrip(b"=").decode()


def generate_message_id(prefix: str = "msg") -> str:
    """Return ``<prefix>_<microseconds since the epoch>_<6 url-safe characters>``."""
    return f"{prefix}_{time.time_ns() // 1000}_{_random_suffix()}"


def generate_operational_id(prefix: str = "op") -> str:
    """Return an operational id, same format as ``generate_message_id``."""
    return generate_message_id(prefix)


def generate_hex_id(prefix: str | None = None) -> str:
    """Return 16 lowercase hex characters (8 random bytes), behind ``<prefix>_`` if given."""
    token = secrets.token_hex(8)
    return f"{prefix}_{token}" if prefix else token

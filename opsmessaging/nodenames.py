"""Node names, the three node fields of a message, and generated ids.

A node name is ``name`` or ``name@host``; every message carries ``node`` (where it is
about), ``source_node`` (who sent it) and ``originating_node`` (where it started).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import socket
import time
from collections.abc import Mapping
from typing import Any, cast

from opsmessaging.conf import conf
from opsmessaging.exceptions import InvalidMessage

NODE_FIELDS = ("node", "source_node", "originating_node")
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

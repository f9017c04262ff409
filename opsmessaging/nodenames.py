"""Node names, the three node fields of a message, and generated ids.

A node name is ``name`` or ``name@host``; every message carries ``node`` (where it is
about), ``source_node`` (who sent it) and ``originating_node`` (where it started).

Each process has a role, set once by whatever starts it serving (``web`` by the ASGI
lifespan or the first WSGI request, ``worker`` and ``beat`` by Celery's signals) and
``command`` until then (shells, management commands). Its name is ``NODE_NAME`` rendered
with ``{role}``, ``{host}`` and ``{pid}``: ``{role}@{host}`` by default, so a web process
and a worker on one host are two nodes, and a restarted process keeps its name.
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


#: The name of a process when ``NODE_NAME`` is not set.
DEFAULT_NODE_NAME = "{role}@{host}"
#: The placeholders ``NODE_NAME`` may hold.
NODE_NAME_FIELDS = ("role", "host", "pid")
#: The role of a process that does not serve (a shell, a management command).
COMMAND_ROLE = "command"

_role: str | None = None
_role_pid = 0  # the process that set ``_role``: a forked child starts without one


def set_process_role(role: str) -> None:
    """Set this process's role, once: later calls (a beat embedded in a worker's
    process, a second start) keep the first."""
    if _role is None or _role_pid != os.getpid():
        reset_process_role(role)


def reset_process_role(role: str | None = None) -> None:
    """Set (or with None, clear) this process's role, whatever it was."""
    global _role, _role_pid
    _role, _role_pid = role, os.getpid()


def process_role() -> str:
    """Return this process's role: ``web``, ``worker``, ``beat`` or ``command``."""
    if _role is None or _role_pid != os.getpid():
        return COMMAND_ROLE
    return _role


def host_name() -> str:
    """Return this host's name, made safe for a node name."""
    return _HOST_UNSAFE.sub("-", socket.gethostname()) or "localhost"


def render_node_name(template: str, role: str) -> str:
    """Return ``template`` with ``{role}``, ``{host}`` and ``{pid}`` filled in."""
    if "{" not in template:
        return template
    return template.format(role=role, host=host_name(), pid=os.getpid())


def default_node_name() -> str:
    """Return ``<role>@<hostname>``, the node name used when ``NODE_NAME`` is not set."""
    return render_node_name(DEFAULT_NODE_NAME, process_role())


def this_node() -> str:
    """Return this process's node name: ``NODE_NAME`` (default ``{role}@{host}``)
    rendered with this process's role, host and pid."""
    return render_node_name(conf.NODE_NAME or DEFAULT_NODE_NAME, process_role())


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

"""The AsyncAPI 3.0 document of the WebSocket protocol, generated from its declarations.

Frame types, actions and close codes come from ``opsmessaging.protocol``, the wire form's
fields from ``envelope.WIRE_FIELDS``, categories and topics from ``opsmessaging.categories``,
severities from ``opsmessaging.severity`` and every payload's JSON Schema from
``opsmessaging.schema``. The document describes the server: it *receives* the client's
frames and *sends* its own. Served by ``opsmessaging.api`` (``asyncapi/``) and written by
``manage.py opsmessaging_asyncapi``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from opsmessaging import __version__, protocol
from opsmessaging.catalogue import all_types
from opsmessaging.categories import TOPIC_MAX_LENGTH, TOPIC_PATTERN, Category
from opsmessaging.envelope import SENDER_FIELDS, WIRE_FIELDS
from opsmessaging.nodenames import NODE_NAME_MAX_LENGTH, NODE_NAME_PATTERN
from opsmessaging.schema import all_schemas
from opsmessaging.severity import SEVERITY_ALIASES, Severity

ASYNCAPI_VERSION = "3.1.0"

#: The ``code`` of every ``error`` frame, and when it is sent.
ERROR_CODES: dict[str, str] = {
    "not_authenticated": "The connection has no user; it is closed with 4401.",
    "invalid_json": "The frame is not valid JSON.",
    "invalid_frame": "The frame is binary, or not a JSON object.",
    "frame_too_large": "The frame is larger than WS_MAX_FRAME_BYTES.",
    "unknown_action": "The action is not subscribe, unsubscribe or ping.",
    "unknown_category": "The category is missing or not one of the categories.",
    "invalid_topic": "The topic is not a legal topic.",
    "invalid_since": "since is not a sequence number >= 0.",
    "invalid_filters": "filters is not an object of an optional node and severity.",
    "forbidden": "The user may not view the category.",
    "not_subscribed": "An unsubscribe names no current subscription.",
    "store_unavailable": "The message store cannot be reached; try again shortly.",
    "invalid_epoch": "epoch is not a string.",
    "epoch_changed": (
        "The category's log was started anew: positions in the named (old) epoch are not "
        "valid. The frame names the new epoch (and, on subscribe, last_sequence); "
        "subscribe again from since=0 with it."
    ),
    "too_many_subscriptions": "The connection has WS_MAX_SUBSCRIPTIONS subscriptions.",
    "too_many_connections": (
        "The user has WS_MAX_CONNECTIONS_PER_USER connections; closed with 4429."
    ),
    "replay_failed": "Replaying stored messages failed; subscribe again with since.",
    "catch_up_failed": "Filling a gap from the store failed; subscribe again with since.",
}

#: WebSocket close codes the server uses, and what the client should do.
CLOSE_CODES: dict[int, str] = {
    protocol.CLOSE_NOT_AUTHENTICATED: "Not authenticated: log in, then reconnect.",
    protocol.CLOSE_FORBIDDEN: "No longer allowed to view a subscribed category.",
    protocol.CLOSE_TOO_MANY_CONNECTIONS: "Too many connections of this user.",
    protocol.CLOSE_LAYER_UNAVAILABLE: (
        "The channel layer failed: reconnect with backoff and resubscribe with since."
    ),
    1009: "A frame over the server's own size limit (the ASGI server's setting).",
}

_SEMANTICS = (
    "One connection holds any number of subscriptions, each to one category and "
    "optionally one topic. Every message carries its category's sequence (from 1, no "
    "gaps). Subscribe with `since` = the last sequence you have and the server replays "
    "every stored message after it, then continues live: never a gap, never a duplicate. "
    "Without `since` delivery starts after the category's last message. A slow client "
    "gets `behind`, an interrupted subscription `resume`; both name `last_sequence`: "
    "subscribe again with `since` set to it."
)

_CATEGORIES = [c.value for c in Category]
_SEVERITY_LABELS = [s.label for s in Severity]


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _const(value: str) -> dict[str, Any]:
    return {"type": "string", "const": value}


def _object(
    properties: dict[str, Any], required: list[str], **extra: Any
) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        **extra,
    }


def _topic(nullable: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": ["string", "null"] if nullable else "string",
        "minLength": 1,
        "maxLength": TOPIC_MAX_LENGTH,
        "pattern": TOPIC_PATTERN,
    }
    return schema


def _node_name() -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": NODE_NAME_MAX_LENGTH,
        "pattern": NODE_NAME_PATTERN,
    }


def _category() -> dict[str, Any]:
    return {"type": "string", "enum": _CATEGORIES}


def _sequence(description: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": 0, "description": description}


def _wire_schema() -> dict[str, Any]:
    """The wire form of a stored message; ``payload`` matches its type's schema."""
    properties: dict[str, Any] = {
        "id": {"type": "integer", "description": "The row id in the store."},
        "message_id": {"type": "string", "minLength": 1},
        "category": _category(),
        "topic": _topic(nullable=False),
        "tag": {"type": "string"},
        "payload_type": {"type": "string", "enum": [t.name for t in all_types()]},
        "version": {"type": "integer", "minimum": 1},
        "node": _node_name(),
        "source_node": _node_name(),
        "originating_node": _node_name(),
        "timestamp": {"type": "string", "format": "date-time"},
        "severity": {"type": ["string", "null"], "enum": [*_SEVERITY_LABELS, None]},
        "sequence": _sequence("Position in the category, from 1, no gaps."),
        "payload": {
            "type": ["object", "null"],
            "description": "The payload, or null when no key can decrypt it.",
        },
        "signature_valid": {"type": "boolean"},
        "sender": {
            "type": ["string", "null"],
            "description": "The authenticated user who sent it through the API (signed).",
        },
        "received_by": {
            "anyOf": [_node_name(), {"type": "null"}],
            "description": "The node whose API received it (signed).",
        },
    }
    if tuple(properties) != WIRE_FIELDS:
        raise RuntimeError(
            f"the AsyncAPI wire schema lists {tuple(properties)}, the wire form has "
            f"{WIRE_FIELDS}"
        )
    payloads = [
        {
            "if": {
                "properties": {
                    "payload_type": {"const": kind.name},
                    "version": {"const": version},
                },
                "required": ["payload_type", "version"],
            },
            "then": {
                "properties": {
                    "payload": {
                        "anyOf": [
                            _ref("schemas", f"{kind.name}.v{version}"),
                            {"type": "null"},
                        ]
                    }
                }
            },
        }
        for kind in all_types()
        for version in range(1, kind.version + 1)
    ]
    # The sender fields are in the wire form of messages that came through the API only.
    required = [f for f in WIRE_FIELDS if f not in SENDER_FIELDS]
    return _object(properties, required, allOf=payloads)


def _payload_schemas() -> dict[str, Any]:
    # AsyncAPI schemas are a superset of JSON Schema draft 7, which the catalogue's
    # 2020-12 schemas fit; their dialect and URN ids would be resolved as references.
    schemas: dict[str, Any] = {}
    for name, schema in all_schemas().items():
        body = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
        body["x-schema-id"] = schema["$id"]
        schemas[name] = body
    return schemas


def _subscription_ref() -> dict[str, Any]:
    return _object(
        {"category": _category(), "topic": _topic(nullable=True)},
        ["category", "topic"],
    )


def _client_frames() -> dict[str, dict[str, Any]]:
    filters = _object(
        {
            "node": {**_node_name(), "description": "Any of the three node fields."},
            "severity": {
                "type": "string",
                "enum": list(SEVERITY_ALIASES),
                "description": "The least severity delivered.",
            },
        },
        [],
    )
    return {
        protocol.SUBSCRIBE: _object(
            {
                "action": _const(protocol.SUBSCRIBE),
                "category": _category(),
                "topic": _topic(nullable=True),
                "since": _sequence("Replay every stored message after this sequence."),
                "epoch": {
                    "type": "string",
                    "description": "The epoch the since position is in (from subscribed).",
                },
                "filters": filters,
            },
            ["action", "category"],
        ),
        protocol.UNSUBSCRIBE: _object(
            {
                "action": _const(protocol.UNSUBSCRIBE),
                "category": _category(),
                "topic": _topic(nullable=True),
            },
            ["action", "category"],
        ),
        protocol.PING: _object({"action": _const(protocol.PING)}, ["action"]),
    }


def _server_frames() -> dict[str, dict[str, Any]]:
    last = _sequence("The last sequence handed out; subscribe again with since=it.")
    position = {"category": _category(), "topic": _topic(nullable=True)}
    return {
        protocol.SUBSCRIBED: _object(
            {
                "type": _const(protocol.SUBSCRIBED),
                **position,
                "since": {"type": ["integer", "null"], "minimum": 0},
                "last_sequence": _sequence("The category's last sequence now."),
                "epoch": {
                    "type": "string",
                    "description": "The epoch of the category's log: sequences are "
                    "positions in it.",
                },
                "pruned": _object(
                    {"first_available_sequence": _sequence("The oldest kept.")},
                    ["first_available_sequence"],
                    description="Present when since is older than the kept history.",
                ),
            },
            ["type", "category", "topic", "since", "last_sequence", "epoch"],
        ),
        protocol.UNSUBSCRIBED: _object(
            {"type": _const(protocol.UNSUBSCRIBED), **position},
            ["type", "category", "topic"],
        ),
        protocol.MESSAGE: _object(
            {
                "type": _const(protocol.MESSAGE),
                "subscription": _subscription_ref(),
                "message": _ref("schemas", "WireMessage"),
            },
            ["type", "subscription", "message"],
        ),
        protocol.PONG: _object({"type": _const(protocol.PONG)}, ["type"]),
        protocol.BEHIND: _object(
            {
                "type": _const(protocol.BEHIND),
                **position,
                "last_sequence": last,
                "detail": {"type": "string"},
            },
            ["type", "category", "topic", "last_sequence", "detail"],
        ),
        protocol.RESUME: _object(
            {
                "type": _const(protocol.RESUME),
                **position,
                "last_sequence": last,
                "detail": {"type": "string"},
            },
            ["type", "category", "topic", "last_sequence", "detail"],
        ),
        protocol.ERROR: _object(
            {
                "type": _const(protocol.ERROR),
                "code": {"type": "string", "enum": list(ERROR_CODES)},
                "detail": {"type": "string"},
                "category": _category(),
                "topic": _topic(nullable=True),
                "epoch": {"type": "string"},
                "last_sequence": _sequence("Where the subscription got to."),
            },
            ["type", "code", "detail"],
        ),
    }


_DESCRIPTIONS = {
    protocol.SUBSCRIBE: "Subscribe to a category (and topic), optionally from a sequence.",
    protocol.UNSUBSCRIBE: "Stop a subscription.",
    protocol.PING: "Ask for a pong.",
    protocol.SUBSCRIBED: "A subscription started; message frames follow.",
    protocol.UNSUBSCRIBED: "A subscription stopped.",
    protocol.MESSAGE: "A stored message matching a subscription, in sequence order.",
    protocol.PONG: "The answer to a ping.",
    protocol.BEHIND: "The client read too slowly; the subscription stopped.",
    protocol.RESUME: "Live delivery was interrupted; the subscription stopped.",
    protocol.ERROR: "A frame was refused; the connection stays open (but see 4401).",
}

#: What the server answers to each client frame.
_REPLIES = {
    protocol.SUBSCRIBE: [protocol.SUBSCRIBED, protocol.ERROR],
    protocol.UNSUBSCRIBE: [protocol.UNSUBSCRIBED, protocol.ERROR],
    protocol.PING: [protocol.PONG, protocol.ERROR],
}

_CHANNEL = "opsmessaging"


def _message_ref(frame: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{_CHANNEL}/messages/{frame}"}


def _operations() -> dict[str, Any]:
    channel = {"$ref": f"#/channels/{_CHANNEL}"}
    operations: dict[str, Any] = {}
    for action in protocol.ACTIONS:
        operations[f"receive_{action}"] = {
            "action": "receive",
            "channel": channel,
            "summary": _DESCRIPTIONS[action],
            "messages": [_message_ref(action)],
            "reply": {
                "channel": channel,
                "messages": [_message_ref(frame) for frame in _REPLIES[action]],
            },
        }
    for frame in protocol.FRAME_TYPES:
        operations[f"send_{frame}"] = {
            "action": "send",
            "channel": channel,
            "summary": _DESCRIPTIONS[frame],
            "messages": [_message_ref(frame)],
        }
    return operations


def asyncapi_document(
    host: str = "localhost:8000", protocol_name: str = "ws"
) -> dict[str, Any]:
    """Return the AsyncAPI 3.0 document of the WebSocket endpoint served at ``host``."""
    if protocol_name not in ("ws", "wss"):
        raise ValueError(f"protocol_name must be 'ws' or 'wss', not {protocol_name!r}")
    frames = {**_client_frames(), **_server_frames()}
    close_codes = "; ".join(f"**{code}** {what}" for code, what in CLOSE_CODES.items())
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "opsmessaging WebSocket protocol",
            "version": __version__,
            "description": f"{_SEMANTICS}\n\nClose codes: {close_codes}",
        },
        "defaultContentType": "application/json",
        "servers": {
            "default": {
                "host": host,
                "protocol": protocol_name,
                "description": "The Django project serving opsmessaging.",
                "security": [
                    _ref("securitySchemes", "session"),
                    _ref("securitySchemes", "token"),
                ],
            }
        },
        "channels": {
            _CHANNEL: {
                "address": protocol.WEBSOCKET_PATH,
                "title": "Subscriptions",
                "description": _SEMANTICS,
                "messages": {frame: _ref("messages", frame) for frame in frames},
                "bindings": {"ws": {"method": "GET", "bindingVersion": "0.1.0"}},
                "x-close-codes": {str(c): what for c, what in CLOSE_CODES.items()},
            }
        },
        "operations": _operations(),
        "components": {
            "messages": {
                frame: {
                    "name": frame,
                    "title": frame,
                    "summary": _DESCRIPTIONS[frame],
                    "contentType": "application/json",
                    "payload": _ref("schemas", f"{frame}Frame"),
                }
                for frame in frames
            },
            "schemas": {
                **{f"{frame}Frame": schema for frame, schema in frames.items()},
                "WireMessage": _wire_schema(),
                **_payload_schemas(),
            },
            "securitySchemes": {
                "session": {
                    "type": "httpApiKey",
                    "name": settings.SESSION_COOKIE_NAME,
                    "in": "cookie",
                    "description": "The Django session cookie.",
                },
                "token": {
                    "type": "httpApiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "'Token <key>' (a DRF token).",
                },
            },
        },
    }

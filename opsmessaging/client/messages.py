"""What the clients hand out: messages in their wire form, resets and errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class WireMessage:
    """A stored message as the WebSocket ``message`` frames and the API carry it."""

    id: int
    message_id: str
    category: str
    topic: str
    tag: str
    payload_type: str
    version: int
    node: str
    source_node: str
    originating_node: str
    timestamp: datetime
    severity: str | None
    #: Its place in its category's log: from 1, contiguous, in commit order.
    sequence: int
    #: ``None`` when the server holds no key that decrypts it.
    payload: dict[str, Any] | None
    signature_valid: bool | None

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> WireMessage:
        """Build one from the wire form (a JSON object); unknown fields are ignored."""
        return cls(
            id=wire["id"],
            message_id=wire["message_id"],
            category=wire["category"],
            topic=wire["topic"],
            tag=wire["tag"],
            payload_type=wire["payload_type"],
            version=wire["version"],
            node=wire["node"],
            source_node=wire["source_node"],
            originating_node=wire["originating_node"],
            timestamp=datetime.fromisoformat(wire["timestamp"]),
            severity=wire.get("severity"),
            sequence=wire["sequence"],
            payload=wire.get("payload"),
            signature_valid=wire.get("signature_valid"),
        )


@dataclass(frozen=True)
class Reset:
    """The category's log was reset (a new epoch): sequences start again.

    Handed to ``on_reset``; ``epoch`` is the new epoch when the server said it, and
    ``last_sequence`` the last sequence handled in the old one.
    """

    category: str
    topic: str | None
    previous_epoch: str | None
    epoch: str | None
    last_sequence: int


class ClientError(Exception):
    """Raised when a subscription cannot go on (the base of the client's errors)."""


class EpochChanged(ClientError):
    """Raised when the category's log was reset and no ``on_reset`` hook was given."""

    def __init__(self, reset: Reset) -> None:
        super().__init__(
            f"the {reset.category!r} log was reset (epoch {reset.previous_epoch!r} -> "
            f"{reset.epoch!r}) after sequence {reset.last_sequence}: positions of the "
            "old epoch mean nothing in the new one; pass on_reset to start again"
        )
        self.reset = reset


class NotAuthenticated(ClientError):
    """Raised when the server refuses the credentials (close code 4401)."""


class SubscriptionRefused(ClientError):
    """Raised when the server answers the subscribe frame with an error that retrying
    cannot cure (``forbidden``, ``unknown_category``, ``invalid_filters``, ...)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

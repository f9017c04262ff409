"""Subscriptions of the WebSocket endpoint: parsing, matching, frames and store reads.

Pure of the connection's state machine (``opsmessaging.consumers``): a ``Subscription``
knows its category, topic and filters, how far it has got, how its ``message`` frames are
written, and how to read its stored messages.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from django.db.models import Q

from opsmessaging import protocol
from opsmessaging.categories import Category, parse_category, validate_topic
from opsmessaging.codec import compact_json
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.fanout import LiveMessage, live_message
from opsmessaging.models import Message
from opsmessaging.nodenames import is_node_name
from opsmessaging.retention import last_sequence
from opsmessaging.severity import Severity, normalise_severity

T = TypeVar("T")


class FrameError(Exception):
    """Raised when a client frame is refused; becomes an ``error`` frame."""

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        #: More fields of the error frame (``epoch`` and ``last_sequence`` of
        #: ``epoch_changed``).
        self.extra = extra

    def frame(self) -> dict[str, Any]:
        """Return the ``error`` frame of this refusal."""
        return {
            "type": protocol.ERROR,
            "code": self.code,
            "detail": self.detail,
            **self.extra,
        }


@dataclass
class Subscription:
    """One subscription of a connection and how far it has got in its category."""

    category: Category
    topic: str | None
    node: str | None = None
    min_severity: Severity | None = None
    #: The category sequence up to which every matching message has been handed out.
    reached: int = 0
    #: The epoch of the log its sequences are positions in (set when it is subscribed).
    epoch: str | None = None
    replaying: bool = False
    #: Live messages of its category handed to it, and that count at the last store check.
    live: int = 0
    live_at_check: int = 0
    buffer: list[LiveMessage] = field(default_factory=list)
    #: A ``message`` frame's text up to the message (see ``frame``).
    frame_head: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.frame_head = (
            '{"type":"'
            + protocol.MESSAGE
            + '","subscription":'
            + compact_json(self.describe())
            + ',"message":'
        )

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.category.value, self.topic)

    def describe(self) -> dict[str, Any]:
        return {"category": self.category.value, "topic": self.topic}

    def frame(self, message: LiveMessage) -> str:
        """Return the text of the ``message`` frame of ``message``: exactly the JSON of
        ``{"type": "message", "subscription": describe(), "message": <wire form>}``."""
        return self.frame_head + message["wire"] + "}"

    def matches(self, message: LiveMessage) -> bool:
        if self.topic is not None and message["topic"] != self.topic:
            return False
        if self.node is not None and self.node not in (
            message["node"],
            message["source_node"],
            message["originating_node"],
        ):
            return False
        if self.min_severity is not None:
            severity = message["severity"]
            return severity is not None and severity >= self.min_severity
        return True

    def query(self) -> Q:
        """The store condition of this subscription (without the sequence range)."""
        condition = Q(category=self.category.value)
        if self.topic is not None:
            condition &= Q(topic=self.topic)
        if self.node is not None:
            condition &= (
                Q(node=self.node)
                | Q(source_node=self.node)
                | Q(originating_node=self.node)
            )
        if self.min_severity is not None:
            condition &= Q(severity__gte=int(self.min_severity))
        return condition


async def run_in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run a database function off the event loop (closing stale connections first)."""
    return await database_sync_to_async(function)(*args)  # type: ignore[no-any-return]


def stored_messages(
    sub: Subscription, after: int, upto: int | None, limit: int
) -> list[LiveMessage]:
    """Return up to ``limit`` stored messages of ``sub`` after sequence ``after`` (up to
    ``upto``), in sequence order, as the fan-out carries them."""
    rows = Message.objects.filter(sub.query(), sequence__gt=after)
    if upto is not None:
        rows = rows.filter(sequence__lte=upto)
    return [live_message(m.to_wire()) for m in rows.order_by("sequence")[:limit]]


class SharedLastSequences:
    """The category sequences read for the store checks, shared by the connections of
    one event loop: a hundred connections checking each second cost one query per
    category per ``max_age``, not a hundred."""

    def __init__(self) -> None:
        #: category -> (when the read started, monotonic; the read).
        self.reads: dict[Category, tuple[float, asyncio.Future[int]]] = {}

    async def get(self, category: Category, max_age: float) -> int:
        """Return the category's last sequence as read at most ``max_age`` s ago."""
        now = time.monotonic()
        read = self.reads.get(category)
        if (
            read is None
            or now - read[0] > max_age
            or (read[1].done() and (read[1].cancelled() or read[1].exception()))
        ):
            future = asyncio.ensure_future(run_in_thread(last_sequence, category))
            read = self.reads[category] = (now, future)
        return await asyncio.shield(read[1])


_high_waters: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, SharedLastSequences
] = weakref.WeakKeyDictionary()


async def shared_last_sequence(category: Category, max_age: float) -> int:
    """Return the category's last sequence, read at most ``max_age`` s ago on this loop."""
    loop = asyncio.get_running_loop()
    shared = _high_waters.get(loop)
    if shared is None:
        shared = _high_waters[loop] = SharedLastSequences()
    return await shared.get(category, max_age)


def parse_subscription(content: Mapping[str, Any]) -> tuple[Subscription, int | None]:
    try:
        category = parse_category(content.get("category"))
        topic = content.get("topic")
        if topic is not None:
            validate_topic(topic)
    except InvalidMessage as exc:
        code = "unknown_category" if "category" in exc.errors else "invalid_topic"
        raise FrameError(code, str(exc)) from None
    since = content.get("since")
    if since is not None and (
        isinstance(since, bool) or not isinstance(since, int) or since < 0
    ):
        raise FrameError(
            "invalid_since", f"since must be a sequence number >= 0, not {since!r}"
        )
    filters = content.get("filters") or {}
    if not isinstance(filters, Mapping) or set(filters) - {"node", "severity"}:
        raise FrameError(
            "invalid_filters",
            "filters is an object with optional 'node' and 'severity'",
        )
    node = filters.get("node")
    if node is not None and not is_node_name(node):
        raise FrameError(
            "invalid_filters", f"filters.node: {node!r} is not a node name"
        )
    severity = filters.get("severity")
    try:
        min_severity = None if severity is None else normalise_severity(severity)
    except InvalidMessage as exc:
        raise FrameError("invalid_filters", f"filters.{exc}") from None
    return Subscription(category, topic, node, min_severity), since

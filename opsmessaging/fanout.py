"""Delivery of committed messages to Channels groups, with a timeout (the relay's sending).

A message is sent to the group of its category and to the group of its category and topic
(``categories.group_name``), in an ``opsmessaging.messages`` event that carries, for each
message of one ``deliver()`` call in that group, the fields subscriptions match on and
its wire form already rendered as JSON (``LiveMessage``): rendered once per message, not
once per subscriber. Sending never blocks the relay longer than
``OPSMESSAGING["FANOUT_TIMEOUT"]`` and never raises: a failure is returned as a reason,
logged and counted, and the relay sends the same messages again later.

Coroutines run on one event loop per process: the ASGI server's loop once a consumer has
bound it (the in-memory layer only works there), otherwise a private background loop. So
sync code, async code (through ``sync_to_async``) and Celery workers all send the same way,
without creating and closing event loops per call.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from opsmessaging.categories import group_name
from opsmessaging.codec import compact_json
from opsmessaging.conf import conf
from opsmessaging.severity import normalise_severity

if TYPE_CHECKING:
    from opsmessaging.models import Message

#: A Channels layer (channels ships no type information).
ChannelLayer = Any

logger = logging.getLogger(__name__)

#: The channel-layer event of delivered messages (handled by ``opsmessaging_messages``):
#: ``{"type": MESSAGES_EVENT, "category": "alerts", "messages": [LiveMessage, ...]}``, the
#: messages in sequence order.
MESSAGES_EVENT = "opsmessaging.messages"
#: The event of one message, ``{"type": MESSAGE_EVENT, "message": <wire form>}``, that
#: earlier versions send; consumers still handle it (a node not yet upgraded).
MESSAGE_EVENT = "opsmessaging.message"
#: At most this many messages in one event: a large batch becomes several events.
EVENT_BATCH = 100


class LiveMessage(TypedDict):
    """A message as the fan-out carries it: what subscriptions match on, and its wire JSON."""

    sequence: int
    topic: str
    node: str
    source_node: str
    originating_node: str
    #: The severity number (``Severity``), or None.
    severity: int | None
    #: The wire form (``Message.to_wire()``) rendered by ``compact_json``.
    wire: str


@dataclass
class DeliveryStats:
    """Counters of this process's deliveries, for the health and compatibility reports."""

    delivered: int = 0
    failed: int = 0
    last_error: str | None = None
    last_failure_at: float | None = None
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=2048))
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, count: int, error: str | None, latency_ms: float) -> None:
        with self.lock:
            if error is None:
                self.delivered += count
                self.latencies_ms.append(latency_ms)
            else:
                self.failed += count
                self.last_error = error
                self.last_failure_at = time.time()

    def snapshot(self) -> dict[str, Any]:
        """Return the counters and latency percentiles (ms) of the recent deliveries."""
        with self.lock:
            samples = sorted(self.latencies_ms)
            return {
                "delivered": self.delivered,
                "failed": self.failed,
                "last_error": self.last_error,
                "last_failure_at": self.last_failure_at,
                "latency_ms": _percentiles(samples),
            }


def _percentiles(samples: Sequence[float]) -> dict[str, float | int | None]:
    if not samples:
        return {"p50": None, "p95": None, "p99": None, "max": None, "samples": 0}

    def at(fraction: float) -> float:
        return round(samples[min(len(samples) - 1, int(fraction * len(samples)))], 3)

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(samples[-1], 3),
        "samples": len(samples),
    }


stats = DeliveryStats()


def delivery_stats() -> dict[str, Any]:
    """Return this process's delivery counters (see ``DeliveryStats.snapshot``)."""
    return stats.snapshot()


class _LoopRunner:
    """Runs coroutines on the bound server loop or on a private background loop."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the loops: after a fork the child has none of their threads."""
        self._bound: asyncio.AbstractEventLoop | None = None
        self._own: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._bound = loop

    def _target(self) -> asyncio.AbstractEventLoop:
        bound = self._bound
        if bound is not None and bound.is_running() and not bound.is_closed():
            return bound
        with self._lock:
            if self._own is None or self._own.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="opsmessaging-fanout", daemon=True
                ).start()
                self._own = loop
            return self._own

    def run(self, coro: Coroutine[Any, Any, None], timeout: float) -> None:
        """Run ``coro`` to completion within ``timeout`` seconds, or raise TimeoutError."""
        target = self._target()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is target:
            # Called from the loop itself: waiting would deadlock, so let it run on.
            task = target.create_task(coro)
            task.add_done_callback(_report_background_failure)
            return
        future = asyncio.run_coroutine_threadsafe(coro, target)
        try:
            future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(
                f"channel layer did not answer within {timeout:g} s"
            ) from None


def _report_background_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("Failed to broadcast in the background: %r", task.exception())


runner = _LoopRunner()
# A forked child (Celery's prefork pool) inherits the loop objects but not the threads
# that run them: it would wait on them until FANOUT_TIMEOUT, every time.
os.register_at_fork(after_in_child=runner.reset)


def bind_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Send from ``loop`` (the ASGI server's) from now on; consumers call this."""
    runner.bind(loop)


def get_layer() -> ChannelLayer | None:
    """Return the configured channel layer, or None when Channels has none."""
    try:
        # Channels is optional: without it there is no live delivery to do.
        from channels.layers import get_channel_layer
    except ImportError:
        return None
    return get_channel_layer()


def live_message(wire: Mapping[str, Any]) -> LiveMessage:
    """Return the ``LiveMessage`` of a message's wire form (rendering it once)."""
    severity = wire["severity"]
    return {
        "sequence": wire["sequence"],
        "topic": wire["topic"],
        "node": wire["node"],
        "source_node": wire["source_node"],
        "originating_node": wire["originating_node"],
        "severity": None if severity is None else int(normalise_severity(severity)),
        "wire": compact_json(wire),
    }


def groups_for(message: Message) -> tuple[str, str]:
    """Return the category group and the category+topic group of ``message``."""
    return group_name(message.category), group_name(message.category, message.topic)


def events_for(
    messages: Iterable[Message], epoch: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Return the (group, event) pairs that deliver ``messages``.

    One ``MESSAGES_EVENT`` per group (and per ``EVENT_BATCH`` messages), its messages in
    the order given, each rendered once whatever the number of groups and subscribers.
    """
    grouped: dict[str, tuple[str, list[LiveMessage]]] = {}
    for message in messages:
        live = live_message(message.to_wire())
        for group in groups_for(message):
            grouped.setdefault(group, (message.category, []))[1].append(live)
    return [
        (
            group,
            {
                "type": MESSAGES_EVENT,
                "category": category,
                **({} if epoch is None else {"epoch": epoch}),
                "messages": live[start : start + EVENT_BATCH],
            },
        )
        for group, (category, live) in grouped.items()
        for start in range(0, len(live), EVENT_BATCH)
    ]


async def _send_all(
    layer: ChannelLayer, events: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    for group, event in events:
        await layer.group_send(group, event)


def deliver(messages: Iterable[Message], epoch: str | None = None) -> str | None:
    """Send stored messages to their groups; return None, or the reason delivery failed.

    ``epoch`` is the epoch of their log (see ``CategorySequence.epoch``), carried by the
    events so that a subscription of another epoch is told, not fed wrong positions.

    Never raises and never waits longer than ``FANOUT_TIMEOUT``; failures are logged as
    ``Failed to broadcast ...`` and counted.
    """
    batch = list(messages)
    if not batch:
        return None
    layer = get_layer()
    if layer is None:
        return None  # no channel layer configured: storing is all there is to do
    started = time.perf_counter()
    try:
        events = events_for(batch, epoch)
        runner.run(_send_all(layer, events), conf.FANOUT_TIMEOUT / 1000)
    except Exception as exc:  # any layer failure is reported, never raised
        reason = f"delivery failed: {type(exc).__name__}: {exc}".strip()
        stats.record(len(batch), reason, 0.0)
        logger.warning(
            "Failed to broadcast %d message(s) (first %s/%s #%s): %s",
            len(batch),
            batch[0].category,
            batch[0].topic,
            batch[0].sequence,
            reason,
        )
        return reason
    stats.record(len(batch), None, (time.perf_counter() - started) * 1000)
    return None


async def _round_trip(layer: ChannelLayer) -> None:
    channel = await layer.new_channel("opsmessaging.check.")
    await layer.send(channel, {"type": "opsmessaging.check"})
    received = await layer.receive(channel)
    if received.get("type") != "opsmessaging.check":
        raise RuntimeError(f"round trip returned {received!r}")


def check_round_trip() -> dict[str, Any]:
    """Send one event through the channel layer and receive it back, within the timeout."""
    layer = get_layer()
    if layer is None:
        return {"configured": False, "backend": None, "round_trip": "no channel layer"}
    backend = f"{type(layer).__module__}.{type(layer).__name__}"
    started = time.perf_counter()
    try:
        runner.run(_round_trip(layer), conf.FANOUT_TIMEOUT / 1000)
    except Exception as exc:  # reported, not raised
        return {
            "configured": True,
            "backend": backend,
            "round_trip": f"error: {type(exc).__name__}: {exc}",
        }
    return {
        "configured": True,
        "backend": backend,
        "round_trip": "ok",
        "round_trip_ms": round((time.perf_counter() - started) * 1000, 3),
    }

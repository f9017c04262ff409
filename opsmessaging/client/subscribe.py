"""Subscribing over the WebSocket endpoint: every message exactly once, in order.

``_Resumer`` is the protocol without I/O: it writes the subscribe frame, reads the
server's frames, tracks the last sequence handed out and the category's epoch, and says
what to do next. ``Subscription`` (blocking) and ``AsyncSubscription`` drive it over
``websockets``, reconnecting with exponential backoff and jitter.

A subscription without topic and filters receives every sequence of its category, so a
hole (``sequence > last + 1``) can only be a lost frame: it resubscribes with
``since=last``. With a topic or filters the sequences it sees have holes by design; the
server's replay and gap filling still guarantee it misses none.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import connect as aconnect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

from opsmessaging import protocol
from opsmessaging.client.messages import (
    ClientError,
    EpochChanged,
    NotAuthenticated,
    Reset,
    SubscriptionRefused,
    WireMessage,
)

logger = logging.getLogger(__name__)

State = Literal["connecting", "subscribed", "reconnecting", "closed"]
ResetHook = Callable[[Reset], "int | None | Awaitable[int | None]"]
StateHook = Callable[[State], None]

#: Error codes of the subscribe frame worth trying again (after a backoff delay).
_RETRYABLE_ERRORS = frozenset({"store_unavailable"})
#: The error code of a resume whose epoch is no longer the category's.
EPOCH_CHANGED = "epoch_changed"


class Unreachable(ClientError):
    """Raised when ``max_attempts`` connections in a row failed."""


def websocket_url(url: str) -> str:
    """Return the endpoint's URL: ``http(s)`` becomes ``ws(s)``, a bare host gets the
    endpoint's path (``protocol.WEBSOCKET_PATH``)."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path if parts.path not in ("", "/") else protocol.WEBSOCKET_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


class _Backoff:
    """Exponential delays with jitter: half the delay fixed, half random."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def next(self) -> float:
        delay: float = min(self.maximum, self.initial * 2.0**self.failures)
        self.failures += 1
        return delay / 2 + random.uniform(0, delay / 2)

    def reset(self) -> None:
        self.failures = 0


_RESUBSCRIBE = object()
_RETRY = object()


class _Resumer:
    """The subscription's position and what each server frame means for it."""

    def __init__(
        self,
        category: str,
        topic: str | None,
        since: int | None,
        filters: Mapping[str, Any] | None,
        epoch: str | None,
    ) -> None:
        self.category = category
        self.topic = topic
        self.filters = dict(filters or {})
        #: The last sequence handed out (``None``: start at the server's last one).
        self.last = since
        self.epoch = epoch
        #: A subscribe frame was sent and not answered yet: message frames until its
        #: answer belong to the subscription it replaces and are dropped.
        self.awaiting = False
        self.contiguous = topic is None and not self.filters

    def subscribe_frame(self) -> dict[str, Any]:
        self.awaiting = True
        frame: dict[str, Any] = {
            "action": protocol.SUBSCRIBE,
            "category": self.category,
        }
        if self.topic is not None:
            frame["topic"] = self.topic
        if self.last is not None:
            frame["since"] = self.last
        if self.filters:
            frame["filters"] = self.filters
        if self.epoch is not None:
            frame["epoch"] = self.epoch
        return frame

    def _ours(self, described: Mapping[str, Any]) -> bool:
        return (
            described.get("category") == self.category
            and described.get("topic") == self.topic
        )

    def handle(self, frame: dict[str, Any]) -> Any:
        """Return a ``WireMessage`` to hand out, a ``Reset``, ``_RESUBSCRIBE``,
        ``_RETRY`` or ``None`` (nothing to do); raise when the subscription cannot go on."""
        kind = frame.get("type")
        if kind == protocol.MESSAGE:
            return self._message(frame)
        if kind == protocol.SUBSCRIBED and self._ours(frame):
            return self._subscribed(frame)
        if kind in (protocol.BEHIND, protocol.RESUME) and self._ours(frame):
            # Not while a subscribe is pending: then it is about the one replaced.
            return None if self.awaiting else _RESUBSCRIBE
        if kind == protocol.ERROR:
            return self._error(frame)
        return None

    def _message(self, frame: dict[str, Any]) -> Any:
        if self.awaiting or not self._ours(frame.get("subscription") or {}):
            return None
        wire = frame["message"]
        sequence = wire["sequence"]
        if self.last is not None:
            if sequence <= self.last:
                return None  # already handed out
            if self.contiguous and sequence != self.last + 1:
                logger.warning(
                    "Sequence %d of %r after %d: resubscribing from %d",
                    sequence,
                    self.category,
                    self.last,
                    self.last,
                )
                return _RESUBSCRIBE
        self.last = sequence
        return WireMessage.from_wire(wire)

    def _subscribed(self, frame: dict[str, Any]) -> Any:
        epoch = frame.get("epoch")  # a server without epochs: unknown, not changed
        if self.epoch is not None and epoch is not None and epoch != self.epoch:
            return self.reset(epoch)
        if epoch is not None:
            self.epoch = epoch
        self.awaiting = False
        if self.last is None:
            self.last = frame["last_sequence"]
        first = (frame.get("pruned") or {}).get("first_available_sequence")
        if first is not None and first > self.last + 1:
            # Retention removed them: they cannot be had, and waiting for them would
            # resubscribe for ever.
            logger.warning(
                "Sequences %d to %d of %r were pruned before they were received",
                self.last + 1,
                first - 1,
                self.category,
            )
            self.last = first - 1
        return None

    def _error(self, frame: dict[str, Any]) -> Any:
        code = str(frame.get("code"))
        detail = str(frame.get("detail", ""))
        if code == "not_authenticated":
            raise NotAuthenticated(detail)
        if code == EPOCH_CHANGED:
            return self.reset(frame.get("epoch"))
        if code in _RETRYABLE_ERRORS:
            self.awaiting = False
            return _RETRY
        raise SubscriptionRefused(code, detail)

    def reset(self, epoch: str | None) -> Reset:
        self.awaiting = True  # until the subscription of the new epoch is answered
        return Reset(self.category, self.topic, self.epoch, epoch, self.last or 0)

    def restart(self, reset: Reset, since: int | None) -> None:
        """Continue in the new epoch from ``since`` (0: its whole log)."""
        self.last = since or 0
        self.epoch = reset.epoch


class _Base:
    def __init__(
        self,
        url: str,
        *,
        token: str | None,
        category: str,
        topic: str | None = None,
        since: int | None = 0,
        filters: Mapping[str, Any] | None = None,
        epoch: str | None = None,
        on_reset: ResetHook | None = None,
        on_state: StateHook | None = None,
        headers: Mapping[str, str] | None = None,
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 30.0,
        max_attempts: int | None = None,
        open_timeout: float = 10.0,
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = websocket_url(url)
        self.headers = dict(headers or {})
        if token is not None:
            self.headers["Authorization"] = f"Token {token}"
        self._resumer = _Resumer(category, topic, since, filters, epoch)
        self.on_reset = on_reset
        self.on_state = on_state
        self._backoff = _Backoff(reconnect_delay, max_reconnect_delay)
        self.max_attempts = max_attempts
        self.open_timeout = open_timeout
        #: More arguments of ``websockets``' ``connect`` (``max_queue``, ``ssl``, ...).
        self.connect_options = dict(connect_options or {})
        self.state: State = "connecting"
        #: Connections lost (or refused) since the start, each followed by a new one.
        self.reconnects = 0
        #: Subscribe frames sent again on an open connection (``behind``, ``resume``, a
        #: hole in the sequences).
        self.resubscriptions = 0
        self._closed = False

    @property
    def last_sequence(self) -> int | None:
        """The last sequence handed out: persist it (with ``epoch``) to resume later."""
        return self._resumer.last

    @property
    def epoch(self) -> str | None:
        """The category log's epoch, as the server last said it (``None``: unknown)."""
        return self._resumer.epoch

    def _set_state(self, state: State) -> None:
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    def _lost(self, exc: BaseException) -> float:
        """Note a lost or refused connection; return how long to wait before the next."""
        code = exc.rcvd.code if isinstance(exc, ConnectionClosed) and exc.rcvd else None
        if code == protocol.CLOSE_NOT_AUTHENTICATED:
            raise NotAuthenticated("the server refused the credentials (4401)") from exc
        if isinstance(exc, InvalidURI):
            raise exc
        if (
            self.max_attempts is not None
            and self._backoff.failures >= self.max_attempts
        ):
            raise Unreachable(f"{self.url}: {exc!r}") from exc
        self.reconnects += 1
        self._set_state("reconnecting")
        delay = self._backoff.next()
        logger.info("Connection to %s lost (%r); again in %.2f s", self.url, exc, delay)
        return delay

    def _no_reset_hook(self, reset: Reset) -> None:
        if self.on_reset is None:
            self._set_state("closed")
            raise EpochChanged(reset)


#: What losing a connection looks like (a refused handshake, a reset, a timeout).
_LOST = (ConnectionClosed, InvalidHandshake, OSError, TimeoutError)


class Subscription(_Base):
    """A blocking iterator of ``WireMessage``s (see ``subscribe``)."""

    _ws: Any = None

    def __iter__(self) -> Iterator[WireMessage]:
        resumer = self._resumer
        while not self._closed:
            try:
                with connect(
                    self.url,
                    additional_headers=self.headers,
                    open_timeout=self.open_timeout,
                    **self.connect_options,
                ) as ws:
                    self._ws = ws
                    ws.send(json.dumps(resumer.subscribe_frame()))
                    for text in ws:
                        step = resumer.handle(json.loads(text))
                        if isinstance(step, WireMessage):
                            yield step
                        elif step is _RESUBSCRIBE:
                            self.resubscriptions += 1
                            ws.send(json.dumps(resumer.subscribe_frame()))
                        elif step is _RETRY:
                            time.sleep(self._backoff.next())
                            ws.send(json.dumps(resumer.subscribe_frame()))
                        elif isinstance(step, Reset):
                            self._no_reset_hook(step)
                            assert self.on_reset is not None
                            since = self.on_reset(step)
                            assert not inspect.isawaitable(since), "use asubscribe"
                            resumer.restart(step, since)
                            ws.send(json.dumps(resumer.subscribe_frame()))
                        elif not resumer.awaiting:
                            self._backoff.reset()
                            self._set_state("subscribed")
                    raise ConnectionClosed(ws.protocol.close_rcvd, None)
            except _LOST as exc:
                if self._closed:
                    break
                time.sleep(self._lost(exc))
        self._set_state("closed")

    def close(self) -> None:
        """Stop: the iteration ends (from another thread too)."""
        self._closed = True
        ws = self._ws
        if ws is not None:
            threading.Thread(target=ws.close, daemon=True).start()


class AsyncSubscription(_Base):
    """An async iterator of ``WireMessage``s (see ``asubscribe``)."""

    _ws: Any = None

    def __aiter__(self) -> AsyncIterator[WireMessage]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[WireMessage]:
        resumer = self._resumer
        while not self._closed:
            try:
                async with aconnect(
                    self.url,
                    additional_headers=self.headers,
                    open_timeout=self.open_timeout,
                    **self.connect_options,
                ) as ws:
                    self._ws = ws
                    await ws.send(json.dumps(resumer.subscribe_frame()))
                    async for text in ws:
                        step = resumer.handle(json.loads(text))
                        if isinstance(step, WireMessage):
                            yield step
                        elif step is _RESUBSCRIBE:
                            self.resubscriptions += 1
                            await ws.send(json.dumps(resumer.subscribe_frame()))
                        elif step is _RETRY:
                            await asyncio.sleep(self._backoff.next())
                            await ws.send(json.dumps(resumer.subscribe_frame()))
                        elif isinstance(step, Reset):
                            self._no_reset_hook(step)
                            assert self.on_reset is not None
                            since = self.on_reset(step)
                            if inspect.isawaitable(since):
                                since = await since
                            resumer.restart(step, since)
                            await ws.send(json.dumps(resumer.subscribe_frame()))
                        elif not resumer.awaiting:
                            self._backoff.reset()
                            self._set_state("subscribed")
                    raise ConnectionClosed(ws.protocol.close_rcvd, None)
            except _LOST as exc:
                if self._closed:
                    break
                await asyncio.sleep(self._lost(exc))
        self._set_state("closed")

    async def close(self) -> None:
        """Stop: the iteration ends."""
        self._closed = True
        if self._ws is not None:
            await self._ws.close()


def subscribe(
    url: str,
    *,
    token: str | None,
    category: str,
    topic: str | None = None,
    since: int | None = 0,
    filters: Mapping[str, Any] | None = None,
    on_reset: ResetHook | None = None,
    **options: Any,
) -> Subscription:
    """Subscribe to ``category`` (and ``topic``); iterate over the result for messages.

    ``since`` is the last sequence already handled (0: the whole kept history; ``None``:
    only what is broadcast from now on). Options: ``epoch`` (persisted with ``since``),
    ``on_state``, ``headers``, ``reconnect_delay``, ``max_reconnect_delay``,
    ``max_attempts``, ``open_timeout``, ``connect_options``. An epoch change raises ``EpochChanged``, or calls
    ``on_reset(reset)``, whose answer is the sequence to continue after in the new epoch.
    """
    return Subscription(
        url,
        token=token,
        category=category,
        topic=topic,
        since=since,
        filters=filters,
        on_reset=on_reset,
        **options,
    )


def asubscribe(
    url: str,
    *,
    token: str | None,
    category: str,
    topic: str | None = None,
    since: int | None = 0,
    filters: Mapping[str, Any] | None = None,
    on_reset: ResetHook | None = None,
    **options: Any,
) -> AsyncSubscription:
    """Like ``subscribe``, as an async iterator (``on_reset`` may be a coroutine)."""
    return AsyncSubscription(
        url,
        token=token,
        category=category,
        topic=topic,
        since=since,
        filters=filters,
        on_reset=on_reset,
        **options,
    )

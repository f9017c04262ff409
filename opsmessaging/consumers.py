"""The WebSocket subscription endpoint: live messages per category or topic, with resume.

Protocol (JSON text frames):

- client: ``{"action": "subscribe", "category": "health", "topic": "cluster:health",
  "since": 41, "filters": {"node": "web1@a", "severity": "warning"}}`` (only ``category``
  is required), ``{"action": "unsubscribe", "category": ..., "topic": ...}``,
  ``{"action": "ping"}``.
- server: ``subscribed``, ``unsubscribed``, ``message`` (with the wire form), ``pong``,
  ``behind`` (a slow client: resubscribe with ``since`` = its ``last_sequence``),
  ``resume`` (live delivery was interrupted: resubscribe with ``since`` = its
  ``last_sequence``) and ``error`` (``code`` and ``detail``).

When the channel layer fails (a probe the connection sends itself through it does not come
back, or joining a group fails), every subscription gets a ``resume`` frame after the last
message it was sent, and the connection closes with code 4503: reconnect and resubscribe
with ``since``, and the store fills in what was broadcast meanwhile.

A subscription listens to its category's group and tracks the category sequence it has
reached. With ``since``, it first replays the stored messages after it, buffering live ones
meanwhile, then continues live: duplicates (sequence already reached) are skipped and a gap
(a delivery lost or late) is filled from the store, since sequences are contiguous and
committed in order. So a subscriber never misses nor repeats a stored message.

Live messages arrive with their wire form already rendered as JSON (``fanout.LiveMessage``)
and a ``message`` frame splices it in, so the work per subscriber is a match and a
string join, never a JSON encoding of the message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from typing import Any, TypeVar

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db import DatabaseError

from opsmessaging import fanout, protocol, relay
from opsmessaging.categories import Category, group_name
from opsmessaging.codec import compact_json, escape_surrogates
from opsmessaging.conf import conf
from opsmessaging.fanout import LiveMessage, live_message
from opsmessaging.models import CategorySequence
from opsmessaging.permissions import can_view_category
from opsmessaging.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_LAYER_UNAVAILABLE,
    CLOSE_NOT_AUTHENTICATED,
    CLOSE_TOO_MANY_CONNECTIONS,
)
from opsmessaging.retention import first_kept_sequence, last_sequence
from opsmessaging.subscriptions import (
    FrameError,
    Subscription,
    parse_subscription,
    run_in_thread,
    shared_last_sequence,
    stored_messages,
)
from opsmessaging.websocket_auth import current_user

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Queued after the last frame of a connection that must close (see ``_layer_failed``).
_CLOSE: dict[str, Any] = {"type": "close", "code": CLOSE_LAYER_UNAVAILABLE}
#: Open connections per user id in this process (``WS_MAX_CONNECTIONS_PER_USER``).
_connections_per_user: Counter[Any] = Counter()
#: The channel-layer event a connection sends itself to check the layer.
PROBE_EVENT = "opsmessaging.probe"
#: Channel-layer events whose handlers use no database connection of their own (store
#: reads go through ``database_sync_to_async``, which closes stale connections itself).
_LIVE_EVENTS = frozenset({fanout.MESSAGES_EVENT, fanout.MESSAGE_EVENT, PROBE_EVENT})


class SubscriptionConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Streams operational messages to an authenticated WebSocket client."""

    async def connect(self) -> None:
        fanout.bind_loop(asyncio.get_running_loop())
        relay.ensure_running(deliver_locally=True)
        self.subscriptions: dict[tuple[str, str | None], Subscription] = {}
        self.joined: set[str] = set()
        # Frames to send: control frames as dicts, message frames as their text.
        self.outbox: asyncio.Queue[dict[str, Any] | str] = asyncio.Queue(
            maxsize=conf.WS_BUFFER_SIZE
        )
        self.notices: list[dict[str, Any]] = []
        self.writer: asyncio.Task[None] | None = None
        self.poller: asyncio.Task[None] | None = None
        self.watcher: asyncio.Task[None] | None = None
        self.access_checker: asyncio.Task[None] | None = None
        #: The user id counted in ``_connections_per_user``, once counted.
        self.counted: Any = None
        #: Set once the connection must close: client frames are ignored from then on.
        self.closing = False
        self.replays: dict[tuple[str, str | None], asyncio.Task[None]] = {}
        self.probes_sent = self.probes_seen = 0
        #: Message events received through the layer (see ``_watch_layer``).
        self.layer_events = 0
        self.layer_failed = False
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.send_json(
                {
                    "type": protocol.ERROR,
                    "code": "not_authenticated",
                    "detail": "Log in (session cookie) or send 'Authorization: Token <key>'.",
                }
            )
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        self.user = user
        if _connections_per_user[user.pk] >= conf.WS_MAX_CONNECTIONS_PER_USER:
            await self.send_json(
                {
                    "type": protocol.ERROR,
                    "code": "too_many_connections",
                    "detail": f"at most {conf.WS_MAX_CONNECTIONS_PER_USER} connections "
                    "per user; close one first",
                }
            )
            await self.close(code=CLOSE_TOO_MANY_CONNECTIONS)
            return
        _connections_per_user[user.pk] += 1
        self.counted = user.pk
        self.writer = asyncio.create_task(self._write())
        if conf.WS_ACCESS_CHECK_INTERVAL:
            self.access_checker = asyncio.create_task(
                self._check_access_every(conf.WS_ACCESS_CHECK_INTERVAL / 1000)
            )
        if conf.WS_POLL_INTERVAL:
            self.poller = asyncio.create_task(self._poll(conf.WS_POLL_INTERVAL / 1000))
        if conf.WS_LAYER_CHECK_INTERVAL:
            self.watcher = asyncio.create_task(
                self._watch_layer(conf.WS_LAYER_CHECK_INTERVAL / 1000)
            )

    #: Events being handled now; while one is (a gap filled from a busy store, say), no
    #: other event, probes included, can be handed over (see ``_watch_layer``).
    dispatching = 0

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Hand live events to their handlers without Channels' per-event thread hop
        (``aclose_old_connections``): they use no connection of their own."""
        self.dispatching += 1
        try:
            if message["type"] in _LIVE_EVENTS:
                await getattr(self, get_handler_name(message))(message)
            else:
                await super().dispatch(message)
        finally:
            self.dispatching -= 1

    async def disconnect(self, code: int) -> None:
        counted = getattr(self, "counted", None)
        if counted is not None:
            self.counted = None
            _connections_per_user[counted] -= 1
            if _connections_per_user[counted] <= 0:
                del _connections_per_user[counted]
        for name in ("writer", "poller", "watcher", "access_checker"):
            task = getattr(self, name, None)
            if task is not None:
                task.cancel()
        for replay in getattr(self, "replays", {}).values():
            replay.cancel()
        for group in getattr(self, "joined", ()):
            try:
                await asyncio.wait_for(
                    self.channel_layer.group_discard(group, self.channel_name),
                    conf.FANOUT_TIMEOUT / 1000,
                )
            except Exception as exc:  # a layer that is down forgets the group anyway
                logger.info("Could not leave %s on disconnect: %r", group, exc)

    # --- client frames --------------------------------------------------------------------

    async def receive(
        self,
        text_data: str | None = None,
        bytes_data: bytes | None = None,
        **kwargs: Any,
    ) -> None:
        if self.writer is None or self.layer_failed or self.closing:
            return  # not authenticated, access gone or the layer failed: it is closing
        try:
            if text_data is None:
                raise FrameError(
                    "invalid_frame", "send JSON text frames, not binary ones"
                )
            if len(text_data.encode()) > conf.WS_MAX_FRAME_BYTES:
                raise FrameError(
                    "frame_too_large",
                    f"frames are limited to {conf.WS_MAX_FRAME_BYTES} bytes",
                )
            try:
                content = json.loads(text_data)
            except ValueError:
                raise FrameError(
                    "invalid_json", "the frame is not valid JSON"
                ) from None
            if not isinstance(content, dict):
                raise FrameError(
                    "invalid_frame", "a frame is a JSON object with an 'action'"
                )
            await self._dispatch(content)
        except DatabaseError as exc:
            logger.warning("A WebSocket request failed on the store: %r", exc)
            await self._control(
                {
                    "type": protocol.ERROR,
                    "code": "store_unavailable",
                    "detail": "the message store cannot be reached; try again shortly",
                }
            )
        except FrameError as exc:
            await self._control(exc.frame())

    async def _dispatch(self, content: dict[str, Any]) -> None:
        action = content.get("action")
        if action == "ping":
            await self._control({"type": protocol.PONG})
        elif action == "subscribe":
            await self._subscribe(content)
        elif action == "unsubscribe":
            await self._unsubscribe(content)
        else:
            raise FrameError(
                "unknown_action",
                f"unknown action {action!r}; use subscribe, unsubscribe or ping",
            )

    async def _subscribe(self, content: dict[str, Any]) -> None:
        sub, since = parse_subscription(content)
        epoch = content.get("epoch")
        if epoch is not None and not isinstance(epoch, str):
            raise FrameError("invalid_epoch", f"epoch must be a string, not {epoch!r}")
        # Access is checked anew: the permission, or the login itself, may be gone by now.
        if not await self._check_access():
            return
        if not await run_in_thread(can_view_category, self.user, sub.category):
            raise FrameError(
                "forbidden", f"you may not view the '{sub.category.value}' category"
            )
        if (
            sub.key not in self.subscriptions
            and len(self.subscriptions) >= conf.WS_MAX_SUBSCRIPTIONS
        ):
            raise FrameError(
                "too_many_subscriptions",
                f"at most {conf.WS_MAX_SUBSCRIPTIONS} subscriptions per connection; "
                "unsubscribe from one first",
            )
        self._drop(sub.key)  # subscribing again restarts the subscription
        group = group_name(sub.category)
        if group not in self.joined:
            try:
                await asyncio.wait_for(
                    self.channel_layer.group_add(group, self.channel_name),
                    conf.FANOUT_TIMEOUT / 1000,
                )
            except Exception as exc:  # the layer is down: no live delivery possible
                await self._layer_failed(f"joining {group} failed: {exc!r}")
                return
            self.joined.add(group)
        sub.replaying = since is not None
        self.subscriptions[sub.key] = sub
        try:
            # Read after joining the group: anything committed later arrives live.
            high_water = await run_in_thread(last_sequence, sub.category)
            current_epoch = await run_in_thread(CategorySequence.epoch_of, sub.category)
        except DatabaseError:
            self._drop(sub.key)
            await self._leave_if_unused(sub.category)
            raise
        if epoch is not None and epoch != current_epoch:
            # A position in another log: its sequences name other messages here.
            self._drop(sub.key)
            await self._leave_if_unused(sub.category)
            raise FrameError(
                "epoch_changed",
                f"the {sub.category.value} log was started anew (epoch {current_epoch}, "
                f"not {epoch}): positions in the old log are not valid; subscribe again "
                "without since and epoch, or from since=0 with the new epoch",
                **sub.describe(),
                epoch=current_epoch,
                last_sequence=high_water,
            )
        if since is not None and since > high_water:
            # Such a subscription would wait for sequences that the log has not reached
            # and skip every message until it does.
            self._drop(sub.key)
            await self._leave_if_unused(sub.category)
            raise FrameError(
                "invalid_since",
                f"since {since} is beyond the last sequence of the {sub.category.value} "
                f"log ({high_water}); subscribe with since <= last_sequence",
                **sub.describe(),
                last_sequence=high_water,
            )
        sub.epoch = current_epoch
        frame: dict[str, Any] = {
            "type": protocol.SUBSCRIBED,
            **sub.describe(),
            "since": since,
            "last_sequence": high_water,
            "epoch": current_epoch,
        }
        if since is not None:
            # Committed in order: everything up to last_sequence is visible now.
            first = await run_in_thread(first_kept_sequence, sub.category)
            if since + 1 < first:
                frame["pruned"] = {"first_available_sequence": first}
        await self._control(frame)
        if since is None:
            sub.reached = high_water
            return
        sub.reached = since
        # Replay in its own task: it waits for a slow client without stopping live events.
        self.replays[sub.key] = asyncio.create_task(
            self._replay(sub, since, high_water)
        )

    async def _replay(self, sub: Subscription, since: int, high_water: int) -> None:
        cursor = since
        while self.subscriptions.get(sub.key) is sub:
            try:
                rows = await run_in_thread(
                    stored_messages, sub, cursor, high_water, conf.WS_REPLAY_BATCH
                )
            except DatabaseError as exc:
                logger.warning("Replay of %s failed on the store: %r", sub.key, exc)
                await self._interrupt(sub, "the message store cannot be reached")
                await self._leave_if_unused(sub.category)
                return
            except Exception:  # a bug or a row it cannot render: say so, never go quiet
                logger.exception("Replay of %s failed after #%d", sub.key, cursor)
                await self._failed(sub, "replay_failed", cursor)
                return
            for row in rows:
                if not await self._emit_waiting(sub, row):
                    return
            if len(rows) < conf.WS_REPLAY_BATCH:
                break
            cursor = rows[-1]["sequence"]
        sub.reached = max(sub.reached, high_water)
        sub.replaying = False
        buffered, sub.buffer = sub.buffer, []
        for message in buffered:
            if not await self._advance(sub, message):
                return

    async def _unsubscribe(self, content: dict[str, Any]) -> None:
        sub, _ = parse_subscription({k: content.get(k) for k in ("category", "topic")})
        if self._drop(sub.key) is None:
            raise FrameError("not_subscribed", f"no subscription to {sub.describe()}")
        await self._leave_if_unused(sub.category)
        await self._control({"type": protocol.UNSUBSCRIBED, **sub.describe()})

    def _drop(self, key: tuple[str, str | None]) -> Subscription | None:
        replay = self.replays.pop(key, None)
        if replay is not None and replay is not asyncio.current_task():
            replay.cancel()
        return self.subscriptions.pop(key, None)

    async def _leave_if_unused(self, category: Category) -> None:
        group = group_name(category)
        if group in self.joined and not any(
            s.category == category for s in self.subscriptions.values()
        ):
            self.joined.discard(group)
            await self.channel_layer.group_discard(group, self.channel_name)

    # --- live messages ----------------------------------------------------------------------

    async def opsmessaging_messages(self, event: dict[str, Any]) -> None:
        """Handle messages fanned out to one of the joined category groups."""
        self.layer_events += 1
        category = event["category"]
        epoch = event.get("epoch")
        if epoch is not None:
            await self._check_epoch(category, epoch)
        for message in event["messages"]:
            await self._live(category, message)

    async def _check_epoch(self, category: str, epoch: str) -> None:
        """Tell and drop the subscriptions of ``category`` made in another epoch of its
        log: their positions name other messages in this one."""
        for sub in [s for s in self.subscriptions.values() if s.category == category]:
            if sub.epoch is None or sub.epoch == epoch:
                continue
            self._drop(sub.key)
            await self._control(
                FrameError(
                    "epoch_changed",
                    f"the {category} log was started anew (epoch {epoch}): subscribe "
                    "again from since=0 with the new epoch",
                    **sub.describe(),
                    epoch=epoch,
                ).frame()
            )
        await self._leave_if_unused(Category(category))

    async def opsmessaging_message(self, event: dict[str, Any]) -> None:
        """Handle one message in the event form of earlier versions (its wire form)."""
        self.layer_events += 1
        wire = event["message"]
        await self._live(wire["category"], live_message(wire))

    async def _live(self, category: str, message: LiveMessage) -> None:
        for sub in [s for s in self.subscriptions.values() if s.category == category]:
            if sub.replaying:
                if len(sub.buffer) >= conf.WS_BUFFER_SIZE:
                    await self._fall_behind(sub)
                else:
                    sub.buffer.append(message)
                continue
            sub.live += 1
            try:
                await self._advance(sub, message)
            except DatabaseError as exc:
                # The gap before it stays open; the next message or the store check
                # fills it once it can.
                logger.warning("Catching up %s failed on the store: %r", sub.key, exc)
            except Exception:  # a bug or a row it cannot render: say so, never go quiet
                logger.exception(
                    "Catching up %s failed after #%d", sub.key, sub.reached
                )
                await self._failed(sub, "catch_up_failed", sub.reached)

    async def opsmessaging_probe(self, event: dict[str, Any]) -> None:
        """Handle this connection's own probe: the channel layer delivers."""
        self.probes_seen = max(self.probes_seen, event["n"])

    async def _advance(self, sub: Subscription, message: LiveMessage) -> bool:
        sequence = message["sequence"]
        # Earlier messages are committed (commit order): a gap means a late or lost delivery.
        if sequence > sub.reached + 1 and not await self._catch_up(sub, sequence - 1):
            return False
        if sequence <= sub.reached:
            return True  # already handed out (replayed, caught up or delivered twice)
        return self._emit(sub, message)

    async def _catch_up(self, sub: Subscription, upto: int) -> bool:
        """Hand out the stored messages of ``sub`` after what it reached, up to ``upto``."""
        while sub.reached < upto:
            batch = conf.WS_REPLAY_BATCH
            rows = await run_in_thread(stored_messages, sub, sub.reached, upto, batch)
            for row in rows:
                # Another task may have moved on while the query ran.
                if row["sequence"] > sub.reached and not self._emit(sub, row):
                    return False
            if len(rows) < batch:
                sub.reached = max(sub.reached, upto)
        return True

    async def _poll(self, interval: float) -> None:
        """Catch up from the store now and then: a safety net for lost or cross-process
        deliveries (the in-process layer cannot reach other processes)."""
        while True:
            await asyncio.sleep(interval)
            try:
                # A read shared with the other connections, at most half an interval old.
                await self._poll_once(interval / 2)
            except DatabaseError as exc:  # the store is away: try again next time
                logger.info("Store check failed: %r", exc)

    async def _poll_once(self, max_age: float = 0.0) -> None:
        # A subscription that got live messages since the last check needs none: a
        # delivery lost before one of them was a gap, filled then, and one lost after them
        # is found by the next check. Under load, when live delivery lags, checking would
        # read from the store what is about to arrive anyway, for every connection.
        quiet = []
        for sub in self.subscriptions.values():
            if sub.live == sub.live_at_check and not sub.replaying:
                quiet.append(sub)
            sub.live_at_check = sub.live
        for category in {s.category for s in quiet}:
            last = await shared_last_sequence(category, max_age)
            for sub in quiet:
                if (
                    sub.category == category
                    and self.subscriptions.get(sub.key) is sub
                    and not sub.replaying
                ):
                    await self._catch_up(sub, last)

    async def _watch_layer(self, interval: float) -> None:
        """Send this connection a probe through the channel layer at every interval.

        A probe not back by the next interval but one, or a send that fails, means live
        delivery is broken: ``_layer_failed``. Probes go out only while subscribed. While
        messages keep arriving through the layer, or an event is still being handled, a
        late probe (or a probe send that times out) is not a failure: it waits behind
        them (a backlog under load), and resubscribing everyone would only add load. So is
        a check that wakes up late (by half an interval or more): the event loop itself is
        overloaded, and nothing it measured tells a dead layer from a busy one.
        """
        events = self.layer_events
        loop = asyncio.get_running_loop()
        while not self.layer_failed:
            started = loop.time()
            await asyncio.sleep(interval)
            overslept = loop.time() - started >= 1.5 * interval
            arrived = self.layer_events != events or self.dispatching > 0 or overslept
            events = self.layer_events
            if not self.subscriptions:
                continue
            if self.probes_sent - self.probes_seen >= 2:
                if arrived:
                    continue
                await self._layer_failed(
                    f"no probe came back through the channel layer in {2 * interval:g} s"
                )
                return
            self.probes_sent += 1
            try:
                await asyncio.wait_for(
                    self.channel_layer.send(
                        self.channel_name, {"type": PROBE_EVENT, "n": self.probes_sent}
                    ),
                    conf.FANOUT_TIMEOUT / 1000,
                )
            except Exception as exc:  # any layer failure means the same to the client
                if isinstance(exc, TimeoutError) and arrived:
                    continue  # a busy loop, not a dead layer: a probe not back yet
                await self._layer_failed(f"probe failed: {exc!r}")
                return

    async def _check_access_every(self, interval: float) -> None:
        """Re-check the user's access at every interval (see ``_check_access``)."""
        while not self.closing:
            await asyncio.sleep(interval)
            try:
                await self._check_access()
            except DatabaseError as exc:  # the store is away: try again next time
                logger.info("Access check failed on the store: %r", exc)

    async def _check_access(self) -> bool:
        """Read the user anew; close the connection if its access is gone.

        Logged out, session expired, token deleted or user deactivated: an error frame and
        close code 4401. No longer allowed to view a category it is subscribed to: an
        error frame and 4403. Either way its subscriptions stop at once. True while
        access remains.
        """
        if self.closing:
            return False
        user = await run_in_thread(current_user, self.scope)
        if not user.is_authenticated:
            await self._close_for(
                CLOSE_NOT_AUTHENTICATED,
                "not_authenticated",
                "your login is no longer valid (logged out, expired, token deleted or "
                "user deactivated); log in again",
            )
            return False
        self.user = user
        for category in sorted({s.category for s in self.subscriptions.values()}):
            if not await run_in_thread(can_view_category, user, category):
                await self._close_for(
                    CLOSE_FORBIDDEN,
                    "forbidden",
                    f"you may no longer view the '{category.value}' category",
                )
                return False
        return True

    async def _close_for(self, code: int, error: str, detail: str) -> None:
        """Stop every subscription, then send an error frame and close with ``code``."""
        self.closing = True
        for key in list(self.subscriptions):
            self._drop(key)
        for group in list(self.joined):
            self.joined.discard(group)
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception as exc:  # a layer that is down forgets the group anyway
                logger.info("Could not leave %s on closing: %r", group, exc)
        logger.info(
            "Closing a WebSocket connection of user %s: %s", self.user.pk, error
        )
        await self._control({"type": protocol.ERROR, "code": error, "detail": detail})
        await self._control({"type": "close", "code": code})

    async def _layer_failed(self, reason: str) -> None:
        """Tell every subscription to resume, after its last message, then close (4503)."""
        if self.layer_failed:
            return
        self.layer_failed = True
        logger.warning(
            "Channel layer failed for a WebSocket connection (%s); telling %d "
            "subscription(s) to resume",
            reason,
            len(self.subscriptions),
        )
        for sub in list(self.subscriptions.values()):
            await self._interrupt(sub, "live delivery was interrupted")
        await self._control(_CLOSE)

    async def _interrupt(self, sub: Subscription, why: str) -> None:
        """Stop ``sub`` and queue a ``resume`` frame naming how far it got."""
        if self.subscriptions.get(sub.key) is not sub:
            return
        self._drop(sub.key)
        await self._control(
            {
                "type": protocol.RESUME,
                **sub.describe(),
                "last_sequence": sub.reached,
                "detail": f"{why}; subscribe again with since=last_sequence",
            }
        )

    async def _failed(self, sub: Subscription, code: str, reached: int) -> None:
        """Stop ``sub`` after an unexpected error reading its messages: an ``error`` frame
        naming how far it got (resubscribing from there would meet the same error)."""
        if self.subscriptions.get(sub.key) is not sub:
            return
        self._drop(sub.key)
        await self._leave_if_unused(sub.category)
        await self._control(
            FrameError(
                code,
                "reading the stored messages failed on the server (it is logged); "
                "the subscription is stopped",
                **sub.describe(),
                last_sequence=reached,
            ).frame()
        )

    def _emit(self, sub: Subscription, message: LiveMessage) -> bool:
        """Queue ``message`` if it matches; False (and the client told) when it fell behind."""
        if self.subscriptions.get(sub.key) is not sub:
            return False
        if sub.matches(message):
            try:
                self.outbox.put_nowait(sub.frame(message))
            except asyncio.QueueFull:
                asyncio.ensure_future(self._fall_behind(sub))
                return False
        sub.reached = max(sub.reached, message["sequence"])
        return True

    async def _emit_waiting(self, sub: Subscription, message: LiveMessage) -> bool:
        """Queue ``message`` if it matches, waiting for room (replays pace themselves)."""
        if self.subscriptions.get(sub.key) is not sub:
            return False
        if sub.matches(message):
            await self.outbox.put(sub.frame(message))
        sub.reached = max(sub.reached, message["sequence"])
        return True

    async def _fall_behind(self, sub: Subscription) -> None:
        if self.subscriptions.get(sub.key) is not sub:
            return
        self._drop(sub.key)
        await self._leave_if_unused(sub.category)
        # Sent once the queued messages are out, so it follows the last message it names.
        self.notices.append(
            {
                "type": protocol.BEHIND,
                **sub.describe(),
                "last_sequence": sub.reached,
                "detail": "you fell behind; subscribe again with since=last_sequence",
            }
        )
        if self.outbox.empty():
            await self._send_notices()

    # --- writing ----------------------------------------------------------------------------

    async def _control(self, frame: dict[str, Any]) -> None:
        await self.outbox.put(frame)

    async def _write(self) -> None:
        while True:
            frame = await self.outbox.get()
            if isinstance(frame, dict) and frame["type"] == "close":
                await self.close(code=frame["code"])
                return
            text = frame if isinstance(frame, str) else await self.encode_json(frame)
            try:
                await self.send(
                    text_data=text
                )  # waits while the client's socket is full
            except UnicodeEncodeError:
                # A lone surrogate (quoted from a client's frame, say) is no UTF-8: send
                # it escaped rather than lose the writer and leave the socket dead.
                logger.info(
                    "Escaped a lone surrogate in a frame to %s", self.channel_name
                )
                await self.send(text_data=escape_surrogates(text))
            if self.outbox.empty():
                await self._send_notices()

    async def _send_notices(self) -> None:
        notices, self.notices = self.notices, []
        for notice in notices:
            await self.send_json(notice)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return compact_json(content)

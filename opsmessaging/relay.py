"""The relay: numbers committed messages and delivers the committed log to subscribers.

Writers never wait for each other or for the channel layer: an append is one INSERT,
and a broadcast returns once it is stored. The relay, a thread in each process that
publishes or serves WebSocket subscribers, does the rest from the log:

- **Numbering** (PostgreSQL, ``SEQUENCING = "relay"``): one relay per cluster, the one
  holding a session advisory lock, gives the committed messages without a sequence the
  next sequences of their categories (``Message.objects.sequence_pending``). A message of
  a transaction still open is not visible to it and waits, without holding anything,
  until it commits; a rolled-back one never gets a number. So sequences stay contiguous,
  in the order subscribers receive them, whatever the writers' transactions do.
- **Delivery**: the log after a cursor, by sequence, is sent to the Channels groups
  (``fanout.deliver``). With a channel layer shared by the cluster (channels_redis) the
  lock holder delivers, and its cursor (``CategorySequence.delivered_sequence``) is in the
  database: a relay that takes over after another died continues where that one's last
  completed delivery ended (subscribers skip what they already have). With a layer of
  the process (the in-memory layer) each process delivers to its own subscribers, from
  where its log stood when it started.

A relay that is not the lock holder stands by and tries again every
``RELAY_STANDBY_INTERVAL``. A failed delivery is counted (``fanout.delivery_stats``) and
retried with backoff; the cursor only moves past what was sent.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connections, router

from opsmessaging import fanout
from opsmessaging.conf import conf
from opsmessaging.models import CategorySequence, Message
from opsmessaging.store import relay_sequenced

logger = logging.getLogger(__name__)

#: The session advisory lock of the cluster's relay (PostgreSQL).
LEADER_LOCK = 0x6F70736D7367 + 1
#: At most this many messages of a category are read from the log per delivery.
DELIVERY_BATCH = 500


@dataclass
class RelayStatus:
    """What this process's relay is doing, for the compatibility report and the metrics."""

    running: bool = False
    #: "cluster": the shared layer, one relay delivers; "process": this process's layer.
    scope: str | None = None
    is_leader: bool = False
    #: Numbering passes that numbered something, and messages delivered.
    numbered: int = 0
    delivered: int = 0
    failures: int = 0
    last_error: str | None = None
    #: category -> (epoch, sequence delivered up to), as this relay last saw them.
    cursors: dict[str, tuple[str, int]] = field(default_factory=dict)


class Relay:
    """One process's relay thread (see the module docstring)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._deliver_locally = False
        self._published = False
        self._leader_file: int | None = None
        self.status = RelayStatus()

    def after_fork(self) -> None:
        """Forget the parent's thread: a forked child has none of it."""
        self._reset()

    def ensure_running(self, *, deliver_locally: bool = False) -> None:
        """Start the relay thread if it is not running; ``deliver_locally``: this process
        serves subscribers (its consumers call this)."""
        if deliver_locally:
            self._deliver_locally = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="opsmessaging-relay", daemon=True
            )
            self._thread.start()
            self.status.running = True

    def wake(self) -> None:
        """Look at the log now (something was just committed here)."""
        self._wake.set()

    def published(self) -> None:
        """Note that this process stored messages: run, and look at the log now."""
        self._published = True
        self.ensure_running()
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and close its database connection (and give up the lock)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self.status.running = False

    # --- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.0
        try:
            while not self._stop.is_set():
                try:
                    busy = self.cycle()
                    backoff = 0.0
                except Exception as exc:  # the store away, a test without DB access...
                    self._lost_connection(exc)
                    backoff = min(max(backoff * 2, 0.05), 2.0)
                    self._wake.wait(backoff)  # a commit here tries again at once
                    self._wake.clear()
                    continue
                if busy:
                    continue
                if self.status.is_leader or self._deliver_locally:
                    interval = conf.RELAY_POLL_INTERVAL
                else:
                    interval = conf.RELAY_STANDBY_INTERVAL
                self._wake.wait(interval / 1000)
                self._wake.clear()
        finally:
            self._release()

    def cycle(self) -> bool:
        """Do one pass: take the lead if free, number, deliver. True when there was work
        (the next pass follows at once)."""
        alias = router.db_for_write(Message)
        scope = "process" if _layer_is_local() else "cluster"
        self.status.scope = scope
        if not self.status.is_leader:
            self.status.is_leader = self._take_lead(alias)
        busy = False
        if self.status.is_leader and relay_sequenced(alias):
            numbered = Message.objects.sequence_pending(DELIVERY_BATCH)
            if numbered:
                self.status.numbered += 1
                busy = True
        if (scope == "cluster" and self.status.is_leader) or (
            scope == "process" and self._deliver_locally
        ):
            busy = self._deliver(alias, persisted=scope == "cluster") or busy
        return busy

    def _deliver(self, alias: str, persisted: bool) -> bool:
        """Send the log after each category's cursor; True if anything was sent."""
        sent_any = False
        logs = CategorySequence.objects.using(alias).values_list(
            "category", "epoch", "last_sequence", "delivered_sequence"
        )
        for category, epoch, last, delivered in logs:
            known = self.status.cursors.get(category)
            if persisted:
                cursor = delivered
            elif known is None:
                cursor = last  # this process's subscribers read what came before
            elif known[0] != epoch:
                cursor = 0  # a new log: everything in it is new
            else:
                cursor = known[1]
            self.status.cursors[category] = (epoch, cursor)
            if last <= cursor:
                continue
            batch = list(
                Message.objects.using(alias)
                .filter(category=category, sequence__gt=cursor, sequence__lte=last)
                .order_by("sequence")[:DELIVERY_BATCH]
            )
            if not batch:
                continue
            reason = fanout.deliver(batch, epoch=epoch)
            if reason is not None:
                self.status.failures += 1
                self.status.last_error = reason
                raise DeliveryRetry(reason)
            reached = batch[-1].sequence
            assert reached is not None
            self.status.cursors[category] = (epoch, reached)
            self.status.delivered += len(batch)
            if persisted:
                CategorySequence.objects.using(alias).filter(
                    category=category, epoch=epoch, delivered_sequence__lt=reached
                ).update(delivered_sequence=reached)
            sent_any = True
        return sent_any

    # --- leadership -------------------------------------------------------------------

    def _take_lead(self, alias: str) -> bool:
        connection = connections[alias]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [LEADER_LOCK])
                return bool(cursor.fetchone()[0])
        name = str(connection.settings_dict["NAME"])
        if not name or name == ":memory:" or name.startswith("file:"):
            return True  # a database of this process alone
        if self._leader_file is None:
            self._leader_file = os.open(
                name + ".opsmessaging-relay.lock", os.O_CREAT | os.O_RDWR, 0o600
            )
        try:
            fcntl.flock(self._leader_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _lost_connection(self, exc: Exception) -> None:
        if isinstance(exc, DeliveryRetry):
            return  # counted where it failed; the connection and the lead are fine
        logger.debug("Relay pass failed: %r", exc)
        if isinstance(exc, DatabaseError):
            self.status.last_error = f"{type(exc).__name__}: {exc}"
        # The session lock went with a broken connection; a new one must take it again.
        self.status.is_leader = False
        self._close_connection()

    def _release(self) -> None:
        self.status.is_leader = False
        if self._leader_file is not None:
            os.close(self._leader_file)  # releases the flock
            self._leader_file = None
        self._close_connection()

    def _close_connection(self) -> None:
        try:
            connections[router.db_for_write(Message)].close()  # and its session lock
        except Exception:  # closing a broken connection may fail too
            logger.debug("Relay could not close its connection", exc_info=True)


class DeliveryRetry(Exception):
    """Raised inside the relay when a delivery failed and must be tried again."""


def _layer_is_local() -> bool:
    """Tell whether the channel layer belongs to this process (the in-memory layer)."""
    layer = fanout.get_layer()
    return layer is None or type(layer).__name__ == "InMemoryChannelLayer"


relay = Relay()
os.register_at_fork(after_in_child=relay.after_fork)


def ensure_running(*, deliver_locally: bool = False) -> None:
    """Start this process's relay (see ``Relay.ensure_running``)."""
    relay.ensure_running(deliver_locally=deliver_locally)


def wake() -> None:
    """Tell this process's relay that something was committed."""
    relay.wake()


def published() -> None:
    """Tell this process's relay that this process committed messages (starting it)."""
    relay.published()


def status() -> dict[str, Any]:
    """Return what this process's relay is doing, and each category's delivery lag."""
    state = relay.status
    return {
        "running": state.running,
        "scope": state.scope,
        "is_leader": state.is_leader,
        "numbering_passes": state.numbered,
        "delivered": state.delivered,
        "failures": state.failures,
        "last_error": state.last_error,
        "cursors": {c: sequence for c, (_epoch, sequence) in state.cursors.items()},
    }


def wait_for_sequences(ids: list[int], timeout: float) -> dict[int, int]:
    """Wait until the messages ``ids`` are numbered, at most ``timeout`` seconds.

    Returns the sequence of each id numbered by then (all of them unless it timed out).
    Wakes this process's relay, so a message stored here is numbered at once when this
    relay holds the lead.
    """
    wanted = set(ids)
    found: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        rows = Message.objects.filter(
            pk__in=wanted - set(found), sequence__isnull=False
        ).values_list("pk", "sequence")
        found.update((pk, sequence) for pk, sequence in rows if sequence is not None)
        if len(found) == len(wanted) or time.monotonic() >= deadline:
            return found
        relay.wake()
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def wait_until_numbered(timeout: float = 10.0) -> bool:
    """Wait until every committed message has its sequence (at most ``timeout``
    seconds); True if none is left unnumbered. Wakes this process's relay."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while Message.objects.filter(sequence__isnull=True).exists():
        if time.monotonic() >= deadline:
            return False
        relay.ensure_running()
        relay.wake()
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


def _number_before_exit() -> None:
    """Number what this process committed before it leaves (a short-lived command may
    be the only process there is), then stop the relay."""
    published = relay._published
    relay.stop(1.0)
    if not published:
        return
    try:
        if relay_sequenced(router.db_for_write(Message)):
            Message.objects.sequence_pending(DELIVERY_BATCH)
    except Exception:  # leaving: the cluster's relay numbers them later
        logger.debug("Could not number messages before exit", exc_info=True)


atexit.register(_number_before_exit)

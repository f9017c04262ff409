"""Publishing: the one path that stores (or spools) every message, and its results.

``publish`` stores one validated envelope, ``publish_many`` a batch in one transaction;
neither raises for a store failure, which is returned in the result. While the database
is unreachable, messages wait in this node's spool (``opsmessaging.spool``) and are
stored, in order, once it is back. ``enable``/``disable`` switch broadcasting in this
process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connections,
    router,
    transaction,
)

from opsmessaging import relay, spool
from opsmessaging.conf import conf
from opsmessaging.envelope import Envelope
from opsmessaging.models import Message
from opsmessaging.nodenames import this_node

logger = logging.getLogger(__name__)


Status = Literal["ok", "disabled", "error", "spooled"]
_ENVELOPE_OPTIONS = ("topic", "node", "source_node", "originating_node")


@dataclass(frozen=True)
class BroadcastResult:
    """The outcome of one broadcast: ``status``, the stored ``message`` and any ``error``.

    ``spooled`` means the database was unreachable and the message waits in this node's
    spool: ``message`` is None, ``envelope`` is what was spooled (its ``message_id`` is the
    one it will be stored with) and ``error`` says why.
    """

    status: Status
    message: Message | None = None
    error: str | None = None
    envelope: Envelope | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def sequence(self) -> int | None:
        """The stored message's sequence, or None while it has none yet.

        With ``SEQUENCING = "relay"`` (PostgreSQL's default) a message is numbered by the
        relay just after it commits, so a fresh result has none: ``wait_for_sequence``.
        """
        return None if self.message is None else self.message.sequence

    def wait_for_sequence(self, timeout: float = 5.0) -> int | None:
        """Wait until the stored message has its sequence (at most ``timeout`` seconds)
        and return it; None if it was not stored, or not numbered in time (inside a
        transaction that has not committed yet it cannot be)."""
        message = self.message
        if message is None or message.sequence is not None:
            return self.sequence
        found = relay.wait_for_sequences([message.pk], timeout)
        if message.pk in found:
            message.sequence = found[message.pk]
        return message.sequence


@dataclass(frozen=True)
class BatchResult:
    """The outcome of ``broadcast_batch``: counts and one result per event, in order."""

    success: int
    errors: int
    disabled: bool = False
    results: list[BroadcastResult] = field(default_factory=list)
    spooled: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Return the original's summary map (``success``, ``errors``, ``disabled``), with
        ``spooled`` when messages were spooled."""
        summary: dict[str, Any] = {"success": self.success, "errors": self.errors}
        if self.disabled:
            summary["disabled"] = True
        if self.spooled:
            summary["spooled"] = self.spooled
        return summary


_override: bool | None = None


def enabled() -> bool:
    """Tell whether broadcasting is on: ``enable()``/``disable()``, else the setting."""
    return conf.PUBSUB_INTEGRATION if _override is None else _override


def enable() -> None:
    """Turn broadcasting on in this process, whatever the setting says."""
    global _override
    _override = True


def disable() -> None:
    """Turn broadcasting off in this process: nothing is stored, results say ``disabled``."""
    global _override
    _override = False


def reset() -> None:
    """Forget ``enable()``/``disable()`` and follow ``PUBSUB_INTEGRATION`` again."""
    global _override
    _override = None


def health_broadcast_interval() -> int:
    """Milliseconds between scheduled health broadcasts (read live from settings)."""
    return conf.HEALTH_BROADCAST_INTERVAL


def metrics_broadcast_interval() -> int:
    """Milliseconds between scheduled metrics broadcasts (read live from settings)."""
    return conf.METRICS_BROADCAST_INTERVAL


def publish(envelope: Envelope) -> BroadcastResult:
    """Store one validated envelope and report the outcome; never raises for store errors."""
    if not enabled():
        return BroadcastResult("disabled")
    [result] = _publish([envelope], many=False)
    return result


def _publish(envelopes: list[Envelope], many: bool) -> list[BroadcastResult]:
    """Store and fan out ``envelopes`` (``many``: one transaction), or spool them.

    A pending spool is drained first, so this node's messages are stored in the order they
    were broadcast; while it cannot be drained, new messages queue behind it.
    """
    local = _local_spool()
    if local is not None and local.pending():
        report = local.drain(store_envelopes, wait=False)
        if not report.complete:
            waiting = report.error or "earlier spooled messages are being drained"
            return _spool(local, envelopes, waiting)
    try:
        stored = _store(envelopes, many)
    except DatabaseError as exc:
        if local is not None and isinstance(exc, OperationalError | InterfaceError):
            return _spool(local, envelopes, _reason(exc))
        return [_failed(envelope, exc) for envelope in envelopes]
    _relay_after_commit()
    return [BroadcastResult("ok", message) for message in stored]


def _store(envelopes: list[Envelope], many: bool) -> list[Message]:
    """Store ``envelopes``; drop the connection when the database cannot be reached.

    Django reopens a dropped connection on its next query, so a long-running process
    (a worker, the logging thread) reconnects once the database is back.
    """
    try:
        if not many:
            return [Message.objects.append(envelopes[0])]
        return Message.objects.append_many(envelopes)
    except (OperationalError, InterfaceError):
        connection = connections[router.db_for_write(Message)]
        if not connection.in_atomic_block:
            connection.close()
        raise


def store_envelopes(envelopes: list[Envelope]) -> None:
    """Store spooled messages: the same path as any broadcast (the spool drain's
    callback; raises the store's errors)."""
    _store(envelopes, many=len(envelopes) > 1)
    _relay_after_commit()


def _local_spool() -> spool.Spool | None:
    """This node's spool, or None: no ``SPOOL_DIR``, or inside a transaction (whose
    messages must commit or roll back with it, so they are never spooled)."""
    directory = conf.SPOOL_DIR
    if directory is None:
        return None
    if connections[router.db_for_write(Message)].in_atomic_block:
        return None
    return spool.Spool(directory, this_node())


def _spool(
    local: spool.Spool, envelopes: list[Envelope], reason: str
) -> list[BroadcastResult]:
    first = envelopes[0]
    try:
        local.append(envelopes)
    except (spool.SpoolFull, OSError) as exc:
        kind = "spool full" if isinstance(exc, spool.SpoolFull) else "spool failed"
        error = f"{kind}: {exc}; the database is unreachable: {reason}"
        logger.error(
            "Failed to broadcast %d message(s) (first %s to %s/%s): %s",
            len(envelopes),
            first.payload_type,
            first.category.value,
            first.topic,
            error,
        )
        return [BroadcastResult("error", None, error) for _ in envelopes]
    logger.warning(
        "Spooled %d message(s) (first %s to %s/%s) in %s: %s",
        len(envelopes),
        first.payload_type,
        first.category.value,
        first.topic,
        local.path,
        reason,
    )
    return [BroadcastResult("spooled", None, reason, e) for e in envelopes]


def drain_spool(wait: bool = True) -> spool.DrainReport | None:
    """Store this node's spooled messages, oldest first, and fan them out.

    Returns None when no spool is configured (``SPOOL_DIR``) or inside a transaction. Runs
    by itself on the next broadcast; ``manage.py opsmessaging_drain_spool`` or a periodic
    task can call it too. With ``wait=False`` a drain already running is left alone.
    """
    local = _local_spool()
    if local is None:
        return None
    return local.drain(store_envelopes, wait=wait)


def _relay_after_commit() -> None:
    """Wake this process's relay when what was just stored is committed: now, or when
    the caller's transaction commits (it never runs for one rolled back)."""
    alias = router.db_for_write(Message)
    if connections[alias].in_atomic_block:
        transaction.on_commit(relay.published, using=alias)
    else:
        relay.published()


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _failed(envelope: Envelope, exc: Exception) -> BroadcastResult:
    reason = _reason(exc)
    logger.warning(
        "Failed to broadcast %s to %s/%s: %s",
        envelope.payload_type,
        envelope.category.value,
        envelope.topic,
        reason,
    )
    return BroadcastResult("error", None, reason)


def publish_many(envelopes: list[Envelope]) -> BatchResult:
    """Store validated envelopes in one transaction and report each outcome, in order."""
    if not enabled():
        return BatchResult(
            0, 0, disabled=True, results=[BroadcastResult("disabled")] * len(envelopes)
        )
    if not envelopes:
        return BatchResult(0, 0)
    results = _publish(envelopes, many=True)
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "spooled")}
    errors = len(results) - counts["ok"] - counts["spooled"]
    stored = sum(r.message is not None for r in results)
    if errors and stored:
        logger.warning(
            "Batch broadcast: %d stored, delivery failed: %s", stored, results[0].error
        )
    elif errors:
        logger.warning("Batch broadcast: 0 succeeded, %d failed", errors)
    return BatchResult(counts["ok"], errors, results=results, spooled=counts["spooled"])

"""Open alerts and their acknowledgement, for the operations page and the admin.

An alert is *open* when it is a ``SystemAlert`` with ``requires_ack`` and no ``AlertAck``
carries its ``alert_id``. Listing them costs two index range scans of the
``(payload_type, id)`` index whatever the size of the store: the newest
``OPEN_ALERTS_SCAN`` alerts, and the acknowledgements stored since the oldest of them (an
acknowledgement always follows its alert). Acknowledging broadcasts an ``AlertAck`` (who,
when, note) through ``pubsub``; nothing here writes a message itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import router, transaction
from django.db.models import QuerySet

from opsmessaging import codec, pubsub
from opsmessaging.catalogue import Payload, alerts
from opsmessaging.categories import Category
from opsmessaging.conf import conf
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.models import CategorySequence, Message
from opsmessaging.permissions import can_add_category, can_view_category
from opsmessaging.timestamps import format_timestamp

ACK_NOTE_MAX_LENGTH = 1000
#: Acknowledged alerts listed by ``alert_board``.
ACKNOWLEDGED_LISTED = 20


@dataclass(frozen=True)
class Acknowledged:
    """An alert and the acknowledgement that closed it."""

    alert: Message
    ack: Message


@dataclass(frozen=True)
class AlertBoard:
    """The open alerts (newest first) and the latest acknowledged ones (newest ack first)."""

    open: list[Message]
    acknowledged: list[Acknowledged]


def payload_of(message: Message) -> dict[str, Any] | None:
    """Return the payload of a stored message, or None when no key can read it."""
    try:
        return message.envelope.payload
    except codec.UnreadablePayload:
        return None


def _newest_alerts() -> QuerySet[Message]:
    return Message.objects.filter(payload_type=alerts.SystemAlert.name).order_by("-id")[
        : conf.OPEN_ALERTS_SCAN
    ]


def _acks_since(message_id: int) -> QuerySet[Message]:
    return Message.objects.filter(
        payload_type=alerts.AlertAck.name, id__gt=message_id
    ).order_by("-id")


def alert_board(acknowledged: int = ACKNOWLEDGED_LISTED) -> AlertBoard:
    """Return the open alerts among the newest ``OPEN_ALERTS_SCAN`` ones, and the
    ``acknowledged`` alerts acknowledged last."""
    newest = list(_newest_alerts())
    if not newest:
        return AlertBoard([], [])
    acks: dict[str, Message] = {}
    for ack in _acks_since(newest[-1].id):
        payload = payload_of(ack)
        if payload is not None:
            acks.setdefault(payload["alert_id"], ack)
    still_open: list[Message] = []
    closed: list[Acknowledged] = []
    for alert in newest:
        payload = payload_of(alert)
        if payload is None or payload.get("requires_ack") is not True:
            continue
        closing = acks.get(payload["alert_id"])
        if closing is None:
            still_open.append(alert)
        else:
            closed.append(Acknowledged(alert, closing))
    closed.sort(key=lambda item: item.ack.id, reverse=True)
    return AlertBoard(still_open, closed[:acknowledged])


def find_alert(alert_id: object) -> Message:
    """Return the stored ``SystemAlert`` with ``alert_id`` among the newest ones.

    Raises ``InvalidMessage`` naming ``alert_id`` when there is none.
    """
    if not isinstance(alert_id, str) or not alert_id:
        raise InvalidMessage("give the id of an alert", "alert_id")
    for alert in _newest_alerts():
        payload = payload_of(alert)
        if payload is not None and payload["alert_id"] == alert_id:
            return alert
    raise InvalidMessage(
        f"no alert {alert_id!r} among the newest {conf.OPEN_ALERTS_SCAN} alerts",
        "alert_id",
    )


def acknowledgement_of(alert: Message, alert_id: str) -> Message | None:
    """Return the first ``AlertAck`` of ``alert_id`` stored after ``alert``, if any."""
    found = None
    for ack in _acks_since(alert.id):
        payload = payload_of(ack)
        if payload is not None and payload["alert_id"] == alert_id:
            found = ack  # newest first: keep going to the first one
    return found


def may_acknowledge(user: Any) -> bool:
    """Tell whether ``user`` may acknowledge alerts: see and broadcast ``alerts``."""
    return can_view_category(user, Category.ALERTS) and can_add_category(
        user, Category.ALERTS
    )


def acknowledge(
    alert: str | Message,
    user: Any,
    ack_note: str = "",
    *,
    received_by: str | None = None,
) -> pubsub.BroadcastResult:
    """Acknowledge an open alert as ``user``: broadcast an ``AlertAck`` (who, when, note).

    ``alert`` is an alert id or a stored ``SystemAlert``. Raises ``PermissionDenied``
    unless ``may_acknowledge(user)``, and ``InvalidMessage`` naming ``alert_id`` (no such
    alert, it needs no acknowledgement, or it has one already) or ``ack_note``. The check
    and the broadcast hold the lock of the alerts sequence, so an alert is acknowledged
    once even when two people acknowledge it at the same moment. The ``AlertAck`` is
    signed with ``sender`` = ``user`` (and ``received_by``, the node that took the
    request, when given).
    """
    _check_may_acknowledge(user)
    alias = router.db_for_write(Message)
    _ensure_alert_counter(alias)
    with transaction.atomic(using=alias):
        _lock_alert_sequence(alias)
        return pubsub.broadcast(
            _acknowledgement(alert, user, ack_note),
            sender=user.get_username(),
            received_by=received_by,
        )


def broadcast_with_acknowledgements(
    events: list[object],
    acknowledgements: Mapping[int, tuple[object, object]],
    user: Any,
    *,
    received_by: str | None = None,
) -> pubsub.BatchResult:
    """Broadcast ``events`` as one batch in which ``acknowledgements`` (event index ->
    ``(alert_id, ack_note)``) become ``AlertAck``s by ``user``, each checked as
    ``acknowledge`` checks it (and no alert twice), under the same lock.

    The only way a batch acknowledges alerts: raises ``PermissionDenied`` unless
    ``may_acknowledge(user)``, and ``InvalidMessage`` naming ``events[i].payload.<field>``;
    nothing is stored then.
    """
    _check_may_acknowledge(user)
    alias = router.db_for_write(Message)
    items = list(events)
    _ensure_alert_counter(alias)
    with transaction.atomic(using=alias):
        _lock_alert_sequence(alias)
        seen: set[str] = set()
        for index, (alert_id, ack_note) in sorted(acknowledgements.items()):
            prefix = f"events[{index}].payload"
            try:
                payload = _acknowledgement(alert_id, user, ack_note)  # type: ignore[arg-type]
            except InvalidMessage as exc:
                raise exc.prefixed(prefix) from None
            if payload["alert_id"] in seen:
                raise InvalidMessage(
                    f"alert {payload['alert_id']!r} is acknowledged twice in this batch",
                    f"{prefix}.alert_id",
                )
            seen.add(payload["alert_id"])
            items[index] = payload
        return pubsub.broadcast_batch(
            items, sender=user.get_username(), received_by=received_by
        )


def _check_may_acknowledge(user: Any) -> None:
    if not may_acknowledge(user):
        raise PermissionDenied(
            "Acknowledging alerts needs the permissions to view and to broadcast alerts."
        )


def _acknowledgement(alert: str | Message, user: Any, ack_note: str) -> Payload:
    """Return the ``AlertAck`` of ``alert`` by ``user``; the caller holds the lock."""
    if not isinstance(ack_note, str) or len(ack_note) > ACK_NOTE_MAX_LENGTH:
        raise InvalidMessage(
            f"must be text of at most {ACK_NOTE_MAX_LENGTH} characters", "ack_note"
        )
    message = alert if isinstance(alert, Message) else find_alert(alert)
    payload = (
        payload_of(message) if message.payload_type == alerts.SystemAlert.name else None
    )
    if payload is None:
        raise InvalidMessage(
            f"message {message.message_id} is not a readable SystemAlert",
            "alert_id",
        )
    alert_id = payload["alert_id"]
    if payload.get("requires_ack") is not True:
        raise InvalidMessage(
            f"alert {alert_id!r} does not require an acknowledgement", "alert_id"
        )
    done = acknowledgement_of(message, alert_id)
    if done is not None:
        ack = payload_of(done) or {}
        raise InvalidMessage(
            f"alert {alert_id!r} was acknowledged by {ack.get('ack_by')!r} at "
            f"{format_timestamp(done.timestamp)}",
            "alert_id",
        )
    return alerts.alert_ack(
        alert_id, user.get_username(), ack_note=ack_note.strip() or None
    )


def _ensure_alert_counter(alias: str) -> None:
    """Create the alerts log's counter row if it is missing (a fresh or flushed store;
    with the relay, appends create none), before any acknowledgement locks it: in its own
    transaction when there is none open, so every acknowledgement then locks one
    committed row."""
    counters = CategorySequence.objects.using(alias).filter(
        category=Category.ALERTS.value
    )
    if not counters.exists():
        CategorySequence.ensure(alias, Category.ALERTS)


def _lock_alert_sequence(alias: str) -> None:
    # The alerts log's counter row: holding it orders acknowledgements.
    counter = (
        CategorySequence.objects.using(alias)
        .select_for_update()
        .filter(category=Category.ALERTS.value)
    )
    if not list(counter):  # created meanwhile by nobody: create it, then lock it
        CategorySequence.ensure(alias, Category.ALERTS)
        list(counter)

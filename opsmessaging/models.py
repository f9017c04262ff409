"""The tables: stored messages and their per-category counters, the node registry, and the
state kept for alerts and the schedule (occurrence windows, component statuses, runs).

The SQL of appends and reads is in ``opsmessaging.store``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar

from django.db import IntegrityError, models, router, transaction
from django.utils import timezone

from opsmessaging import codec, integrity, keys
from opsmessaging.catalogue import get_type
from opsmessaging.categories import Category
from opsmessaging.conf import conf
from opsmessaging.envelope import Envelope
from opsmessaging.exceptions import ImmutableMessage, InvalidMessage
from opsmessaging.nodenames import this_node
from opsmessaging.severity import Severity
from opsmessaging.store import MessageManager, wire_cache


class Message(models.Model):
    """One stored operational message. Append-only: it is never changed once stored."""

    id = models.BigAutoField(primary_key=True)
    message_id = models.CharField(max_length=64, unique=True)
    category = models.CharField(max_length=16, choices=Category.choices)
    topic = models.CharField(max_length=200)
    tag = models.CharField(max_length=64)
    payload_type = models.CharField(max_length=64)
    version = models.PositiveSmallIntegerField(default=1)
    node = models.CharField(max_length=255)
    source_node = models.CharField(max_length=255)
    originating_node = models.CharField(max_length=255)
    sender = models.CharField(
        max_length=150,
        blank=True,
        default="",
        db_default="",
        help_text="The authenticated user who sent it through the API (signed).",
    )
    received_by = models.CharField(
        max_length=255,
        blank=True,
        default="",
        db_default="",
        help_text="The node that received it through the API (signed).",
    )
    timestamp = models.DateTimeField(help_text="UTC, millisecond precision.")
    severity = models.PositiveSmallIntegerField(
        choices=Severity.choices,
        null=True,
        blank=True,
        help_text="Normalised severity, if any.",
    )
    sequence = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Position in the category, from 1, no gaps; empty for the moment "
        "between the commit of a message and its numbering by the relay.",
    )
    payload = models.JSONField(
        null=True, blank=True, help_text="The payload, unless compressed or encrypted."
    )
    payload_blob = models.BinaryField(
        null=True, blank=True, help_text="The compressed and/or encrypted payload."
    )
    payload_encoding = models.CharField(
        max_length=16,
        default=codec.JSON,
        db_default=codec.JSON,
        choices=[(e, e) for e in codec.ENCODINGS],
        help_text="How the payload is stored.",
    )
    key_id = models.CharField(
        max_length=40, blank=True, db_default="", help_text="The signing key."
    )
    signature = models.CharField(
        max_length=64,
        blank=True,
        db_default="",
        help_text="Hex HMAC-SHA256 (see opsmessaging.integrity).",
    )

    objects: ClassVar[MessageManager] = MessageManager()

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("view_security_messages", "Can view security messages"),
            ("view_audit_messages", "Can view audit messages"),
            ("add_security_messages", "Can broadcast security messages"),
            ("add_audit_messages", "Can broadcast audit messages"),
            (
                "override_message_node",
                "Can set the node fields of messages broadcast through the API",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "sequence"], name="opsmsg_category_sequence"
            ),
        ]
        indexes = [
            models.Index(
                fields=["category", "topic", "sequence"], name="opsmsg_topic_seq"
            ),
            models.Index(fields=["category", "id"], name="opsmsg_category_id"),
            models.Index(fields=["node", "id"], name="opsmsg_node_id"),
            # The node filter matches any of the three node fields (API, admin, feed:
            # newest first; WebSocket: in sequence order within a category).
            models.Index(fields=["source_node", "id"], name="opsmsg_source_node_id"),
            models.Index(
                fields=["originating_node", "id"], name="opsmsg_originating_node_id"
            ),
            models.Index(
                fields=["category", "node", "sequence"], name="opsmsg_cat_node_seq"
            ),
            models.Index(
                fields=["category", "source_node", "sequence"],
                name="opsmsg_cat_source_seq",
            ),
            models.Index(
                fields=["category", "originating_node", "sequence"],
                name="opsmsg_cat_orig_seq",
            ),
            models.Index(fields=["severity", "id"], name="opsmsg_severity_id"),
            models.Index(fields=["payload_type", "id"], name="opsmsg_type_id"),
            models.Index(fields=["timestamp"], name="opsmsg_timestamp"),
            models.Index(
                fields=["id"],
                name="opsmsg_unsequenced",
                condition=models.Q(sequence__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category}#{self.sequence} {self.payload_type} on {self.topic}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableMessage("stored operational messages are immutable")
        super().save(*args, **kwargs)

    @classmethod
    def from_envelope(cls, envelope: Envelope, sequence: int | None) -> Message:
        """Return an unsaved message storing ``envelope``: signed, encoded for rest."""
        key_id, signature = integrity.sign(envelope)
        payload, blob, encoding = codec.encode(
            envelope.category.value, envelope.payload, envelope.payload_json
        )
        message = cls(
            message_id=envelope.message_id,
            category=envelope.category.value,
            topic=envelope.topic,
            tag=envelope.tag,
            payload_type=envelope.payload_type,
            version=envelope.version,
            node=envelope.node,
            source_node=envelope.source_node,
            originating_node=envelope.originating_node,
            sender=envelope.sender or "",
            received_by=envelope.received_by or "",
            timestamp=envelope.timestamp,
            severity=None if envelope.severity is None else int(envelope.severity),
            sequence=sequence,
            payload=payload,
            payload_blob=blob,
            payload_encoding=encoding,
            key_id=key_id,
            signature=signature,
        )
        message.__dict__["stored_envelope"] = envelope
        message.__dict__["integrity"] = "secured"  # just signed
        return message

    @cached_property
    def stored_envelope(self) -> Envelope:
        """The message as stored: its stored version, payload decoded."""
        payload = codec.decode(self.payload, self.payload_blob, self.payload_encoding)
        return replace(self._bare_envelope(), payload=payload)

    @cached_property
    def integrity(self) -> integrity.Outcome:
        """What checking the signature found (the original's five outcomes)."""
        try:
            stored = self.stored_envelope
        except codec.UnreadablePayload:
            return "invalid_format"
        return integrity.verify(stored, self.key_id, self.signature)

    @property
    def signature_valid(self) -> bool:
        return self.integrity in integrity.VALID_OUTCOMES

    @property
    def envelope(self) -> Envelope:
        """The message in the current shape of its payload type (upcast if older).

        Raises ``codec.UnreadablePayload`` when this node cannot read it: no key decrypts
        it, or its payload type or version is one this node does not know (written by a
        newer node during a rolling upgrade, or tampered with).
        """
        stored = self.stored_envelope
        try:
            payload_type = get_type(stored.payload_type, "payload_type")
            if stored.version == payload_type.version:
                return stored
            payload = payload_type.upcast(stored.version, dict(stored.payload))
        except (
            InvalidMessage,
            KeyError,
            TypeError,
        ) as exc:  # an upcaster's, on bad data
            raise codec.UnreadablePayload(
                f"cannot read {stored.payload_type} version {stored.version} here: {exc}"
            ) from exc
        return replace(stored, version=payload_type.version, payload=payload)

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON wire form (see ``envelope.WIRE_FIELDS``).

        A payload that cannot be read (no key decrypts it) is ``null``, and a message whose
        signature does not verify says ``"signature_valid": false``; neither is hidden.
        On PostgreSQL a numbered message read from the store is rendered once per process
        and row version (``store.wire_cache``): a row changed since is rendered anew.
        """
        version = getattr(self, "row_version", None)
        if self.sequence is None or self.id is None or version is None:
            return self._render_wire()
        key = (self.id, version, keys.fingerprint())
        cached = wire_cache.get(key)
        if cached is None:
            cached = self._render_wire()
            wire_cache.put(key, cached)
        return {**cached}

    def _render_wire(self) -> dict[str, Any]:
        try:
            envelope = self.envelope
        except codec.UnreadablePayload:
            envelope = replace(self._bare_envelope(), payload=None)  # type: ignore[arg-type]
        return envelope.to_wire(
            id=self.id, sequence=self.sequence, signature_valid=self.signature_valid
        )

    def _bare_envelope(self) -> Envelope:
        return Envelope(
            message_id=self.message_id,
            category=Category(self.category),
            topic=self.topic,
            tag=self.tag,
            payload_type=self.payload_type,
            version=self.version,
            node=self.node,
            source_node=self.source_node,
            originating_node=self.originating_node,
            timestamp=self.timestamp,
            severity=None if self.severity is None else Severity(self.severity),
            payload={},
            sender=self.sender or None,
            received_by=self.received_by or None,
        )


def new_epoch() -> str:
    """Return a new log epoch: 16 random hex characters."""
    return secrets.token_hex(8)


class CategorySequence(models.Model):
    """One category's log: the last sequence given out, how far the relay delivered it,
    and its epoch."""

    category = models.CharField(
        max_length=16, choices=Category.choices, primary_key=True
    )
    last_sequence = models.BigIntegerField(default=0)
    delivered_sequence = models.BigIntegerField(
        default=0,
        help_text="Up to where the cluster's relay has delivered this log live.",
    )
    epoch = models.CharField(
        max_length=32,
        default=new_epoch,
        help_text="Names this category's log: a new one whenever the log starts anew "
        "(a flushed or recreated store), so that a position in an old log is refused.",
    )

    def __str__(self) -> str:
        return f"{self.category}: {self.last_sequence} (epoch {self.epoch})"

    @classmethod
    def epoch_of(cls, category: Category | str) -> str:
        """Return the epoch of ``category``'s log, starting the log if it has none yet."""
        alias = router.db_for_write(cls)
        value = Category(category)
        epoch = (
            cls.objects.using(alias)
            .filter(category=value.value)
            .values_list("epoch", flat=True)
            .first()
        )
        if epoch is None:
            cls.ensure(alias, value)
            epoch = (
                cls.objects.using(alias)
                .values_list("epoch", flat=True)
                .get(category=value.value)
            )
        return str(epoch)

    @classmethod
    def ensure(cls, alias: str, category: Category) -> None:
        """Create the counter row of ``category``, continuing after any stored message."""
        last = (
            Message.objects.using(alias)
            .filter(category=category)
            .aggregate(last=models.Max("sequence"))["last"]
        )
        with transaction.atomic(using=alias):
            cls.objects.using(alias).get_or_create(
                category=category.value,
                defaults={"last_sequence": last or 0, "delivered_sequence": last or 0},
            )


def heartbeat_window() -> timedelta:
    """How long a node may stay silent before it is failed: the missed heartbeats allowed."""
    return timedelta(milliseconds=conf.HEARTBEAT_INTERVAL * conf.NODE_FAILURE_THRESHOLD)


class NodeQuerySet(models.QuerySet["Node"]):
    def alive(self) -> NodeQuerySet:
        """Nodes that heartbeat within the window and have neither failed nor stopped."""
        return self.filter(
            last_heartbeat_at__gte=timezone.now() - heartbeat_window()
        ).exclude(status__in=GONE)

    def cluster_context(self) -> dict[str, Any]:
        """Return ``node_name``, ``connected_nodes``, ``cluster_size`` and ``node_type``.

        ``connected_nodes`` are the other nodes that have been seen recently (``alive``).
        """
        name = this_node()
        connected = self.connected_names(exclude=name)
        return {
            "node_name": name,
            "connected_nodes": connected,
            "cluster_size": len(connected) + 1,
            "node_type": conf.NODE_TYPE,
        }

    def connected_names(self, exclude: str | None = None) -> list[str]:
        """Names of the alive nodes (see ``alive``), except ``exclude``."""
        recent = self.alive()
        if exclude:
            recent = recent.exclude(name=exclude)
        return list(recent.order_by("name").values_list("name", flat=True))


class Node(models.Model):
    """A process running the app (web, worker, beat), as last reported by itself."""

    class Status(models.TextChoices):
        HEALTHY = "healthy"
        DEGRADED = "degraded"
        UNHEALTHY = "unhealthy"
        FAILED = "failed"
        STOPPED = "stopped"
        UNKNOWN = "unknown"

    name = models.CharField(max_length=255, unique=True)
    role = models.CharField(
        max_length=32, blank=True, help_text="web, worker, beat, ..."
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.UNKNOWN
    )
    started_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    status_changed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the status last changed."
    )
    metadata = models.JSONField(default=dict, blank=True)
    config = models.JSONField(
        null=True,
        blank=True,
        help_text="The effective OPSMESSAGING settings at this node's last start.",
    )

    objects = NodeQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def heartbeat(cls, name: str, role: str = "", **metadata: Any) -> Node:
        """Record that ``name`` is alive now; ``metadata`` is merged into what it had."""
        now = timezone.now()
        with transaction.atomic(using=router.db_for_write(cls)):
            node, created = cls.objects.select_for_update().get_or_create(
                name=name,
                defaults={
                    "last_heartbeat_at": now,
                    "role": role,
                    "metadata": metadata,
                    "started_at": now,
                    "status": cls.Status.HEALTHY,
                },
            )
            if not created:
                node.last_heartbeat_at = now
                node.role = role or node.role
                node.metadata = {**node.metadata, **metadata}
                node.save(update_fields=["last_heartbeat_at", "role", "metadata"])
        return node


@dataclass(frozen=True)
class Occurrence:
    """What ``OccurrenceWindow.objects.record`` saw: the window's state after one more hit."""

    count: int
    first_seen_at: datetime
    last_seen_at: datetime
    details: dict[str, Any]
    is_threshold_crossed: bool  # true for exactly one hit per window: the threshold-th


class OccurrenceWindowManager(models.Manager["OccurrenceWindow"]):
    def record(
        self,
        key: str,
        window_ms: int,
        threshold: int,
        details: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Occurrence:
        """Count one occurrence of ``key`` in its current window, shared by every process.

        A window opens at the first occurrence and lasts ``window_ms``; the next occurrence
        after that opens a new one. The row is locked while it is counted, so exactly one
        caller sees ``is_threshold_crossed`` in each window. ``details`` updates the
        window's details (it gets a copy, reset when a new window opens). Runs in a
        savepoint, so a failure never breaks the caller's transaction.
        """
        alias = router.db_for_write(self.model)
        now = timezone.now()
        with transaction.atomic(using=alias):
            self.using(alias).get_or_create(
                key=key,
                defaults={
                    "count": 0,
                    "window_started_at": now,
                    "first_seen_at": now,
                    "last_seen_at": now,
                },
            )
            row = self.using(alias).select_for_update().get(key=key)
            if row.count == 0 or row.window_started_at <= now - timedelta(
                milliseconds=window_ms
            ):
                row.count, row.is_alerted, row.details = 0, False, {}
                row.window_started_at = row.first_seen_at = now
            row.count += 1
            row.last_seen_at = now
            if details is not None:
                row.details = details(dict(row.details))
            crossed = row.count >= threshold and not row.is_alerted
            row.is_alerted = row.is_alerted or crossed
            row.save(using=alias)
        return Occurrence(
            row.count, row.first_seen_at, row.last_seen_at, row.details, crossed
        )


class OccurrenceWindow(models.Model):
    """How often one thing (a login-failure source, an error signature) happened lately.

    Kept in the database so that every process and node counts together.
    """

    key = models.CharField(max_length=255, unique=True)
    count = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    is_alerted = models.BooleanField(
        default=False, help_text="Whether this window has crossed its threshold."
    )
    details = models.JSONField(default=dict, blank=True)

    objects: ClassVar[OccurrenceWindowManager] = OccurrenceWindowManager()

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


#: Statuses of a node that is not in the cluster any more.
GONE = (Node.Status.FAILED, Node.Status.STOPPED)


class ComponentStatus(models.Model):
    """The last status seen of one component of one node, so any process sees changes."""

    node = models.CharField(max_length=255)
    component = models.CharField(max_length=100)
    status = models.CharField(max_length=16)
    changed_at = models.DateTimeField()
    checked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["node", "component"], name="opsmsg_component_status_unique"
            ),
        ]
        verbose_name_plural = "component statuses"

    def __str__(self) -> str:
        return f"{self.component}@{self.node}: {self.status}"

    @classmethod
    def record(
        cls, node: str, component: str, status: str
    ) -> tuple[str | None, str] | None:
        """Store ``status``; return ``(previous, status)`` if it changed, else None.

        ``previous`` is None the first time the component is seen. The change is taken
        with a conditional UPDATE, so of two processes recording the same change only one
        gets it back.
        """
        for _attempt in range(3):
            now = timezone.now()
            rows = cls.objects.filter(node=node, component=component)
            previous = rows.values_list("status", flat=True).first()
            if previous is None:
                try:
                    with transaction.atomic(using=router.db_for_write(cls)):
                        cls.objects.create(
                            node=node,
                            component=component,
                            status=status,
                            changed_at=now,
                            checked_at=now,
                        )
                except IntegrityError:
                    continue  # created meanwhile by another process: read it again
                return (None, status)
            if previous == status:
                rows.update(checked_at=now)
                return None
            if rows.filter(status=previous).update(
                status=status, changed_at=now, checked_at=now
            ):
                return (previous, status)
        return None


class PeriodicRun(models.Model):
    """The last claimed run of one periodic job, so that each period runs once.

    Two beat processes started by mistake send every periodic task twice; only the first
    task of each period claims the run (see ``claim``) and the other does nothing.
    """

    #: A run is claimed only if the last one was sent at least this fraction of the
    #: interval before. One scheduler sends a full interval apart, so it always claims;
    #: a second one, out of phase, is refused (above 0.5 the two cannot alternate).
    SPACING = 0.9

    name = models.CharField(max_length=100, unique=True)
    last_sent_at = models.DateTimeField(
        help_text="When the claimed run was sent by the scheduler."
    )
    last_run_at = models.DateTimeField()
    node = models.CharField(max_length=255, help_text="The node that ran it.")
    state = models.JSONField(
        default=dict, blank=True, help_text="What the job keeps between runs."
    )

    def __str__(self) -> str:
        return f"{self.name} sent at {self.last_sent_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def _earliest_previous(cls, sent_at: datetime, interval_ms: int) -> datetime:
        return sent_at - timedelta(milliseconds=interval_ms * cls.SPACING)

    @classmethod
    def already_ran(cls, name: str, sent_at: datetime, interval_ms: int) -> bool:
        """Tell whether the period of ``name`` sent at ``sent_at`` is claimed (a read)."""
        return cls.objects.filter(
            name=name, last_sent_at__gt=cls._earliest_previous(sent_at, interval_ms)
        ).exists()

    @classmethod
    def claim(
        cls, name: str, sent_at: datetime, interval_ms: int, node: str
    ) -> PeriodicRun | None:
        """Claim the run of ``name`` sent at ``sent_at``; None if this period already ran.

        Inside a transaction the claim is held (its row locked) until the commit, and a
        rollback gives it back: a concurrent claim of the period waits, then gets None.
        """
        now = timezone.now()
        earliest_previous = cls._earliest_previous(sent_at, interval_ms)
        if cls.objects.filter(name=name, last_sent_at__lte=earliest_previous).update(
            last_sent_at=sent_at, last_run_at=now, node=node
        ):
            return cls.objects.get(name=name)
        if cls.objects.filter(name=name).exists():
            return None
        try:
            with transaction.atomic(using=router.db_for_write(cls)):
                return cls.objects.create(
                    name=name, last_sent_at=sent_at, last_run_at=now, node=node
                )
        except IntegrityError:
            return None  # the first run was claimed by another process

    def save_state(self, state: dict[str, Any]) -> None:
        """Keep ``state`` for the next run."""
        self.state = state
        PeriodicRun.objects.filter(pk=self.pk).update(state=state)


class Monitor(models.Model):
    """A job expected to check in on a schedule: one of the app's periodic runs or a
    user's task (``opsmessaging.checkins``).

    ``next_due_at`` is when the monitor counts as missed if nothing checked in; the
    counters follow Sentry's ``failure_issue_threshold`` and ``recovery_threshold``.
    """

    class Status(models.TextChoices):
        UNKNOWN = "unknown"
        OK = "ok"
        ERROR = "error"
        MISSED = "missed"

    name = models.CharField(max_length=100, unique=True)
    interval_ms = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Milliseconds between runs (or a crontab)."
    )
    crontab = models.CharField(
        max_length=100, blank=True, help_text="'minute hour day month weekday'."
    )
    margin_ms = models.PositiveBigIntegerField(default=0)
    failure_threshold = models.PositiveIntegerField(default=1)
    recovery_threshold = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.UNKNOWN
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    consecutive_successes = models.PositiveIntegerField(default=0)
    is_alerting = models.BooleanField(
        default=False, help_text="Whether a missed_checkin alert is open."
    )
    alert_id = models.CharField(max_length=64, blank=True)
    last_checkin_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"


class CheckIn(models.Model):
    """One run of a monitored job, or one period it missed."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        OK = "ok"
        ERROR = "error"
        MISSED = "missed"

    monitor = models.ForeignKey(
        Monitor, on_delete=models.CASCADE, related_name="checkins"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveBigIntegerField(null=True, blank=True)
    node = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(
                fields=["monitor", "-started_at"], name="opsmsg_checkin_recent"
            )
        ]
        verbose_name = "check-in"

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.status} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class Notification(models.Model):
    """One notice (an alert, its acknowledgement or its recovery) to one route.

    Unique per alert, route and kind, so a notice is sent at most once however often
    its task runs (``opsmessaging.notifications``).
    """

    class Kind(models.TextChoices):
        ALERT = "alert"
        ACK = "ack"
        RECOVERY = "recovery"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"
        SUPPRESSED = "suppressed"

    alert_id = models.CharField(max_length=64)
    route = models.CharField(max_length=100, help_text="The route's name.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    channel = models.CharField(max_length=16, help_text="email or webhook.")
    target = models.CharField(max_length=1000, help_text="Addresses or URL.")
    fingerprint = models.CharField(max_length=255, db_index=True)
    severity = models.CharField(max_length=16)
    title = models.CharField(max_length=1000)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    response = models.TextField(blank=True, help_text="The last answer or error.")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert_id", "route", "kind"], name="opsmsg_notification_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.alert_id} to {self.route}: {self.status}"

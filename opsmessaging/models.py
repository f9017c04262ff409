"""The message store (``Message``), its per-category sequences and the node registry."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar

from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import F, Q
from django.utils import timezone

from opsmessaging import codec, integrity
from opsmessaging.catalogue import get_type, type_for_tag
from opsmessaging.categories import Category
from opsmessaging.conf import conf
from opsmessaging.envelope import Envelope
from opsmessaging.exceptions import ImmutableMessage
from opsmessaging.helpers import NODE_FIELDS
from opsmessaging.severity import Severity

# Columns written by ``append``; the order matches the INSERT statements below.
_COLUMNS = (
    "message_id",
    "category",
    "topic",
    "tag",
    "payload_type",
    "version",
    "node",
    "source_node",
    "originating_node",
    "timestamp",
    "severity",
    "signature",
    "key_id",
    "payload_encoding",
    "payload_blob",
)


class MessageQuerySet(models.QuerySet["Message"]):
    """Queries over stored messages; stored messages cannot be updated."""

    def update(self, **kwargs: Any) -> int:
        raise ImmutableMessage("stored operational messages are immutable")

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise ImmutableMessage("stored operational messages are immutable")

    def newest_first(self) -> MessageQuerySet:
        return self.order_by("-id")

    def matching(
        self,
        *,
        category: str | None = None,
        topic: str | None = None,
        tag: str | None = None,
        payload_type: str | None = None,
        node: str | None = None,
        node_field: str = "any",
        severity: Severity | None = None,
        min_severity: Severity | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: int | None = None,
    ) -> MessageQuerySet:
        """Filter messages the way the API and ``opsmessaging_tail`` do; None means "any".

        ``node`` matches any of the three node fields unless ``node_field`` names one;
        ``since`` is inclusive and ``until`` exclusive; ``after`` is a sequence number of
        ``category`` (for catching up). A tag is served by the payload-type index: each
        payload type has exactly one tag.
        """
        rows = self
        if category is not None:
            rows = rows.filter(category=category)
        if topic is not None:
            rows = rows.filter(topic=topic)
        if tag is not None:
            rows = rows.filter(payload_type=type_for_tag(tag).name)
        if payload_type is not None:
            rows = rows.filter(payload_type=payload_type)
        if node is not None:
            if node_field == "any":
                rows = rows.filter(
                    Q(node=node) | Q(source_node=node) | Q(originating_node=node)
                )
            elif node_field in NODE_FIELDS:
                rows = rows.filter(**{node_field: node})
            else:
                raise ValueError(f"node_field must be 'any' or one of {NODE_FIELDS}")
        if severity is not None:
            rows = rows.filter(severity=int(severity))
        if min_severity is not None:
            rows = rows.filter(severity__gte=int(min_severity))
        if since is not None:
            rows = rows.filter(timestamp__gte=since)
        if until is not None:
            rows = rows.filter(timestamp__lt=until)
        if after is not None:
            if category is None:
                raise ValueError("after needs a category: sequences number each one")
            rows = rows.filter(sequence__gt=after)
        return rows

    def distinct_values(
        self, column: str, category: str | None = None, limit: int = 100
    ) -> list[str]:
        """Return up to ``limit`` distinct values of ``node`` (or of ``topic`` in a category).

        On PostgreSQL this walks the index one value at a time (a loose index scan), so it
        stays fast however many rows share each value.
        """
        if column not in ("node", "topic") or (column == "topic" and category is None):
            raise ValueError(
                "distinct_values supports 'node', and 'topic' within a category"
            )
        connection = connections[self.db]
        if connection.vendor != "postgresql":
            rows = self.all() if category is None else self.filter(category=category)
            return list(
                rows.order_by(column).values_list(column, flat=True).distinct()[:limit]
            )
        table = self.model._meta.db_table
        scope = "category = %s AND " if category is not None else ""
        params: list[Any] = [category] if category is not None else []
        sql = (
            f"WITH RECURSIVE t(v) AS ("
            f"(SELECT {column} FROM {table} WHERE {scope}TRUE ORDER BY {column} LIMIT 1) "
            f"UNION ALL SELECT (SELECT {column} FROM {table} WHERE {scope}{column} > t.v "
            f"ORDER BY {column} LIMIT 1) FROM t WHERE t.v IS NOT NULL) "
            f"SELECT v FROM t WHERE v IS NOT NULL LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *params, limit])
            return [row[0] for row in cursor.fetchall()]

    def category_stats(self, category: str) -> dict[str, Any]:
        """Return the first and last sequence, the count and the last time of a category.

        Two index probes however large the table: sequences number a category from 1 with
        no gaps and retention removes the oldest messages first, so the stored messages
        are exactly ``first_sequence`` to ``last_sequence``.
        """
        rows = self.filter(category=category)
        first = rows.order_by("sequence").values_list("sequence", flat=True).first()
        last = rows.order_by("-sequence").values("sequence", "timestamp").first()
        if first is None or last is None:
            return {
                "count": 0,
                "first_sequence": None,
                "last_sequence": None,
                "last_message_at": None,
            }
        return {
            "count": last["sequence"] - first + 1,
            "first_sequence": first,
            "last_sequence": last["sequence"],
            "last_message_at": last["timestamp"],
        }


class MessageManager(models.Manager["Message"]):
    """Appends messages with contiguous per-category sequences, in commit order."""

    def get_queryset(self) -> MessageQuerySet:
        return MessageQuerySet(self.model, using=self._db)

    def newest_first(self) -> MessageQuerySet:
        return self.get_queryset().newest_first()

    def distinct_values(
        self, column: str, category: str | None = None, limit: int = 100
    ) -> list[str]:
        return self.get_queryset().distinct_values(column, category, limit)

    def category_stats(self, category: str) -> dict[str, Any]:
        return self.get_queryset().category_stats(category)

    def append(self, envelope: Envelope) -> Message:
        """Store one message and return it with its ``id`` and ``sequence``.

        The sequence comes from the category's counter row, locked until the transaction
        commits, so sequences are contiguous and in commit order. On PostgreSQL (psycopg 3)
        it is one pipelined round trip in autocommit mode: the ``DB_TIMEOUT`` bounds and
        one statement that takes the sequence and inserts, in one transaction. A message
        whose ``message_id`` is already stored with the same content is not stored again:
        the stored row is returned (so a spool drained twice stores each message once).
        """
        alias = router.db_for_write(self.model)
        try:
            return self._append(alias, envelope)
        except IntegrityError:
            stored = self._already_stored(alias, [envelope])
            if not stored:
                raise
            return stored[envelope.message_id]

    def _append(self, alias: str, envelope: Envelope) -> Message:
        connection = connections[alias]
        if connection.vendor == "postgresql":
            if connection.in_atomic_block:
                with transaction.atomic(
                    using=alias
                ):  # a savepoint: keep the caller's work
                    return self._append_postgresql(alias, envelope, bounded=False)
            if _pipeline(alias) is not None:
                return self._append_postgresql(alias, envelope, bounded=True)
            if connection.settings_dict["OPTIONS"].get("server_side_binding"):
                # Server-side binding cannot send the timeouts in the same statement.
                with transaction.atomic(using=alias):
                    _bound_transaction(alias)
                    return self._append_postgresql(alias, envelope, bounded=False)
            return self._append_postgresql(alias, envelope, bounded=True)
        with transaction.atomic(using=alias):
            sequence = self._allocate(alias, envelope.category, 1)
            message = Message.from_envelope(envelope, sequence)
            message.save(using=alias, force_insert=True)
            return message

    def append_many(self, envelopes: Sequence[Envelope]) -> list[Message]:
        """Store several messages in one transaction, one sequence allocation per category.

        On PostgreSQL (psycopg 3) the whole batch is one pipelined round trip: the counters
        of its categories locked in category order (so two batches never deadlock), then
        one ``INSERT ... SELECT FROM unnest(...)`` storing every row in the order given.
        Messages already stored with the same ``message_id`` and content are returned, not
        stored again (see ``append``).
        """
        alias = router.db_for_write(self.model)
        try:
            return self._append_many(alias, envelopes)
        except IntegrityError:
            stored = self._already_stored(alias, envelopes)
            if not stored:
                raise
        missing = [e for e in envelopes if e.message_id not in stored]
        added = iter(self._append_many(alias, missing) if missing else [])
        return [stored.get(e.message_id) or next(added) for e in envelopes]

    def _append_many(self, alias: str, envelopes: Sequence[Envelope]) -> list[Message]:
        by_category: dict[Category, list[int]] = defaultdict(list)
        for index, envelope in enumerate(envelopes):
            by_category[envelope.category].append(index)
        messages: list[Message | None] = [None] * len(envelopes)
        outermost = not connections[alias].in_atomic_block
        if _pipeline(alias) is not None:
            if outermost:
                return self._append_many_postgresql(
                    alias, envelopes, by_category, bounded=True
                )
            with transaction.atomic(using=alias):  # a savepoint: keep the caller's work
                return self._append_many_postgresql(
                    alias, envelopes, by_category, bounded=False
                )
        with transaction.atomic(using=alias):
            if outermost:
                _bound_transaction(alias)
            # Lock counters in one order so two batches never deadlock.
            for category in sorted(by_category):
                indexes = by_category[category]
                last = self._allocate(alias, category, len(indexes))
                first = last - len(indexes) + 1
                for offset, index in enumerate(indexes):
                    messages[index] = Message.from_envelope(
                        envelopes[index], first + offset
                    )
            stored = [m for m in messages if m is not None]
            self.using(alias).bulk_create(stored)
        return stored

    def _append_many_postgresql(
        self,
        alias: str,
        envelopes: Sequence[Envelope],
        by_category: dict[Category, list[int]],
        bounded: bool,
    ) -> list[Message]:
        """Store a batch in one round trip and one transaction (the caller's, or the
        pipeline's implicit one): the ``DB_TIMEOUT`` bounds, the creation of missing
        counters, the counters locked in category order (so two batches never deadlock),
        then one ``INSERT ... SELECT FROM unnest(...)`` that moves every counter and stores
        the rows in the order given (their ids follow it too)."""
        message_table = self.model._meta.db_table
        counter_table = CategorySequence._meta.db_table
        messages = [Message.from_envelope(e, 0) for e in envelopes]
        ordered = [category.value for category in sorted(by_category)]
        statements: list[tuple[str, Sequence[Any]]] = []
        if bounded:
            statements.extend(_timeouts_statements())
        statements.append(
            (
                f"INSERT INTO {counter_table} (category, last_sequence) "
                f"SELECT c, COALESCE((SELECT max(sequence) FROM {message_table} "
                f"WHERE category = c), 0) FROM unnest(%s::text[]) AS c "
                f"ON CONFLICT (category) DO NOTHING",
                [ordered],
            )
        )
        statements.append(
            (
                f"SELECT category FROM {counter_table} WHERE category = ANY(%s::text[]) "
                f"ORDER BY category FOR UPDATE",
                [ordered],
            )
        )
        ranks = [0] * len(envelopes)
        for indexes in by_category.values():
            for rank, index in enumerate(indexes, start=1):
                ranks[index] = rank
        statements.append(
            _insert_many_statement(
                messages,
                [e.payload_json for e in envelopes],
                ranks,
                {category.value: len(i) for category, i in by_category.items()},
            )
        )
        [rows] = _run_pipelined(alias, statements, returning=1)
        if len(rows) != len(messages):  # cannot happen: every counter exists
            raise IntegrityError(f"stored {len(rows)} of {len(messages)} messages")
        firsts = {
            category: min(sequence for _id, sequence, c in rows if c == category)
            for category in ordered
        }
        for pk, sequence, category in rows:
            index = by_category[Category(category)][sequence - firsts[category]]
            messages[index].id, messages[index].sequence = pk, sequence
        for message in messages:
            message._state.adding = False
            message._state.db = alias
        return messages

    def _already_stored(
        self, alias: str, envelopes: Sequence[Envelope]
    ) -> dict[str, Message]:
        """Return the stored rows of ``envelopes`` by message id, or {} when a stored row
        with one of their ids holds a different message (a real conflict)."""
        wanted = {e.message_id: e for e in envelopes}
        rows = self.using(alias).filter(message_id__in=list(wanted))
        stored = {m.message_id: m for m in rows}
        if any(m.stored_envelope != wanted[i] for i, m in stored.items()):
            return {}
        return stored

    def verify_latest(self, limit: int = 1000) -> dict[str, Any]:
        """Check the signatures of the newest ``limit`` messages."""
        rows = list(self.newest_first()[:limit])
        outcomes = Counter(m.integrity for m in rows)
        bad = [m.message_id for m in rows if not m.signature_valid]
        return {
            "checked": len(rows),
            "outcomes": dict(outcomes),
            "invalid": len(bad),
            "invalid_message_ids": bad[:10],
        }

    def rotate_encryption(self, batch_size: int) -> int:
        """Re-encrypt encrypted payloads with the current key, ``batch_size`` per transaction.

        The only change ever made to a stored row: the payload stays the same, so its
        signature stays valid.
        """
        done, after = 0, 0
        rows = self.get_queryset().filter(
            payload_encoding__in=codec.ENCRYPTED_ENCODINGS
        )
        while True:
            with transaction.atomic(using=self.db):
                batch = list(
                    rows.filter(pk__gt=after)
                    .order_by("pk")
                    .select_for_update()
                    .values_list("pk", "payload_blob")[:batch_size]
                )
                for pk, blob in batch:
                    if blob is None:
                        raise codec.UnreadablePayload(
                            f"message {pk} has no encrypted payload"
                        )
                    # Bypasses MessageQuerySet.update, which refuses every other change.
                    models.QuerySet.update(
                        self.get_queryset().filter(pk=pk),
                        payload_blob=codec.rotate(blob),
                    )
            done += len(batch)
            if len(batch) < batch_size:
                return done
            after = batch[-1][0]

    def _allocate(self, alias: str, category: Category, count: int) -> int:
        """Reserve ``count`` sequence numbers of ``category``; return the last one."""
        counters = CategorySequence.objects.using(alias).filter(category=category)
        if not counters.update(last_sequence=F("last_sequence") + count):
            CategorySequence.ensure(alias, category)
            counters.update(last_sequence=F("last_sequence") + count)
        return counters.values_list("last_sequence", flat=True).get()

    def _append_postgresql(
        self, alias: str, envelope: Envelope, bounded: bool
    ) -> Message:
        message_table = self.model._meta.db_table
        counter_table = CategorySequence._meta.db_table
        sql = (
            f"WITH s AS (UPDATE {counter_table} SET last_sequence = last_sequence + 1 "
            f"WHERE category = %s RETURNING last_sequence) "
            f"INSERT INTO {message_table} ({', '.join(_COLUMNS)}, sequence, payload) "
            f"SELECT {', '.join(['%s'] * len(_COLUMNS))}, s.last_sequence, %s::jsonb FROM s "
            f"RETURNING id, sequence"
        )
        # Sequence 0 is a placeholder: the statement assigns the real one.
        message = Message.from_envelope(envelope, 0)
        params = [
            envelope.category.value,
            *(getattr(message, column) for column in _COLUMNS),
            None if message.payload is None else envelope.payload_json,
        ]
        if _pipeline(alias) is not None:
            statements = [*(_timeouts_statements() if bounded else []), (sql, params)]
            [rows] = _run_pipelined(alias, statements, returning=1)
            if not rows:  # no counter row yet (a fresh or flushed database)
                CategorySequence.ensure(alias, envelope.category)
                [rows] = _run_pipelined(alias, statements, returning=1)
            row = rows[0] if rows else None
        else:
            if bounded:
                # In the same round trip: the SETs and the statement form one transaction.
                sql = _timeouts_sql() + sql
            with connections[alias].cursor() as cursor:
                row = _returned_row(cursor, sql, params)
                if row is None:  # no counter row yet (a fresh or flushed database)
                    CategorySequence.ensure(alias, envelope.category)
                    row = _returned_row(cursor, sql, params)
        assert row is not None
        message.id, message.sequence = row
        message._state.adding = False
        message._state.db = alias
        return message


def _pipeline(alias: str) -> Any | None:
    """The psycopg 3 connection of ``alias`` if it can pipeline statements, else None.

    A pipeline sends several statements in one round trip; in autocommit mode they form
    one implicit transaction, committed at its end (or rolled back entirely by an error).
    """
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    if not hasattr(raw, "pipeline"):  # psycopg 2
        return None
    import psycopg

    capabilities = getattr(psycopg, "capabilities", None)
    supported = (
        capabilities.has_pipeline()
        if capabilities is not None
        else psycopg.Pipeline.is_supported()
    )
    return raw if supported else None


def _run_pipelined(
    alias: str, statements: Sequence[tuple[str, Sequence[Any]]], returning: int
) -> list[list[tuple[Any, ...]]]:
    """Run ``statements`` in one pipeline; return the rows of the last ``returning``.

    Each statement is bound server-side, so psycopg can prepare it (Django's
    ``prepare_threshold`` option); it still goes through Django's cursor wrapper (query
    logging, execute wrappers, error translation).
    """
    import psycopg

    connection = connections[alias]
    raw = connection.connection  # connected by ``_pipeline``
    connection.validate_thread_sharing()
    logged = connection.queries_logged
    cursors = []
    try:
        with connection.wrap_database_errors, raw.pipeline():
            for sql, params in statements:
                cursor = psycopg.Cursor(raw)
                cursors.append(cursor)
                # (django-stubs types these as taking a wrapper; they take a cursor)
                wrapped = (
                    connection.make_debug_cursor(cursor)  # type: ignore[arg-type]
                    if logged
                    else connection.make_cursor(cursor)  # type: ignore[arg-type]
                )
                wrapped.execute(sql, params)
        with connection.wrap_database_errors:
            return [cursor.fetchall() for cursor in cursors[len(cursors) - returning :]]
    finally:
        for cursor in cursors:
            cursor.close()


def _timeouts_statements() -> list[tuple[str, Sequence[Any]]]:
    """The statement bounding a pipelined transaction by ``DB_TIMEOUT`` (or none).

    ``set_config(..., true)`` is ``SET LOCAL``: it lasts until the transaction ends.
    """
    timeout = conf.DB_TIMEOUT
    if not timeout:
        return []
    return [
        (
            "SELECT set_config('statement_timeout', %s, true), "
            "set_config('lock_timeout', %s, true)",
            [str(timeout), str(timeout)],
        )
    ]


#: The SQL array type that carries each column of a batch (see ``_insert_many_statement``).
_ARRAY_TYPES = {
    "message_id": "text[]",
    "category": "text[]",
    "topic": "text[]",
    "tag": "text[]",
    "payload_type": "text[]",
    "version": "int[]",
    "node": "text[]",
    "source_node": "text[]",
    "originating_node": "text[]",
    "timestamp": "timestamptz[]",
    "severity": "int[]",
    "signature": "text[]",
    "key_id": "text[]",
    "payload_encoding": "text[]",
    "payload_blob": "bytea[]",
}


def _insert_many_statement(
    messages: Sequence[Message],
    texts: Sequence[str],
    ranks: Sequence[int],
    counts: dict[str, int],
) -> tuple[str, list[Any]]:
    """One statement storing ``messages`` with the next sequences of their categories.

    Each category's counter moves by ``counts[category]`` (its row stays locked until
    commit), and the message of ``rank`` r in its category (from 1, in the order given)
    takes the r-th of those numbers. ``texts`` are the payloads as JSON text, stored as
    ``jsonb`` when not encoded. Rows are inserted in the order given.
    """
    message_table = Message._meta.db_table
    counter_table = CategorySequence._meta.db_table
    columns = list(_COLUMNS)
    # Arrays go in binary: psycopg escapes each element of a text array with a regex.
    arrays = ", ".join(f"%b::{_ARRAY_TYPES[c]}" for c in columns)
    sql = (
        f"WITH s AS (UPDATE {counter_table} AS c "
        f"SET last_sequence = c.last_sequence + n.k "
        f"FROM unnest(%s::text[], %s::int[]) AS n(category, k) "
        f"WHERE c.category = n.category RETURNING c.category, c.last_sequence, n.k) "
        f"INSERT INTO {message_table} ({', '.join(columns)}, sequence, payload) "
        f"SELECT {', '.join(f'u.{c}' for c in columns)}, "
        f"s.last_sequence - s.k + u.rank, u.payload::jsonb "
        f"FROM unnest({arrays}, %b::int[], %b::text[]) WITH ORDINALITY "
        f"AS u({', '.join(columns)}, rank, payload, ord) "
        f"JOIN s ON s.category = u.category ORDER BY u.ord "
        f"RETURNING id, sequence, category"
    )
    params: list[Any] = [list(counts), list(counts.values())]
    params.extend([getattr(m, column) for m in messages] for column in columns)
    params.append(list(ranks))
    params.append(
        [None if m.payload is None else t for m, t in zip(messages, texts, strict=True)]
    )
    return sql, params


def _timeouts_sql() -> str:
    """``SET LOCAL`` statements bounding a store transaction by ``DB_TIMEOUT`` (PostgreSQL).

    ``lock_timeout`` covers a counter row held by a stuck transaction, ``statement_timeout``
    a server too slow to answer; both end with the transaction.
    """
    timeout = conf.DB_TIMEOUT
    if not timeout:
        return ""
    return (
        f"SET LOCAL statement_timeout = {timeout}; SET LOCAL lock_timeout = {timeout}; "
    )


def _bound_transaction(alias: str) -> None:
    """Apply ``DB_TIMEOUT`` to the transaction just opened on ``alias`` (PostgreSQL only)."""
    connection = connections[alias]
    sql = _timeouts_sql()
    if connection.vendor == "postgresql" and sql:
        with connection.cursor() as cursor:
            cursor.execute(sql)


def _returned_row(cursor: Any, sql: str, params: Sequence[Any]) -> Any:
    """Execute ``sql`` and return the first row of its last result (past any SETs)."""
    cursor.execute(sql, params)
    while cursor.description is None and cursor.nextset():
        pass  # psycopg 3 stops at the first result; psycopg 2 holds only the last
    return cursor.fetchone()


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
    timestamp = models.DateTimeField(help_text="UTC, millisecond precision.")
    severity = models.PositiveSmallIntegerField(
        choices=Severity.choices,
        null=True,
        blank=True,
        help_text="Normalised severity, if any.",
    )
    sequence = models.BigIntegerField(
        help_text="Position in the category, from 1, no gaps."
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
            models.Index(fields=["severity", "id"], name="opsmsg_severity_id"),
            models.Index(fields=["payload_type", "id"], name="opsmsg_type_id"),
            models.Index(fields=["timestamp"], name="opsmsg_timestamp"),
        ]

    def __str__(self) -> str:
        return f"{self.category}#{self.sequence} {self.payload_type} on {self.topic}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableMessage("stored operational messages are immutable")
        super().save(*args, **kwargs)

    @classmethod
    def from_envelope(cls, envelope: Envelope, sequence: int) -> Message:
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
        """The message in the current shape of its payload type (upcast if older)."""
        stored = self.stored_envelope
        payload_type = get_type(stored.payload_type, "payload_type")
        if stored.version == payload_type.version:
            return stored
        payload = payload_type.upcast(stored.version, dict(stored.payload))
        return replace(stored, version=payload_type.version, payload=payload)

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON wire form (see ``envelope.WIRE_FIELDS``).

        A payload that cannot be read (no key decrypts it) is ``null``, and a message whose
        signature does not verify says ``"signature_valid": false``; neither is hidden.
        """
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
        )


class CategorySequence(models.Model):
    """The last sequence number given out in one category (a row lock serialises appends)."""

    category = models.CharField(
        max_length=16, choices=Category.choices, primary_key=True
    )
    last_sequence = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.category}: {self.last_sequence}"

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
                category=category.value, defaults={"last_sequence": last or 0}
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

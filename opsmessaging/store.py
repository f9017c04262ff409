"""The message store: appends with contiguous per-category sequences, and the reads.

``MessageManager`` (``Message.objects``) appends messages and ``MessageQuerySet`` filters
them; on PostgreSQL with psycopg 3 an append is one pipelined, prepared round trip. This
module holds the SQL; ``opsmessaging.models`` holds the tables.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import F, Q
from django.db.models.expressions import RawSQL

from opsmessaging import codec
from opsmessaging.catalogue import type_for_tag
from opsmessaging.categories import Category
from opsmessaging.conf import conf
from opsmessaging.envelope import HEADER_FIELDS, SENDER_FIELDS, Envelope
from opsmessaging.exceptions import ImmutableMessage
from opsmessaging.nodenames import NODE_FIELDS
from opsmessaging.severity import Severity

if TYPE_CHECKING:
    from opsmessaging.models import CategorySequence, Message

#: Columns written by an append, in the order of the INSERT statements below: the
#: envelope's header and sender fields, then the signature and the payload as encoded at rest.
#: A new log epoch in SQL: 16 hex characters, as ``models.new_epoch`` makes in Python.
NEW_EPOCH_SQL = "substr(md5(random()::text || clock_timestamp()::text), 1, 16)"
#: The transaction-level advisory lock held while committed messages are numbered.
SEQUENCER_LOCK = 0x6F70736D7367  # "opsmsg"

COLUMNS = (
    *HEADER_FIELDS,
    *SENDER_FIELDS,
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
        rows = self.filter(category=category, sequence__isnull=False)
        first = rows.order_by("sequence").values_list("sequence", flat=True).first()
        last = rows.order_by("-sequence").values("sequence", "timestamp").first()
        if first is None or last is None:
            return {
                "count": 0,
                "first_sequence": None,
                "last_sequence": None,
                "last_message_at": None,
            }
        last_sequence = last["sequence"]
        assert last_sequence is not None  # sequence__isnull=False
        return {
            "count": last_sequence - first + 1,
            "first_sequence": first,
            "last_sequence": last_sequence,
            "last_message_at": last["timestamp"],
        }


class MessageManager(models.Manager["Message"]):
    """Appends messages with contiguous per-category sequences, in commit order."""

    def _counters(self) -> type[CategorySequence]:
        """The counter model (``CategorySequence``), beside ``Message`` in the same app."""
        model: type[CategorySequence] = self.model._meta.apps.get_model(
            "opsmessaging", "CategorySequence"
        )
        return model

    def get_queryset(self) -> MessageQuerySet:
        rows = MessageQuerySet(self.model, using=self._db)
        alias = self._db or router.db_for_read(self.model)
        if connections[alias].vendor == "postgresql":
            # The row's version (the transaction that last wrote it): any change to a
            # stored row changes it, so a cached wire form is never one of an older row.
            table = self.model._meta.db_table
            rows = rows.annotate(row_version=RawSQL(f'"{table}".xmin::text', []))
        return rows

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
        if relay_sequenced(alias):
            if connection.in_atomic_block or _pipeline(alias) is None:
                with transaction.atomic(using=alias):  # a savepoint in the caller's
                    if not connection.in_atomic_block:
                        _bound_transaction(alias)
                    return self._append_unsequenced(alias, envelope, bounded=False)
            return self._append_unsequenced(alias, envelope, bounded=True)
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
            message = self.model.from_envelope(envelope, sequence)
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
        if relay_sequenced(alias):
            if outermost and _pipeline(alias) is not None:
                return self._append_many_unsequenced(alias, envelopes, bounded=True)
            with transaction.atomic(using=alias):
                if outermost:
                    _bound_transaction(alias)
                return self._append_many_unsequenced(alias, envelopes, bounded=False)
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
                    messages[index] = self.model.from_envelope(
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
        counter_table = self._counters()._meta.db_table
        messages = [self.model.from_envelope(e, 0) for e in envelopes]
        ordered = [category.value for category in sorted(by_category)]
        statements: list[tuple[str, Sequence[Any]]] = []
        if bounded:
            statements.extend(_timeouts_statements())
        statements.append(
            (
                f"INSERT INTO {counter_table} "
                f"(category, last_sequence, delivered_sequence, epoch) "
                f"SELECT c, m.last, m.last, {NEW_EPOCH_SQL} FROM unnest(%s::text[]) AS c, "
                f"LATERAL (SELECT COALESCE(max(sequence), 0) AS last "
                f"FROM {message_table} WHERE category = c) AS m "
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
                message_table,
                counter_table,
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

    def _append_unsequenced(
        self, alias: str, envelope: Envelope, bounded: bool
    ) -> Message:
        """Store one message without a sequence: a plain INSERT that waits for no other
        writer (the relay numbers it once its transaction has committed)."""
        message = self.model.from_envelope(envelope, None)
        sql = (
            f"INSERT INTO {self.model._meta.db_table} ({', '.join(COLUMNS)}, payload) "
            f"VALUES ({', '.join(['%s'] * len(COLUMNS))}, %s::jsonb) RETURNING id"
        )
        params = [
            *(getattr(message, column) for column in COLUMNS),
            None if message.payload is None else envelope.payload_json,
        ]
        if bounded and _pipeline(alias) is not None:
            [rows] = _run_pipelined(alias, [*_timeouts_statements(), (sql, params)], 1)
            message.id = rows[0][0]
        else:
            with connections[alias].cursor() as cursor:
                cursor.execute(sql, params)
                message.id = cursor.fetchone()[0]
        message._state.adding = False
        message._state.db = alias
        return message

    def _append_many_unsequenced(
        self, alias: str, envelopes: Sequence[Envelope], bounded: bool
    ) -> list[Message]:
        """Store a batch without sequences in one ``INSERT ... SELECT FROM unnest(...)``,
        its rows (and ids) in the order given; the relay numbers them after commit."""
        messages = [self.model.from_envelope(e, None) for e in envelopes]
        columns = list(COLUMNS)
        arrays = ", ".join(f"%b::{_ARRAY_TYPES[c]}" for c in columns)
        sql = (
            f"INSERT INTO {self.model._meta.db_table} ({', '.join(columns)}, payload) "
            f"SELECT {', '.join(f'u.{c}' for c in columns)}, u.payload::jsonb "
            f"FROM unnest({arrays}, %b::text[]) WITH ORDINALITY "
            f"AS u({', '.join(columns)}, payload, ord) ORDER BY u.ord "
            f"RETURNING id, message_id"
        )
        params: list[Any] = [[getattr(m, c) for m in messages] for c in columns]
        params.append(
            [
                None if m.payload is None else e.payload_json
                for m, e in zip(messages, envelopes, strict=True)
            ]
        )
        if _pipeline(alias) is None:  # psycopg 2, or server-side binding
            return self.using(alias).bulk_create(messages)
        statements = [*(_timeouts_statements() if bounded else []), (sql, params)]
        [rows] = _run_pipelined(alias, statements, returning=1)
        ids = {message_id: pk for pk, message_id in rows}
        for message in messages:
            message.id = ids[message.message_id]
            message._state.adding = False
            message._state.db = alias
        return messages

    def sequence_pending(self, limit: int = 1000) -> dict[str, int]:
        """Number committed messages that have no sequence yet, oldest id first.

        One transaction under a transaction-level advisory lock, so that two sequencers
        (two relays, or a relay and a process leaving) never number at once; each
        category's counter moves by the count numbered in it, so sequences stay
        contiguous. Messages of transactions still open are not visible, and are numbered
        by a later pass after they commit (a rolled-back one never is). Returns the last
        sequence given out per category numbered now ({} when none was pending).
        PostgreSQL only.
        """
        alias = router.db_for_write(self.model)
        message_table = self.model._meta.db_table
        counter_table = self._counters()._meta.db_table
        with connections[alias].cursor() as cursor:
            cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {message_table} WHERE sequence IS NULL)"
            )
            if not cursor.fetchone()[0]:
                return {}
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            _bound_transaction(alias)
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCER_LOCK])
            # A category whose counter is gone (a flushed store) starts a new log.
            cursor.execute(
                f"INSERT INTO {counter_table} "
                f"(category, last_sequence, delivered_sequence, epoch) "
                f"SELECT p.category, COALESCE(max(m.sequence), 0), "
                f"COALESCE(max(m.sequence), 0), "
                f"{NEW_EPOCH_SQL} "
                f"FROM (SELECT DISTINCT category FROM {message_table} "
                f"WHERE sequence IS NULL) AS p "
                f"LEFT JOIN {message_table} m ON m.category = p.category "
                f"GROUP BY p.category ON CONFLICT (category) DO NOTHING"
            )
            cursor.execute(
                f"WITH batch AS (SELECT id, category FROM {message_table} "
                f"WHERE sequence IS NULL ORDER BY id LIMIT %s), "
                f"counts AS (SELECT category, count(*) AS n FROM batch "
                f"GROUP BY category), "
                f"moved AS (UPDATE {counter_table} c "
                f"SET last_sequence = c.last_sequence + counts.n FROM counts "
                f"WHERE c.category = counts.category "
                f"RETURNING c.category, c.last_sequence - counts.n AS base), "
                f"ranked AS (SELECT b.id, moved.base + row_number() OVER "
                f"(PARTITION BY b.category ORDER BY b.id) AS sequence "
                f"FROM batch b JOIN moved ON moved.category = b.category) "
                f"UPDATE {message_table} m SET sequence = ranked.sequence FROM ranked "
                f"WHERE m.id = ranked.id RETURNING m.category, m.sequence",
                [limit],
            )
            last: dict[str, int] = {}
            for category, sequence in cursor.fetchall():
                last[category] = max(sequence, last.get(category, 0))
            return last

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

    def verify_latest(
        self, limit: int = 1000, categories: Collection[str] | None = None
    ) -> dict[str, Any]:
        """Check the signatures of the newest ``limit`` messages (of ``categories``)."""
        newest = self.newest_first()
        if categories is not None:
            newest = newest.filter(category__in=list(categories))
        rows = list(newest[:limit])
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
        counters = self._counters().objects.using(alias).filter(category=category)
        if not counters.update(last_sequence=F("last_sequence") + count):
            self._counters().ensure(alias, category)
            counters.update(last_sequence=F("last_sequence") + count)
        return counters.values_list("last_sequence", flat=True).get()

    def _append_postgresql(
        self, alias: str, envelope: Envelope, bounded: bool
    ) -> Message:
        message_table = self.model._meta.db_table
        counter_table = self._counters()._meta.db_table
        sql = (
            f"WITH s AS (UPDATE {counter_table} SET last_sequence = last_sequence + 1 "
            f"WHERE category = %s RETURNING last_sequence) "
            f"INSERT INTO {message_table} ({', '.join(COLUMNS)}, sequence, payload) "
            f"SELECT {', '.join(['%s'] * len(COLUMNS))}, s.last_sequence, %s::jsonb FROM s "
            f"RETURNING id, sequence"
        )
        # Sequence 0 is a placeholder: the statement assigns the real one.
        message = self.model.from_envelope(envelope, 0)
        params = [
            envelope.category.value,
            *(getattr(message, column) for column in COLUMNS),
            None if message.payload is None else envelope.payload_json,
        ]
        if _pipeline(alias) is not None:
            statements = [*(_timeouts_statements() if bounded else []), (sql, params)]
            [rows] = _run_pipelined(alias, statements, returning=1)
            if not rows:  # no counter row yet (a fresh or flushed database)
                self._counters().ensure(alias, envelope.category)
                [rows] = _run_pipelined(alias, statements, returning=1)
            row = rows[0] if rows else None
        else:
            if bounded:
                # In the same round trip: the SETs and the statement form one transaction.
                sql = _timeouts_sql() + sql
            with connections[alias].cursor() as cursor:
                row = _returned_row(cursor, sql, params)
                if row is None:  # no counter row yet (a fresh or flushed database)
                    self._counters().ensure(alias, envelope.category)
                    row = _returned_row(cursor, sql, params)
        assert row is not None
        message.id, message.sequence = row
        message._state.adding = False
        message._state.db = alias
        return message


class WireCache:
    """The wire forms of numbered messages, rendered once per process.

    A numbered stored message never changes, so its wire form (signature verified,
    payload decoded and upcast) is the same on every read while the keys are: history
    pages, the feed and replays pay for it once. Bounded (least recently used out) and
    keyed by the keys' fingerprint, so a key change renders anew.
    """

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._lock:
            wire = self._entries.get(key)
            if wire is not None:
                self._entries.move_to_end(key)
            return wire

    def put(self, key: tuple[Any, ...], wire: dict[str, Any]) -> None:
        with self._lock:
            self._entries[key] = wire
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


wire_cache = WireCache()


def relay_sequenced(alias: str) -> bool:
    """Tell whether messages stored on ``alias`` are numbered by the relay (PostgreSQL
    with ``SEQUENCING = "relay"``), not by their append."""
    return connections[alias].vendor == "postgresql" and conf.SEQUENCING == "relay"


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
    import psycopg  # psycopg 3 is optional: only PostgreSQL needs it

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
    import psycopg  # psycopg 3 is optional: only PostgreSQL needs it

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
    **dict.fromkeys(COLUMNS, "text[]"),
    "version": "int[]",
    "timestamp": "timestamptz[]",
    "severity": "int[]",
    "payload_blob": "bytea[]",
}


def _insert_many_statement(
    message_table: str,
    counter_table: str,
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
    columns = list(COLUMNS)
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

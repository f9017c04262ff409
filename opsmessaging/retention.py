"""Retention: pruning old messages in bounded batches, and where kept history starts.

Each category keeps its messages for ``RETENTION_DAYS[category]`` days. Pruning deletes
the oldest messages of a category in sequence order, at most ``RETENTION_BATCH_SIZE`` rows
per statement and transaction, so a million expired rows never lock the table at once.

Only a prefix of a category is ever deleted: pruning stops at the first message that must
be kept, even if a later one is older (timestamps come from the nodes' clocks). A message
stamped further ahead of this server's clock than ``TIMESTAMP_MAX_AHEAD`` (a node with a
fast clock, year 9999) does not stop it: it goes with the expired messages after it, so
no single row's timestamp can hold a category's retention up. So the kept
history of a category is exactly the sequences from ``first_kept_sequence(category)`` to
the last one, without holes, and a subscriber resuming from an earlier sequence can be told
that the messages before it were pruned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone

from opsmessaging.audit_trail import record_data_deletion
from opsmessaging.categories import Category, parse_category
from opsmessaging.conf import conf
from opsmessaging.models import CategorySequence, Message

logger = logging.getLogger(__name__)


def first_kept_sequence(category: Category | str) -> int:
    """Return the first sequence of ``category`` still stored.

    Every message from it to the last one is stored; those before it were pruned. When the
    category holds no message this is the sequence the next message will get, so a
    subscriber asking to resume from a sequence below it must be told "pruned" and can
    continue from it. The WebSocket and the API use this to answer a resume request.
    """
    cat = parse_category(category)
    first = (
        Message.objects.filter(category=cat)
        .order_by("sequence")
        .values_list("sequence", flat=True)
        .first()
    )
    if first is not None:
        return first
    return last_sequence(cat) + 1


def last_sequence(category: Category | str) -> int:
    """Return the last sequence given out in ``category`` (0 before the first message)."""
    cat = parse_category(category)
    last = (
        CategorySequence.objects.filter(category=cat)
        .values_list("last_sequence", flat=True)
        .first()
    )
    if last is not None:
        return last
    stored = Message.objects.filter(category=cat).aggregate(last=Max("sequence"))
    return stored["last"] or 0


def cutoff(category: Category | str, now: datetime | None = None) -> datetime | None:
    """Return the time before which ``category`` is pruned, or None if kept forever."""
    days = conf.RETENTION_DAYS.get(parse_category(category).value)
    if days is None:
        return None
    return (now or timezone.now()) - timedelta(days=days)


@dataclass(frozen=True)
class Pruned:
    """What pruning did to one category."""

    category: Category
    before: datetime
    deleted: int
    statements: int
    first_kept_sequence: int


def prune_category(
    category: Category | str,
    before: datetime,
    *,
    batch_size: int | None = None,
    dry_run: bool = False,
) -> Pruned:
    """Delete the oldest messages of ``category`` stamped before ``before``, in batches.

    Each batch reads at most ``batch_size`` rows in sequence order (an index range) and
    deletes the leading ones older than ``before`` by sequence range, in its own short
    transaction. With ``dry_run`` nothing is deleted and ``deleted`` counts what would be.
    """
    cat = parse_category(category)
    size = batch_size or conf.RETENTION_BATCH_SIZE
    if size <= 0:
        raise ValueError("batch_size must be positive")
    rows = Message.objects.filter(category=cat).order_by("sequence")
    horizon = timezone.now() + timedelta(milliseconds=conf.TIMESTAMP_MAX_AHEAD)
    deleted = statements = 0
    after = 0
    while True:
        batch = list(
            rows.filter(sequence__gt=after).values_list("id", "sequence", "timestamp")[
                :size
            ]
        )
        expired = future = 0
        for _id, _sequence, timestamp in batch:
            if timestamp < before:
                expired += future + 1
                future = 0
            elif timestamp > horizon:  # judged by the messages after it
                future += 1
            else:
                break
        if not expired:
            break
        ids = [row[0] for row in batch[:expired]]
        first, last = batch[0][1], batch[expired - 1][1]
        assert first is not None and last is not None  # sequence__gt leaves out None
        if dry_run:
            deleted += expired
        else:
            # Bounded by both ranges, so whichever index the planner picks, (category,
            # sequence) or (category, id), the statement reads only this batch's rows.
            count, _ = rows.filter(
                sequence__gte=first,
                sequence__lte=last,
                id__gte=min(ids),
                id__lte=max(ids),
            ).delete()
            deleted += count
            statements += 1
        after = last
        if expired < len(batch) or len(batch) < size:
            break
    kept_from = (after + 1) if dry_run and deleted else first_kept_sequence(cat)
    if deleted and not dry_run:
        logger.info(
            "Pruned %d %s messages before %s; history starts at #%d",
            deleted,
            cat.value,
            before.isoformat(),
            kept_from,
        )
    return Pruned(cat, before, deleted, statements, kept_from)


def prune(
    category: Category | str | None = None,
    before: datetime | None = None,
    *,
    batch_size: int | None = None,
    dry_run: bool = False,
) -> list[Pruned]:
    """Prune one category or all, by their retention or everything before ``before``.

    Categories kept forever (``RETENTION_DAYS`` None) are skipped unless ``before`` is
    given.
    """
    now = timezone.now()
    selected = [parse_category(category)] if category is not None else list(Category)
    results = []
    for cat in selected:
        limit = before if before is not None else cutoff(cat, now)
        if limit is None:
            continue
        results.append(
            prune_category(cat, limit, batch_size=batch_size, dry_run=dry_run)
        )
    return results


def apply_retention() -> list[Pruned]:
    """Prune every category by its retention; record what was deleted in the audit trail.

    When anything was deleted, records an audit ``ComplianceEvent`` ``data_deletion``
    (``opsmessaging.audit_trail.record_data_deletion``) with, per category, the count, the cutoff
    and where the kept history now starts.
    """
    pruned = [p for p in prune() if p.deleted]
    if pruned:
        record_data_deletion(
            "OPSMESSAGING['RETENTION_DAYS']",
            {
                p.category.value: {
                    "deleted": p.deleted,
                    "before": p.before,
                    "first_kept_sequence": p.first_kept_sequence,
                }
                for p in pruned
            },
            f"deleted {sum(p.deleted for p in pruned)} expired messages",
        )
    return pruned

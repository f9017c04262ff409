"""Retention: bounded prefix pruning, where kept history starts, the prune command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from opsmessaging import pubsub, relay, retention
from opsmessaging.catalogue import metrics
from opsmessaging.categories import Category
from opsmessaging.models import Message


def _metrics(ages_in_days: list[float]) -> None:
    """Store one metric per age, in this order (so sequences follow the list)."""
    now = timezone.now()
    pubsub.broadcast_batch(
        [
            metrics.performance_metric(
                "m", n, "count", timestamp=now - timedelta(days=age)
            )
            for n, age in enumerate(ages_in_days)
        ]
    )


def _sequences(category: str = "metrics") -> list[int]:
    return list(
        Message.objects.filter(category=category)
        .order_by("sequence")
        .values_list("sequence", flat=True)
    )


def _deletes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]


@pytest.mark.django_db
def test_first_kept_sequence_of_an_empty_category_is_the_next_one():
    assert retention.first_kept_sequence("audit") == 1
    pubsub.broadcast_audit_event("export", "u1", "r1", "read")
    Message.objects.filter(category="audit").delete()
    assert retention.first_kept_sequence("audit") == 2


@pytest.mark.django_db
def test_prune_by_retention_deletes_expired_messages_and_moves_the_start():
    _metrics([10, 9, 8, 1, 0])
    [pruned] = retention.prune("metrics")
    assert (pruned.deleted, pruned.first_kept_sequence) == (3, 4)
    assert _sequences() == [4, 5]
    assert retention.first_kept_sequence("metrics") == 4


@pytest.mark.django_db
def test_prune_stops_at_the_first_kept_message_so_history_has_no_holes():
    # The fourth message is old (a node's clock was behind) but follows a recent one.
    _metrics([10, 9, 1, 10, 0])
    [pruned] = retention.prune("metrics")
    assert pruned.deleted == 2
    assert _sequences() == [3, 4, 5]


@pytest.mark.django_db
def test_prune_deletes_in_bounded_batches_by_sequence_range():
    _metrics([10] * 10 + [0])
    with CaptureQueriesContext(connection) as queries:
        [pruned] = retention.prune("metrics", batch_size=3)
    deletes = _deletes(queries)
    assert (pruned.deleted, pruned.statements, len(deletes)) == (10, 4, 4)
    assert all('"sequence" >=' in sql and '"sequence" <=' in sql for sql in deletes)
    assert _sequences() == [11]


@pytest.mark.django_db
def test_dry_run_counts_and_deletes_nothing():
    _metrics([10, 10, 0])
    with CaptureQueriesContext(connection) as queries:
        [pruned] = retention.prune("metrics", dry_run=True, batch_size=2)
    assert (pruned.deleted, pruned.statements, pruned.first_kept_sequence) == (2, 0, 3)
    assert _deletes(queries) == []
    assert _sequences() == [1, 2, 3]


@pytest.mark.django_db
def test_categories_kept_forever_are_skipped_unless_a_date_is_given(settings):
    settings.OPSMESSAGING = {"RETENTION_DAYS": {"metrics": None}}
    _metrics([1000])
    assert [p.category for p in retention.prune()] == [
        c for c in Category if c is not Category.METRICS
    ]
    assert _sequences() == [1]
    [pruned] = retention.prune("metrics", before=timezone.now())
    assert pruned.deleted == 1


def test_retention_days_merge_the_user_entries_over_the_defaults(settings):
    settings.OPSMESSAGING = {"RETENTION_DAYS": {"metrics": 1, "audit": None}}
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert retention.cutoff("metrics", now) == now - timedelta(days=1)
    assert retention.cutoff("audit", now) is None
    assert retention.cutoff("security", now) == now - timedelta(days=365)
    assert retention.cutoff("diagnostics", now) == now - timedelta(days=7)


@pytest.mark.django_db
def test_prune_command_prints_what_it_deleted_and_where_history_starts():
    _metrics([10, 0])
    out = StringIO()
    call_command(
        "opsmessaging_prune",
        "--category",
        "metrics",
        "--before",
        "2099-01-01",
        stdout=out,
    )
    assert out.getvalue() == (
        "metrics: deleted 2 messages before 2099-01-01T00:00:00+00:00; "
        "kept history starts at sequence 3\n"
    )


@pytest.mark.django_db
def test_prune_command_dry_run_deletes_nothing():
    _metrics([10, 10, 0])
    out = StringIO()
    call_command("opsmessaging_prune", "--category", "metrics", "--dry-run", stdout=out)
    assert "metrics: would delete 2 messages before " in out.getvalue()
    assert out.getvalue().endswith("kept history starts at sequence 3\n")
    assert _sequences() == [1, 2, 3]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--category", "events"], "--category: 'events' is refused"),
        (["--category", "nope"], "--category: 'nope' is not an operational category"),
        (["--before", "yesterday"], "--before: 'yesterday' is not a date or datetime"),
        (["--batch-size", "0"], "--batch-size must be positive, not 0"),
    ],
)
@pytest.mark.django_db
def test_prune_command_refuses_bad_arguments_with_the_option_named(args, error):
    pubsub.broadcast_diagnostic("trace", "db", {})
    with pytest.raises(CommandError) as raised:
        call_command("opsmessaging_prune", *args)
    assert str(raised.value).startswith(error)
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_prune_of_many_rows_on_postgresql_is_bounded_per_statement():
    total, batch = 5000, 400
    now = timezone.now()
    for start in range(0, total, 1000):
        pubsub.broadcast_batch(
            [
                metrics.performance_metric(
                    "m", n, "count", timestamp=now - timedelta(days=30)
                )
                for n in range(start, start + 1000)
            ]
        )
    pubsub.broadcast_metrics("fresh", {"value": 1})
    assert relay.wait_until_numbered()  # only numbered messages are pruned
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE opsmessaging_message")
    with CaptureQueriesContext(connection) as queries:
        [pruned] = retention.prune("metrics", batch_size=batch)
    deletes = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")
    ]
    assert (pruned.deleted, pruned.statements, len(deletes)) == (total, 13, 13)
    assert _sequences() == [total + 1]
    assert retention.first_kept_sequence("metrics") == total + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_prune_statements_read_index_ranges_not_the_table_on_postgresql():
    now = timezone.now()
    pubsub.broadcast_batch(
        [
            metrics.performance_metric(
                "m", n, "count", timestamp=now - timedelta(days=30)
            )
            for n in range(2000)
        ]
    )
    assert relay.wait_until_numbered()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE opsmessaging_message")
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            retention.prune("metrics", batch_size=100)
        transaction.set_rollback(True)  # keep the rows: plan the statements on them
    statements = [q["sql"] for q in queries.captured_queries]
    read = next(sql for sql in statements if "ORDER BY" in sql)
    delete = next(sql for sql in statements if sql.startswith("DELETE"))
    for sql in (read, delete):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Seq Scan" not in plan, plan
        assert "Index Cond" in plan, plan


@pytest.mark.django_db
def test_a_message_stamped_far_in_the_future_does_not_hold_retention_up():
    far = -(datetime(9999, 1, 1, tzinfo=UTC) - timezone.now()).days
    _metrics([10, far, 9, 0])
    [pruned] = retention.prune("metrics")
    assert (pruned.deleted, pruned.first_kept_sequence) == (3, 4)
    assert _sequences() == [4]


@pytest.mark.django_db
def test_a_future_stamped_message_with_nothing_expired_after_it_is_kept():
    _metrics([10, -1, 0])
    [pruned] = retention.prune("metrics")
    assert (pruned.deleted, _sequences()) == (1, [2, 3])

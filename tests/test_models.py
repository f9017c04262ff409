"""The store: contiguous per-category sequences in commit order, immutability, the registry."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from opsmessaging import builders, pubsub
from opsmessaging.exceptions import ImmutableMessage
from opsmessaging.models import CategorySequence, Message, Node, OccurrenceWindow
from tests.concurrency import run_together
from tests.tampering import set_stored_version


@pytest.fixture
def inline_sequencing(settings) -> None:
    """For the tests of ``SEQUENCING = "inline"`` on PostgreSQL: numbered in the writer's
    transaction, holding the category's counter until commit (the relay's own guarantees
    are tested in tests/test_relay.py)."""
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "SEQUENCING": "inline"}


@pytest.mark.django_db
def test_append_recreates_a_missing_counter_and_continues_after_stored_messages():
    pubsub.broadcast_health_update("a", "healthy")
    pubsub.broadcast_health_update("b", "healthy")
    CategorySequence.objects.filter(category="health").delete()
    result = pubsub.broadcast_health_update("c", "healthy")
    assert result.message.sequence == 3
    assert CategorySequence.objects.get(category="health").last_sequence == 3


@pytest.mark.django_db
def test_stored_message_cannot_be_saved_again_or_updated():
    message = pubsub.broadcast_health_update("a", "healthy").message
    message = Message.objects.get(pk=message.pk)
    message.topic = "changed"
    with pytest.raises(ImmutableMessage):
        message.save()
    with pytest.raises(ImmutableMessage):
        Message.objects.filter(pk=message.pk).update(topic="changed")
    assert Message.objects.get(pk=message.pk).topic == "component_health"


@pytest.mark.django_db
def test_wire_form_of_a_stored_message_is_exact():
    message = pubsub.broadcast_alert(
        "disk", "error", "Disk failing", node="db1@h"
    ).message
    stored = Message.objects.get(pk=message.pk)
    data = stored.to_wire()
    assert list(data) == [
        "id",
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
        "sequence",
        "payload",
        "signature_valid",
        "sender",
        "received_by",
    ]
    assert data["signature_valid"] is True
    assert data["id"] == stored.pk
    assert data["severity"] == "error"
    assert stored.severity == 40
    assert (
        data["timestamp"]
        == stored.timestamp.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{stored.timestamp.microsecond // 1000:03d}Z"
    )
    assert stored.timestamp.microsecond % 1000 == 0
    assert str(stored) == "alerts#1 SystemAlert on disk"


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sequencing", "statement"),
    [
        ("relay", "INSERT INTO opsmessaging_message (messag"),
        ("inline", "WITH s AS (UPDATE opsmessaging_categorys"),
    ],
)
def test_postgresql_append_is_one_pipelined_transaction_in_autocommit(
    settings, sequencing, statement
):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "SEQUENCING": sequencing}
    pubsub.broadcast_health_update("warm", "healthy")
    with CaptureQueriesContext(connection) as queries:
        pubsub.broadcast_health_update("a", "healthy")
    # DB_TIMEOUT (5000 ms by default) bounds the statement: SET LOCAL, in one pipeline
    # (one round trip, one implicit transaction) with the statement itself. With the
    # relay it is a plain INSERT: no counter, nothing that waits for another writer.
    assert [q["sql"][:40] for q in queries] == [
        "SELECT set_config('statement_timeout', $",
        statement,
    ]
    with connection.cursor() as cursor:  # SET LOCAL ended with that transaction
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == ("0",)
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("0",)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sequencing", "statement"),
    [("relay", "INSERT INTO opsme"), ("inline", "WITH s AS (UPDATE")],
)
def test_postgresql_append_uses_prepared_statements_when_psycopg_prepares(
    settings, sequencing, statement
):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "SEQUENCING": sequencing}
    connection.ensure_connection()
    connection.connection.prepare_threshold = 0  # prepare on first use
    try:
        for component in ("a", "b"):
            pubsub.broadcast_health_update(component, "healthy")
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            prepared = sorted(row[0][:17] for row in cursor.fetchall())
    finally:
        connection.close()
    assert statement in prepared


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.usefixtures("inline_sequencing")
def test_concurrent_broadcasters_get_gapless_unique_sequences_per_category():
    threads, per_thread = 8, 40
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(index: int) -> None:
        try:
            start.wait()
            for n in range(per_thread):
                if (index + n) % 2:
                    result = pubsub.broadcast_health_update(f"c{index}", "healthy")
                else:
                    result = pubsub.broadcast_alert(f"a{index}", "info", f"m{n}")
                assert result.status == "ok", result.error
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    for category in ("health", "alerts"):
        sequences = list(
            Message.objects.filter(category=category)
            .order_by("sequence")
            .values_list("sequence", flat=True)
        )
        assert sequences == list(range(1, len(sequences) + 1))
        assert CategorySequence.objects.get(category=category).last_sequence == len(
            sequences
        )
    assert Message.objects.count() == threads * per_thread


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.usefixtures("inline_sequencing")
def test_sequence_order_is_commit_order():
    # A transaction holding sequence N blocks N+1 until it commits, so a reader never sees
    # N+1 without N (no gap to skip over while catching up).
    from django.db import transaction

    holding = threading.Event()
    release = threading.Event()
    seen_while_held: list[list[int]] = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                pubsub.broadcast_health_update("slow", "healthy")
                holding.set()
                release.wait(5)
        finally:
            connections.close_all()

    def fast_writer() -> None:
        try:
            pubsub.broadcast_health_update("fast", "healthy")
        finally:
            connections.close_all()

    slow = threading.Thread(target=slow_writer)
    slow.start()
    assert holding.wait(5)
    fast = threading.Thread(target=fast_writer)
    fast.start()
    fast.join(0.5)
    seen_while_held.append(
        list(
            Message.objects.filter(category="health").values_list("sequence", flat=True)
        )
    )
    release.set()
    slow.join()
    fast.join()
    assert seen_while_held == [[]]
    rows = list(
        Message.objects.filter(category="health")
        .order_by("sequence")
        .values_list("sequence", "payload__component")
    )
    assert rows == [(1, "slow"), (2, "fast")]


@pytest.mark.django_db
def test_node_heartbeat_registers_and_connected_names_exclude_self_and_stale_nodes():
    Node.heartbeat("web1@a", role="web")
    Node.heartbeat("web2@b", role="web")
    stale = Node.heartbeat("worker@c", role="worker")
    Node.objects.filter(pk=stale.pk).update(
        last_heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert Node.objects.connected_names(exclude="web1@a") == ["web2@b"]
    node = Node.objects.get(name="web1@a")
    assert (node.role, node.status, node.started_at is not None) == (
        "web",
        "healthy",
        True,
    )


@pytest.mark.django_db
def test_cluster_context_lists_connected_nodes_from_the_registry(settings):
    from opsmessaging.helpers import cluster_context

    settings.OPSMESSAGING = {"NODE_NAME": "web1@a"}
    Node.heartbeat("web1@a")
    Node.heartbeat("web2@b")
    assert cluster_context() == {
        "node_name": "web1@a",
        "connected_nodes": ["web2@b"],
        "cluster_size": 2,
        "node_type": "combined_node",
    }


@pytest.mark.django_db
def test_distinct_values_lists_nodes_and_topics_of_a_category():
    pubsub.broadcast_health_update("a", "healthy", node="n2@h")
    pubsub.broadcast_health_update("a", "healthy", node="n1@h", topic="x:health")
    pubsub.broadcast_alert("t", "info", "m", node="n1@h")
    assert Message.objects.distinct_values("node") == ["n1@h", "n2@h"]
    assert Message.objects.distinct_values("topic", category="health") == [
        "component_health",
        "x:health",
    ]
    with pytest.raises(ValueError):
        Message.objects.distinct_values("topic")


@pytest.mark.django_db
def test_a_stored_v1_component_health_is_read_in_the_v2_shape():
    from dataclasses import replace

    from opsmessaging.catalogue import health
    from opsmessaging.envelope import Envelope

    current = Envelope.from_payload(
        health.component_health(
            "store_worker", "n1", "healthy", details={"store_id": "main_store"}
        )
    )
    v1_payload = {
        k: v for k, v in current.payload.items() if k != "store_id"
    }  # ExESDBGater's struct
    stored = Message.objects.append(replace(current, version=1, payload=v1_payload))
    message = Message.objects.get(pk=stored.pk)
    assert (message.version, message.stored_envelope.payload) == (1, v1_payload)
    wire = message.to_wire()
    assert wire["version"] == 2
    assert wire["payload"] == {**v1_payload, "store_id": "main_store"}
    assert wire["signature_valid"] is True  # signed as stored, in its own version


def test_upcast_refuses_unknown_versions():
    from opsmessaging.catalogue import health
    from opsmessaging.exceptions import InvalidMessage

    assert health.ComponentHealth.version == 2
    assert health.ComponentHealth.upcast(1, {"details": {}})["store_id"] is None
    with pytest.raises(InvalidMessage):
        health.ComponentHealth.upcast(3, {})


# --- OccurrenceWindow: counts shared by every process -----------------------------------


@pytest.mark.django_db
def test_occurrence_window_counts_and_crosses_the_threshold_once():
    seen = [OccurrenceWindow.objects.record("k", 60_000, 2) for _ in range(4)]
    assert [s.count for s in seen] == [1, 2, 3, 4]
    assert [s.is_threshold_crossed for s in seen] == [False, True, False, False]
    assert len({s.first_seen_at for s in seen}) == 1
    assert seen[0].first_seen_at == seen[0].last_seen_at
    row = OccurrenceWindow.objects.get(key="k")
    assert (row.count, row.is_alerted) == (4, True)


@pytest.mark.django_db
def test_occurrence_window_opens_a_new_window_when_the_old_one_ended():
    def add(name):
        return lambda details: {"names": [*details.get("names", []), name]}

    OccurrenceWindow.objects.record("k", 60_000, 1, add("a"))
    OccurrenceWindow.objects.filter(key="k").update(
        window_started_at=timezone.now() - timedelta(seconds=61)
    )
    seen = OccurrenceWindow.objects.record("k", 60_000, 1, add("b"))
    assert (seen.count, seen.is_threshold_crossed, seen.details) == (
        1,
        True,
        {"names": ["b"]},
    )


@pytest.mark.django_db
def test_occurrence_window_keeps_keys_apart():
    OccurrenceWindow.objects.record("a", 60_000, 5)
    OccurrenceWindow.objects.record("a", 60_000, 5)
    OccurrenceWindow.objects.record("b", 60_000, 5)
    assert list(OccurrenceWindow.objects.values_list("key", "count")) == [
        ("a", 2),
        ("b", 1),
    ]
    assert str(OccurrenceWindow.objects.get(key="a")) == "a: 2"


@pytest.mark.django_db
def test_component_status_record_returns_only_changes():
    from opsmessaging.models import ComponentStatus

    assert ComponentStatus.record("n@h", "db", "healthy") == (None, "healthy")
    assert ComponentStatus.record("n@h", "db", "healthy") is None
    assert ComponentStatus.record("n@h", "db", "degraded") == ("healthy", "degraded")
    assert ComponentStatus.record("m@h", "db", "degraded") == (None, "degraded")
    row = ComponentStatus.objects.get(node="n@h", component="db")
    assert row.status == "degraded"
    assert row.checked_at >= row.changed_at


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_component_status_change_is_returned_to_one_of_concurrent_recorders():
    from opsmessaging.models import ComponentStatus

    ComponentStatus.record("n@h", "db", "healthy")
    changes = run_together(6, lambda: ComponentStatus.record("n@h", "db", "unhealthy"))
    assert [c for c in changes if c is not None] == [("healthy", "unhealthy")]


@pytest.mark.django_db
def test_alive_nodes_exclude_failed_stopped_and_silent_ones(settings):
    settings.OPSMESSAGING = {"HEARTBEAT_INTERVAL": 1000, "NODE_FAILURE_THRESHOLD": 2}
    for name in ("a@h", "b@h", "c@h", "d@h"):
        Node.heartbeat(name)
    Node.objects.filter(name="b@h").update(status=Node.Status.FAILED)
    Node.objects.filter(name="c@h").update(status=Node.Status.STOPPED)
    Node.objects.filter(name="d@h").update(
        last_heartbeat_at=timezone.now() - timedelta(seconds=2.5)
    )
    assert list(Node.objects.alive().values_list("name", flat=True)) == ["a@h"]


def _envelopes(*kinds: str) -> list:
    """Envelopes of health ("h"), alerts ("a") and security ("s") messages, in order."""
    from opsmessaging.catalogue import security

    built = []
    for index, kind in enumerate(kinds):
        if kind == "h":
            built.append(builders.health_update(f"c{index}", "healthy"))
        elif kind == "a":
            built.append(builders.alert("disk", "info", f"m{index}", {}))
        else:
            built.append(
                pubsub.envelope_for(
                    security.auth_event(f"u{index}", "login_success", "password")
                )
            )
    return built


def _stored(category: str) -> list[tuple[int, str]]:
    return list(
        Message.objects.filter(category=category)
        .order_by("sequence")
        .values_list("sequence", "message_id")
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.usefixtures("inline_sequencing")
def test_postgresql_append_many_numbers_mixed_categories_in_the_order_given():
    pubsub.broadcast_health_update("before", "healthy")
    envelopes = _envelopes("h", "a", "h", "s", "a", "h")
    with CaptureQueriesContext(connection) as queries:
        messages = Message.objects.append_many(envelopes)
    # One pipeline: the bounds, the missing counters, the counters locked in category
    # order, one INSERT for the whole batch.
    assert [q["sql"][:40] for q in queries] == [
        "SELECT set_config('statement_timeout', $",
        "INSERT INTO opsmessaging_categorysequenc",
        "SELECT category FROM opsmessaging_catego",
        "WITH s AS (UPDATE opsmessaging_categorys",
    ]
    assert "ORDER BY category FOR UPDATE" in queries[2]["sql"]
    assert [m.message_id for m in messages] == [e.message_id for e in envelopes]
    # Ids follow the order given, across categories.
    assert [m.pk for m in messages] == sorted(m.pk for m in messages)
    assert list(
        Message.objects.filter(pk__in=[m.pk for m in messages])
        .order_by("pk")
        .values_list("message_id", flat=True)
    ) == [e.message_id for e in envelopes]
    assert [(m.category, m.sequence) for m in messages] == [
        ("health", 2),
        ("alerts", 1),
        ("health", 3),
        ("security", 1),
        ("alerts", 2),
        ("health", 4),
    ]
    ids = [e.message_id for e in envelopes]
    assert _stored("health")[1:] == [(2, ids[0]), (3, ids[2]), (4, ids[5])]
    assert _stored("alerts") == [(1, ids[1]), (2, ids[4])]
    assert _stored("security") == [(1, ids[3])]
    for message in messages:
        stored = Message.objects.get(pk=message.pk)
        assert (stored.sequence, stored.message_id) == (
            message.sequence,
            message.message_id,
        )
        assert stored.stored_envelope == envelopes[messages.index(message)]
        assert stored.integrity == "secured"
    assert Message.objects.get(category="security").payload_encoding == "fernet"
    assert dict(CategorySequence.objects.values_list("category", "last_sequence")) == {
        "health": 4,
        "alerts": 2,
        "security": 1,
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.usefixtures("inline_sequencing")
def test_postgresql_append_many_is_all_or_nothing_across_categories():
    envelopes = _envelopes("a", "h", "h")
    from dataclasses import replace

    # The same message id twice with other content: the INSERT fails, after the counters
    # were created; nothing is stored and no counter moves.
    clash = replace(envelopes[2], message_id=envelopes[1].message_id)
    with pytest.raises(IntegrityError):
        Message.objects.append_many([envelopes[0], envelopes[1], clash])
    assert Message.objects.count() == 0
    assert list(CategorySequence.objects.values_list("last_sequence", flat=True)) in (
        [],
        [0],
        [0, 0],
    )
    stored = Message.objects.append_many(envelopes)
    assert [m.sequence for m in stored] == [1, 1, 2]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.usefixtures("inline_sequencing")
def test_postgresql_append_many_again_returns_the_stored_rows():
    envelopes = _envelopes("h", "a", "h")
    first = Message.objects.append_many(envelopes[:2])
    again = Message.objects.append_many(envelopes)
    assert [m.pk for m in again[:2]] == [m.pk for m in first]
    assert [(m.category, m.sequence) for m in again] == [
        ("health", 1),
        ("alerts", 1),
        ("health", 2),
    ]
    assert Message.objects.count() == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.usefixtures("inline_sequencing")
def test_postgresql_append_many_recreates_missing_counters_after_stored_messages():
    Message.objects.append_many(_envelopes("h", "h", "a"))
    CategorySequence.objects.all().delete()
    stored = Message.objects.append_many(_envelopes("a", "h"))
    assert [(m.category, m.sequence) for m in stored] == [("alerts", 2), ("health", 3)]
    assert dict(CategorySequence.objects.values_list("category", "last_sequence")) == {
        "health": 3,
        "alerts": 2,
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.usefixtures("inline_sequencing")
def test_postgresql_append_many_in_a_rolled_back_transaction_stores_nothing():
    from django.db import transaction

    with transaction.atomic():
        stored = Message.objects.append_many(_envelopes("h", "a"))
        assert [m.sequence for m in stored] == [1, 1]
        with CaptureQueriesContext(connection) as queries:
            Message.objects.append_many(_envelopes("h"))
        # The caller's transaction is not bounded by DB_TIMEOUT (nor committed).
        assert not any("set_config" in q["sql"] for q in queries)
        transaction.set_rollback(True)
    assert Message.objects.count() == 0
    assert [m.sequence for m in Message.objects.append_many(_envelopes("h"))] == [1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.usefixtures("inline_sequencing")
def test_postgresql_append_many_without_db_timeout_sends_no_bounds(settings):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "DB_TIMEOUT": 0}
    with CaptureQueriesContext(connection) as queries:
        Message.objects.append_many(_envelopes("h", "a"))
    assert [q["sql"][:11] for q in queries] == [
        "INSERT INTO",
        "SELECT cate",
        "WITH s AS (",
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.usefixtures("inline_sequencing")
def test_postgresql_concurrent_mixed_batches_never_deadlock_and_number_without_gaps():
    counter = iter(range(1000))

    def work() -> list[str]:
        # Each thread gives the categories in another order.
        first = next(counter) % 2 == 0
        statuses = []
        for n in range(10):
            events = [
                ("alert", "disk", "info", f"m{n}", {}),
                ("health_update", f"c{n}", "healthy"),
                ("log_entry", "info", f"line {n}"),
            ]
            batch = pubsub.broadcast_batch(events if first else events[::-1])
            statuses.append((batch.success, batch.errors))
        return statuses

    results = run_together(6, work)
    assert [s for statuses in results for s in statuses] == [(3, 0)] * 60
    for category in ("alerts", "health", "logging"):
        sequences = [s for s, _ in _stored(category)]
        assert sequences == list(range(1, 61))


@pytest.mark.django_db
def test_a_row_in_an_unknown_payload_version_reads_with_a_null_payload():
    result = pubsub.broadcast_alert("disk", "warning", "from a newer node")
    set_stored_version(result.message, 99)
    wire = Message.objects.get(pk=result.message.pk).to_wire()
    assert (wire["payload"], wire["version"], wire["signature_valid"]) == (
        None,
        99,
        False,
    )


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_node_filters_over_the_three_node_fields_read_indexes_on_postgresql():
    from django.db.models import Q

    from opsmessaging.categories import Category
    from opsmessaging.subscriptions import Subscription

    pubsub.broadcast_batch(
        [("alert", "disk", "info", f"m{n}", {}) for n in range(3000)], node="bulk@a"
    )
    for field in ("node", "source_node", "originating_node"):
        pubsub.broadcast_alert(
            "disk", "info", "rare", **{field: "rare@b"}
        ).wait_for_sequence()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE opsmessaging_message")
    websocket = Message.objects.filter(
        Subscription(Category.ALERTS, None, node="rare@b").query(), sequence__gt=0
    ).order_by("sequence")[:500]
    api = Message.objects.filter(
        Q(node="rare@b") | Q(source_node="rare@b") | Q(originating_node="rare@b")
    ).order_by("-id")[:50]
    for queryset in (websocket, api):
        plan = _plan(queryset)
        assert "Seq Scan" not in plan, plan
        assert len(list(queryset)) == 3

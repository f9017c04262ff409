from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Permission, User
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from opsmessaging import alerting, pubsub
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.helpers import parse_timestamp, this_node
from opsmessaging.models import Message
from tests.concurrency import run_together


def _alert(
    severity: str = "critical", title: str = "Disk full", **opts: Any
) -> Message:
    result = pubsub.broadcast_alert("disk_full", severity, title, **opts)
    assert result.ok and result.message is not None
    return result.message


def _alert_id(message: Message) -> str:
    return str(message.to_wire()["payload"]["alert_id"])


def _staff(*codenames: str, name: str = "operator") -> User:
    user = User.objects.create_user(name, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="opsmessaging", codename__in=codenames
        )
    )
    return User.objects.get(pk=user.pk)


@pytest.fixture
def operator(db: None) -> User:
    return _staff("view_message", "add_message")


def _acks() -> list[dict[str, Any]]:
    return [
        m.to_wire()["payload"]
        for m in Message.objects.filter(payload_type="AlertAck").order_by("id")
    ]


@pytest.mark.django_db
def test_alert_board_lists_alerts_that_require_an_acknowledgement_and_have_none() -> (
    None
):
    first, second = _alert(title="first"), _alert("error", title="second")

    board = alerting.alert_board()

    assert [m.pk for m in board.open] == [second.pk, first.pk]
    assert board.acknowledged == []


@pytest.mark.django_db
def test_alert_board_leaves_out_alerts_that_need_no_acknowledgement() -> None:
    _alert("warning")
    _alert("info")
    explicit = _alert("warning", requires_ack=True)

    assert [m.pk for m in alerting.alert_board().open] == [explicit.pk]


@pytest.mark.django_db
def test_alert_board_lists_acknowledged_alerts_newest_acknowledgement_first(
    operator: User,
) -> None:
    first, second, still_open = _alert(), _alert(), _alert()
    ack_second = alerting.acknowledge(_alert_id(second), operator).message
    ack_first = alerting.acknowledge(_alert_id(first), operator).message

    board = alerting.alert_board()

    assert [m.pk for m in board.open] == [still_open.pk]
    assert [(i.alert.pk, i.ack.pk) for i in board.acknowledged] == [
        (first.pk, ack_first.pk),
        (second.pk, ack_second.pk),
    ]


@pytest.mark.django_db
def test_alert_board_searches_only_the_newest_open_alerts_scan_alerts(
    settings: Any,
) -> None:
    oldest = _alert()
    newer = [_alert(), _alert()]
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "OPEN_ALERTS_SCAN": 2}

    open_ids = [m.pk for m in alerting.alert_board().open]

    assert open_ids == [newer[1].pk, newer[0].pk]
    assert oldest.pk not in open_ids


@pytest.mark.django_db
def test_alert_board_costs_two_queries_however_many_alerts(operator: User) -> None:
    for _ in range(30):
        alerting.acknowledge(_alert_id(_alert()), operator)
    _alert()

    with CaptureQueriesContext(connection) as captured:
        board = alerting.alert_board()

    assert len(board.open) == 1
    assert len(captured.captured_queries) == 2
    alerts_sql, acks_sql = (q["sql"] for q in captured.captured_queries)
    assert "LIMIT 1000" in alerts_sql
    assert "SystemAlert" in alerts_sql
    assert "AlertAck" in acks_sql


@pytest.mark.postgres
@pytest.mark.django_db
def test_alert_board_queries_are_index_range_scans() -> None:
    _alert()
    with CaptureQueriesContext(connection) as captured:
        alerting.alert_board()
    sqls = [q["sql"] for q in captured.captured_queries]

    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table: ask for the plan
        plans = []
        for sql in sqls:
            cursor.execute("EXPLAIN " + sql)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
        cursor.execute("RESET enable_seqscan")

    alerts_plan, acks_plan = plans
    assert "Index Scan Backward using opsmsg_type_id" in alerts_plan, alerts_plan
    assert "Index Cond: ((payload_type)::text = 'SystemAlert'::text)" in alerts_plan
    # A range of the same index: the acknowledgements after the oldest alert read.
    assert "opsmsg_type_id" in acks_plan, acks_plan
    assert (
        "Index Cond: (((payload_type)::text = 'AlertAck'::text) AND (id > " in acks_plan
    )


@pytest.mark.django_db
def test_acknowledge_broadcasts_an_alert_ack_with_who_when_and_note(
    operator: User,
) -> None:
    alert = _alert()
    before = datetime.now(UTC).replace(microsecond=0)

    result = alerting.acknowledge(_alert_id(alert), operator, "  on it  ")

    after = datetime.now(UTC)
    assert result.ok
    wire = result.message.to_wire()
    assert (wire["category"], wire["topic"], wire["payload_type"], wire["node"]) == (
        "alerts",
        "acknowledgements",
        "AlertAck",
        this_node(),
    )
    payload = wire["payload"]
    assert {
        k: payload[k] for k in ("alert_id", "ack_by", "ack_note", "resolution")
    } == {
        "alert_id": _alert_id(alert),
        "ack_by": "operator",
        "ack_note": "on it",
        "resolution": None,
    }
    assert before <= parse_timestamp(payload["ack_timestamp"]) <= after


@pytest.mark.django_db
def test_acknowledge_without_a_note_stores_no_note(operator: User) -> None:
    alerting.acknowledge(_alert_id(_alert()), operator)

    assert _acks()[0]["ack_note"] is None


@pytest.mark.django_db
def test_acknowledge_accepts_the_stored_alert_itself(operator: User) -> None:
    alert = _alert()

    alerting.acknowledge(alert, operator, "from the admin")

    assert [(a["alert_id"], a["ack_note"]) for a in _acks()] == [
        (_alert_id(alert), "from the admin")
    ]


@pytest.mark.django_db
def test_acknowledge_refuses_an_unknown_alert_id(operator: User) -> None:
    _alert()

    with pytest.raises(InvalidMessage) as raised:
        alerting.acknowledge("0123456789abcdef", operator)

    assert raised.value.errors == {
        "alert_id": ["no alert '0123456789abcdef' among the newest 1000 alerts"]
    }
    assert _acks() == []


@pytest.mark.django_db
def test_acknowledge_refuses_an_alert_that_needs_no_acknowledgement(
    operator: User,
) -> None:
    alert = _alert("warning")

    with pytest.raises(InvalidMessage) as raised:
        alerting.acknowledge(_alert_id(alert), operator)

    assert raised.value.errors == {
        "alert_id": [f"alert '{_alert_id(alert)}' does not require an acknowledgement"]
    }
    assert _acks() == []


@pytest.mark.django_db
def test_acknowledge_refuses_an_alert_acknowledged_already(operator: User) -> None:
    alert = _alert()
    first = alerting.acknowledge(_alert_id(alert), operator).message
    other = _staff("view_message", "add_message", name="second")

    with pytest.raises(InvalidMessage) as raised:
        alerting.acknowledge(_alert_id(alert), other)

    stamp = first.to_wire()["timestamp"]
    assert raised.value.errors == {
        "alert_id": [
            f"alert '{_alert_id(alert)}' was acknowledged by 'operator' at {stamp}"
        ]
    }
    assert len(_acks()) == 1


@pytest.mark.django_db
def test_acknowledge_refuses_a_message_that_is_not_an_alert(operator: User) -> None:
    log = pubsub.broadcast_log_entry("error", "disk full").message

    with pytest.raises(InvalidMessage) as raised:
        alerting.acknowledge(log, operator)

    assert raised.value.errors == {
        "alert_id": [f"message {log.message_id} is not a readable SystemAlert"]
    }


@pytest.mark.django_db
def test_acknowledge_refuses_a_note_longer_than_the_limit(operator: User) -> None:
    alert = _alert()

    with pytest.raises(InvalidMessage) as raised:
        alerting.acknowledge(_alert_id(alert), operator, "x" * 1001)

    assert raised.value.errors == {
        "ack_note": ["must be text of at most 1000 characters"]
    }
    assert _acks() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "codenames", [(), ("view_message",), ("add_message",)], ids=["none", "view", "add"]
)
def test_acknowledge_needs_the_permissions_to_view_and_broadcast_alerts(
    codenames: tuple[str, ...],
) -> None:
    alert = _alert()

    with pytest.raises(PermissionDenied):
        alerting.acknowledge(_alert_id(alert), _staff(*codenames))

    assert _acks() == []


@pytest.mark.django_db
def test_acknowledge_refuses_anonymous_users() -> None:
    with pytest.raises(PermissionDenied):
        alerting.acknowledge(_alert_id(_alert()), AnonymousUser())


@pytest.mark.django_db
def test_acknowledge_stores_nothing_when_broadcasting_is_disabled(
    operator: User,
) -> None:
    alert = _alert()
    pubsub.disable()

    result = alerting.acknowledge(_alert_id(alert), operator)

    assert (result.status, result.message) == ("disabled", None)
    assert _acks() == []


@pytest.mark.django_db
def test_acknowledge_works_on_a_fresh_database_without_an_alerts_counter(
    operator: User,
) -> None:
    from opsmessaging.models import CategorySequence

    alert = _alert()
    CategorySequence.objects.filter(category="alerts").delete()

    result = alerting.acknowledge(_alert_id(alert), operator)

    assert result.ok
    assert result.message.sequence == alert.sequence + 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_acknowledgements_of_one_alert_store_one_alert_ack() -> None:
    users = [
        _staff("view_message", "add_message", name=f"operator{n}") for n in range(4)
    ]
    rounds = []
    for _ in range(5):
        alert_id = _alert_id(_alert())
        turn = iter(users)

        def work(alert_id: str = alert_id, turn: Any = turn) -> str:
            try:
                alerting.acknowledge(alert_id, next(turn))
            except InvalidMessage:
                return "refused"
            return "acknowledged"

        rounds.append(sorted(run_together(4, work)))

    assert rounds == [["acknowledged", "refused", "refused", "refused"]] * 5
    assert len(_acks()) == 5

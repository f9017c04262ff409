"""Acknowledgements through the API: only as the authenticated user, once, with the
permissions of ``alerting.acknowledge`` (issue 15, item 2)."""

from __future__ import annotations

import pytest

from opsmessaging.models import Message
from tests.api.conftest import URL, alert, client_for, make_user

pytestmark = pytest.mark.django_db

ACKS = "AlertAck"


@pytest.fixture
def operator():
    """May see and broadcast alerts: may acknowledge them."""
    return client_for(make_user("view_message", "add_message", name="operator"))


def acks() -> list[dict]:
    return [
        m.to_wire()["payload"]
        for m in Message.objects.filter(payload_type=ACKS).order_by("id")
    ]


def ack_body(alert_id: str, **payload) -> dict:
    return {"type": ACKS, "payload": {"alert_id": alert_id, **payload}}


def test_an_api_acknowledgement_is_made_as_the_authenticated_user(operator):
    alert("disk full")
    response = operator.post(
        URL + "messages/", ack_body("a-disk-full", ack_note="on it"), format="json"
    )
    assert response.status_code == 201
    [ack] = acks()
    assert (ack["alert_id"], ack["ack_by"], ack["ack_note"]) == (
        "a-disk-full",
        "operator",
        "on it",
    )
    assert response.json()["payload"] == ack


def test_an_api_acknowledgement_in_another_name_is_refused(operator):
    alert("disk full")
    response = operator.post(
        URL + "messages/", ack_body("a-disk-full", ack_by="alice"), format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "payload.ack_by": ["Must be the authenticated user ('operator'), or left out."]
    }
    assert acks() == []


def test_an_api_acknowledgement_needs_the_permission_to_see_alerts():
    writer = client_for(make_user("add_message", name="writer"))
    alert("disk full")
    response = writer.post(URL + "messages/", ack_body("a-disk-full"), format="json")
    assert response.status_code == 403
    assert acks() == []


def test_an_alert_is_acknowledged_once_through_the_api(operator):
    alert("disk full")
    first = operator.post(URL + "messages/", ack_body("a-disk-full"), format="json")
    second = operator.post(URL + "messages/", ack_body("a-disk-full"), format="json")
    assert (first.status_code, second.status_code) == (201, 400)
    [reason] = second.json()["payload.alert_id"]
    assert reason.startswith("alert 'a-disk-full' was acknowledged by 'operator' at ")
    assert len(acks()) == 1


def test_an_api_acknowledgement_of_an_unknown_alert_is_a_400(operator):
    response = operator.post(URL + "messages/", ack_body("a-nope"), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["payload.alert_id"]
    assert acks() == []


def test_an_api_acknowledgement_refuses_node_fields_and_server_fields(operator):
    alert("disk full")
    body = {
        **ack_body("a-disk-full", ack_timestamp="2026-01-01T00:00:00.000Z"),
        "node": "web-a@prod",
    }
    response = operator.post(URL + "messages/", body, format="json")
    assert response.status_code == 400
    assert sorted(response.json()) == ["node", "payload.ack_timestamp"]
    assert acks() == []


def test_a_batch_acknowledgement_is_made_as_the_authenticated_user(operator):
    alert("disk full")
    alert("cpu hot")
    events = [ack_body("a-disk-full"), ack_body("a-cpu-hot", ack_by="operator")]
    response = operator.post(URL + "messages/batch/", {"events": events}, format="json")
    assert response.status_code == 201
    assert [(a["alert_id"], a["ack_by"]) for a in acks()] == [
        ("a-disk-full", "operator"),
        ("a-cpu-hot", "operator"),
    ]


def test_a_batch_acknowledgement_in_another_name_stores_nothing(operator):
    alert("disk full")
    alert("cpu hot")
    events = [ack_body("a-disk-full"), ack_body("a-cpu-hot", ack_by="alice")]
    response = operator.post(URL + "messages/batch/", {"events": events}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "events[1].payload.ack_by": [
            "Must be the authenticated user ('operator'), or left out."
        ]
    }
    assert acks() == []


def test_a_batch_cannot_acknowledge_an_alert_twice(operator):
    alert("disk full")
    events = [ack_body("a-disk-full"), ack_body("a-disk-full")]
    response = operator.post(URL + "messages/batch/", {"events": events}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "events[1].payload.alert_id": [
            "alert 'a-disk-full' is acknowledged twice in this batch"
        ]
    }
    assert acks() == []


def test_a_batch_cannot_acknowledge_an_acknowledged_alert(operator):
    alert("disk full")
    assert (
        operator.post(
            URL + "messages/", ack_body("a-disk-full"), format="json"
        ).status_code
        == 201
    )
    response = operator.post(
        URL + "messages/batch/", {"events": [ack_body("a-disk-full")]}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["events[0].payload.alert_id"]
    assert len(acks()) == 1

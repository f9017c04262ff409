"""The sender of API broadcasts: the authenticated user and the receiving node, signed;
node fields only with ``override_message_node`` (issue 15, item 6)."""

from __future__ import annotations

import pytest
from django.db import connection

from opsmessaging import pubsub
from opsmessaging.models import Message
from opsmessaging.nodenames import this_node
from tests.api.conftest import URL, client_for, make_user

pytestmark = pytest.mark.django_db

HEALTH = {
    "type": "ComponentHealth",
    "payload": {"component": "db", "status": "healthy"},
}


@pytest.fixture
def plain_writer():
    """May broadcast, but not choose node fields."""
    return client_for(make_user("add_message", name="plain"))


def test_an_api_message_records_its_sender_and_receiving_node(plain_writer):
    response = plain_writer.post(URL + "messages/", HEALTH, format="json")
    assert response.status_code == 201
    [message] = Message.objects.all()
    wire = message.to_wire()
    assert (wire["sender"], wire["received_by"]) == ("plain", this_node())
    assert (wire["node"], wire["source_node"]) == (this_node(), this_node())
    assert response.json()["sender"] == "plain"
    assert message.integrity == "secured"


def test_the_sender_is_signed(plain_writer):
    plain_writer.post(URL + "messages/", HEALTH, format="json")
    [message] = Message.objects.all()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE opsmessaging_message SET sender = %s WHERE id = %s",
            ["alice", message.pk],
        )
    assert Message.objects.get(pk=message.pk).integrity == "invalid_signature"


def test_node_fields_through_the_api_need_the_override_permission(plain_writer):
    body = {**HEALTH, "node": "web-a@prod"}
    response = plain_writer.post(URL + "messages/", body, format="json")
    assert response.status_code == 403
    assert "override_message_node" in response.json()["detail"]
    batch = plain_writer.post(
        URL + "messages/batch/",
        {"events": [HEALTH, {**HEALTH, "originating_node": "web-a@prod"}]},
        format="json",
    )
    assert batch.status_code == 403
    assert not Message.objects.filter(payload_type="ComponentHealth").exists()


def test_the_override_permission_sets_node_fields_and_still_records_the_sender():
    client = client_for(make_user("add_message", "override_message_node", name="ops"))
    body = {**HEALTH, "node": "web-a@prod"}
    assert client.post(URL + "messages/", body, format="json").status_code == 201
    wire = Message.objects.get().to_wire()
    assert (wire["node"], wire["sender"], wire["received_by"]) == (
        "web-a@prod",
        "ops",
        this_node(),
    )


def test_a_batch_records_the_sender_of_every_event(plain_writer):
    response = plain_writer.post(
        URL + "messages/batch/", {"events": [HEALTH, HEALTH]}, format="json"
    )
    assert response.status_code == 201
    assert [m.to_wire()["sender"] for m in Message.objects.order_by("id")] == [
        "plain",
        "plain",
    ]


def test_a_message_made_on_the_node_has_no_sender_and_verifies():
    message = pubsub.broadcast_health_update("db", "healthy").message
    stored = Message.objects.get(pk=message.pk)
    assert (stored.to_wire()["sender"], stored.to_wire()["received_by"]) == (
        None,
        None,
    )
    assert stored.integrity == "secured"

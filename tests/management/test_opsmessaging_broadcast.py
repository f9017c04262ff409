"""``manage.py opsmessaging_broadcast``."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from opsmessaging.management.commands.opsmessaging_broadcast import parse_fields
from opsmessaging.models import Message

pytestmark = pytest.mark.django_db

ALERT = ["severity=critical", "category=system", "title=disk full"]


def broadcast(*args: str) -> str:
    out = StringIO()
    call_command("opsmessaging_broadcast", *args, stdout=out, no_color=True)
    return out.getvalue()


def test_broadcast_stores_the_message_and_says_so():
    output = broadcast("alerts", "SystemAlert", *ALERT, "--topic", "disks")
    message = Message.objects.get()
    assert output == (
        f"Broadcast SystemAlert as alerts#1 on disks ({message.message_id})\n"
    )
    assert (message.payload["title"], message.severity) == ("disk full", 50)


def test_broadcast_json_prints_the_stored_wire_form():
    output = broadcast(
        "health",
        "ComponentHealth",
        "component=db",
        "status=degraded",
        'details:={"lag": 3}',
        "--node",
        "db1@app-2",
        "--json",
    )
    assert json.loads(output) == Message.objects.get().to_wire()
    assert json.loads(output)["payload"]["details"] == {"lag": 3}
    assert json.loads(output)["node"] == "db1@app-2"


def test_parse_fields_reads_text_and_json():
    assert parse_fields(["a=1", "b:=1", "c:=[true, null]", "d=x=y", "e="]) == {
        "a": "1",
        "b": 1,
        "c": [True, None],
        "d": "x=y",
        "e": "",
    }


@pytest.mark.parametrize(
    ("pairs", "error"),
    [
        (["title"], "'title' is not a field: write key=text or key:=<JSON>"),
        (["=x"], "'=x' is not a field"),
        (["a=1", "a=2"], "'a' is given twice"),
        (["a:={"], "a:= is not JSON"),
    ],
)
def test_parse_fields_refuses_bad_pairs(pairs, error):
    with pytest.raises(CommandError, match=error.replace("[", r"\[")):
        parse_fields(pairs)


def test_broadcast_lists_every_bad_field():
    with pytest.raises(CommandError) as caught:
        broadcast("alerts", "SystemAlert", "severity=loud")
    assert str(caught.value) == (
        "nothing was broadcast:\n"
        "  payload.severity: 'loud' is not allowed; choose one of: info, warning, "
        "error, critical\n"
        "  payload.category: this field is required\n"
        "  payload.title: this field is required"
    )
    assert Message.objects.count() == 0


def test_broadcast_refuses_a_category_that_is_not_the_types():
    with pytest.raises(CommandError) as caught:
        broadcast("health", "SystemAlert", *ALERT)
    assert str(caught.value) == (
        "nothing was broadcast:\n"
        "  category: SystemAlert belongs to category 'alerts', not 'health'"
    )


def test_broadcast_refuses_an_unknown_type():
    with pytest.raises(CommandError, match="payload_type: unknown payload type 'Nope'"):
        broadcast("alerts", "Nope")


def test_broadcast_refuses_an_unknown_category():
    with pytest.raises(CommandError, match="invalid choice: 'events'"):
        broadcast("events", "SystemAlert", *ALERT)


def test_broadcast_says_when_broadcasting_is_disabled():
    with (
        override_settings(OPSMESSAGING={"PUBSUB_INTEGRATION": False}),
        pytest.raises(CommandError, match="broadcasting is disabled"),
    ):
        broadcast("alerts", "SystemAlert", *ALERT)

"""Fan-out's event loop: one per process, also in processes forked from one that sent."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from opsmessaging import fanout, pubsub
from opsmessaging.models import Message


async def _nothing() -> None:
    return None


def _send_from_child(results: multiprocessing.Queue) -> None:
    try:
        fanout.runner.run(_nothing(), 2)
    except TimeoutError as exc:
        results.put(f"TimeoutError: {exc}")
    else:
        results.put("ran")


def test_a_process_forked_after_sending_runs_coroutines_on_a_loop_of_its_own():
    fanout.runner.run(_nothing(), 2)  # the parent's background loop now exists
    context = multiprocessing.get_context("fork")  # as Celery's prefork pool does
    results = context.Queue()
    child = context.Process(target=_send_from_child, args=(results,))
    child.start()
    child.join(10)
    assert (child.exitcode, results.get(timeout=1)) == (0, "ran")


# --- the event: each message rendered once, batched per group -----------------------------


class RecordingLayer:
    """A channel layer that records what is sent to which group."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group: str, event: dict) -> None:
        self.sent.append((group, event))


def _stored_alerts(monkeypatch, *topics: str) -> list[Message]:
    monkeypatch.setattr(fanout, "deliver", lambda messages, epoch=None: None)
    messages = [
        pubsub.broadcast_alert(topic, "warning", f"m{i} é", {"i": i}).message
        for i, topic in enumerate(topics)
    ]
    monkeypatch.undo()
    return messages


def _expected_live(message: Message) -> dict:
    # The wire form of the message as broadcast (PostgreSQL's jsonb would reorder the
    # payload's keys of a reloaded one): what the previous fan-out sent.
    wire = message.to_wire()
    return {
        "sequence": wire["sequence"],
        "topic": wire["topic"],
        "node": wire["node"],
        "source_node": wire["source_node"],
        "originating_node": wire["originating_node"],
        "severity": 30,
        "wire": json.dumps(wire, separators=(",", ":"), ensure_ascii=False),
    }


@pytest.mark.django_db
def test_live_message_carries_the_matching_fields_and_the_wire_json(monkeypatch):
    [message] = _stored_alerts(monkeypatch, "disk")
    live = fanout.live_message(message.to_wire())
    assert live == _expected_live(message)
    assert json.loads(live["wire"]) == message.to_wire()
    assert "m0 é" in live["wire"]  # UTF-8 text, not \u escapes, as the endpoint sends


@pytest.mark.django_db
def test_a_delivery_sends_one_event_per_group_with_its_messages_in_order(monkeypatch):
    first, second, third = _stored_alerts(monkeypatch, "disk", "cpu", "disk")
    layer = RecordingLayer()
    monkeypatch.setattr(fanout, "get_layer", lambda: layer)
    assert fanout.deliver([first, second, third]) is None

    def event(*messages):
        return {
            "type": "opsmessaging.messages",
            "category": "alerts",
            "messages": [_expected_live(m) for m in messages],
        }

    assert layer.sent == [
        ("opsmessaging.alerts", event(first, second, third)),
        ("opsmessaging.alerts.t.disk", event(first, third)),
        ("opsmessaging.alerts.t.cpu", event(second)),
    ]


@pytest.mark.django_db
def test_a_large_delivery_is_split_into_events_of_at_most_event_batch(monkeypatch):
    messages = _stored_alerts(monkeypatch, "disk", "disk", "disk", "disk", "disk")
    monkeypatch.setattr(fanout, "EVENT_BATCH", 2)
    events = fanout.events_for(messages)
    assert [
        (group, [m["sequence"] for m in event["messages"]]) for group, event in events
    ] == [
        ("opsmessaging.alerts", [1, 2]),
        ("opsmessaging.alerts", [3, 4]),
        ("opsmessaging.alerts", [5]),
        ("opsmessaging.alerts.t.disk", [1, 2]),
        ("opsmessaging.alerts.t.disk", [3, 4]),
        ("opsmessaging.alerts.t.disk", [5]),
    ]


@pytest.mark.django_db
def test_a_message_without_severity_has_none(monkeypatch):
    monkeypatch.setattr(fanout, "deliver", lambda messages, epoch=None: None)
    message = pubsub.broadcast_health_update("store_worker", "healthy").message
    monkeypatch.undo()
    wire = message.to_wire()
    assert (wire["severity"], fanout.live_message(wire)["severity"]) == (None, None)

"""``opsmessaging.client.subscribe`` against scripted servers: holes, duplicates, epochs,
close codes, refusals. The live scenarios are in ``test_live.py``."""

from __future__ import annotations

import asyncio
import json

import pytest

from opsmessaging.client import (
    EpochChanged,
    NotAuthenticated,
    Reset,
    SubscriptionRefused,
    asubscribe,
    subscribe,
)
from opsmessaging.client.subscribe import Unreachable, websocket_url
from tests.client.support import ScriptedServer, message, subscribed, take


def sequences(messages) -> list[int]:
    return [m.sequence for m in messages]


def fast(server: ScriptedServer, **options):
    return subscribe(
        server.url,
        token="k",
        category="alerts",
        reconnect_delay=0.01,
        max_reconnect_delay=0.05,
        **options,
    )


def test_the_subscribe_frame_carries_category_since_filters_and_the_token():
    def script(ws, n):
        assert ws.request.headers["Authorization"] == "Token k"
        server.receive(ws)
        ws.send(subscribed(7, 5))
        ws.send(message(6))
        ws.recv(timeout=5)

    with ScriptedServer(script) as server:
        got = take(fast(server, since=5, filters={"severity": "warning"}), 1)
    assert sequences(got) == [6]
    assert server.received == [
        {
            "action": "subscribe",
            "category": "alerts",
            "since": 5,
            "filters": {"severity": "warning"},
        }
    ]


def test_a_hole_resubscribes_from_the_last_sequence_and_drops_frames_until_answered():
    def script(ws, n):
        server.receive(ws)
        ws.send(subscribed(0, 0))
        for sequence in (1, 2, 4, 5):  # 3 lost; 4 and 5 of the old subscription
            ws.send(message(sequence))
        server.receive(ws)
        ws.send(message(6))  # still before the answer: dropped
        ws.send(subscribed(5, 2))
        for sequence in (3, 4, 5, 6):
            ws.send(message(sequence))
        ws.recv(timeout=5)

    with ScriptedServer(script) as server:
        subscription = fast(server)
        got = take(subscription, 6)
    assert sequences(got) == [1, 2, 3, 4, 5, 6]
    assert [f.get("since") for f in server.received] == [0, 2]
    assert subscription.resubscriptions == 1


def test_duplicates_are_dropped():
    def script(ws, n):
        server.receive(ws)
        ws.send(subscribed(0, 0))
        for sequence in (1, 2, 2, 1, 3):
            ws.send(message(sequence))
        ws.recv(timeout=5)

    with ScriptedServer(script) as server:
        assert sequences(take(fast(server), 3)) == [1, 2, 3]


def test_with_filters_sequences_may_have_holes():
    def script(ws, n):
        server.receive(ws)
        ws.send(subscribed(0, 0))
        for sequence in (2, 5, 9):
            ws.send(message(sequence))
        ws.recv(timeout=5)

    with ScriptedServer(script) as server:
        got = take(fast(server, filters={"node": "web1@a"}), 3)
    assert sequences(got) == [2, 5, 9]
    assert len(server.received) == 1


@pytest.mark.parametrize("kind", ["behind", "resume"])
def test_behind_and_resume_resubscribe_from_the_last_sequence_handled(kind):
    def script(ws, n):
        server.receive(ws)
        ws.send(subscribed(0, 0))
        ws.send(message(1))
        ws.send(message(2))
        ws.send(
            json.dumps(
                {"type": kind, "category": "alerts", "topic": None, "last_sequence": 2}
            )
        )
        server.receive(ws)
        ws.send(subscribed(3, 2))
        ws.send(message(3))
        ws.recv(timeout=5)

    with ScriptedServer(script) as server:
        assert sequences(take(fast(server), 3)) == [1, 2, 3]
    assert [f["since"] for f in server.received] == [0, 2]


@pytest.mark.parametrize("code", [4503, 1011, 1001])
def test_a_closed_connection_reconnects_and_resumes_from_the_last_sequence(code):
    def script(ws, n):
        frame = server.receive(ws)
        ws.send(subscribed(n * 2, frame["since"]))
        ws.send(message(frame["since"] + 1))
        ws.send(message(frame["since"] + 2))
        ws.close(code)

    with ScriptedServer(script) as server:
        subscription = fast(server)
        got = take(subscription, 6)
    assert sequences(got) == [1, 2, 3, 4, 5, 6]
    assert [f["since"] for f in server.received] == [0, 2, 4]
    assert subscription.reconnects == 2


def test_since_none_starts_at_the_servers_last_sequence():
    def script(ws, n):
        frame = server.receive(ws)
        ws.send(subscribed(41, frame.get("since")))
        ws.send(message(frame.get("since", 41) + 1))
        ws.close(1011)  # the resume continues from 42, which it now knows

    with ScriptedServer(script) as server:
        subscription = fast(server, since=None)
        assert sequences(take(subscription, 2)) == [42, 43]
    assert "since" not in server.received[0]
    assert server.received[1]["since"] == 42


def _epoch_script(server, second_answer):
    def script(ws, n):
        frame = server.receive(ws)
        if n == 1:
            ws.send(subscribed(2, 0, epoch="e1"))
            ws.send(message(1))
            ws.send(message(2))
            ws.close(1011)
            return
        if n == 2:
            second_answer(ws, frame)
        else:
            ws.send(subscribed(1, frame["since"], epoch="e2"))
            ws.send(message(1))
        ws.recv(timeout=5)

    return script


def _epoch_changed_error(ws, frame):
    ws.send(json.dumps({"type": "error", "code": "epoch_changed", "detail": "reset"}))


def _new_epoch_in_subscribed(ws, frame):
    ws.send(subscribed(1, frame["since"], epoch="e2"))
    ws.send(message(3))  # of the new epoch at the old position: never handed out


@pytest.mark.parametrize("answer", [_epoch_changed_error, _new_epoch_in_subscribed])
def test_an_epoch_change_raises_epoch_changed_without_a_hook(answer):
    server = ScriptedServer(lambda ws, n: None)
    server.script = _epoch_script(server, answer)
    got = []
    with server, pytest.raises(EpochChanged) as raised:
        got.extend(fast(server))
    assert sequences(got) == [1, 2]
    assert server.received[1] == {
        "action": "subscribe",
        "category": "alerts",
        "since": 2,
        "epoch": "e1",
    }
    assert raised.value.reset.previous_epoch == "e1"
    assert raised.value.reset.last_sequence == 2


@pytest.mark.parametrize("answer", [_epoch_changed_error, _new_epoch_in_subscribed])
def test_an_epoch_change_calls_on_reset_and_continues_where_it_says(answer):
    resets: list[Reset] = []

    def on_reset(reset: Reset) -> int:
        resets.append(reset)
        return 0

    server = ScriptedServer(lambda ws, n: None)
    server.script = _epoch_script(server, answer)
    with server:
        subscription = fast(server, on_reset=on_reset)
        got = take(subscription, 3)
    assert sequences(got) == [1, 2, 1]
    assert len(resets) == 1
    assert resets[0].previous_epoch == "e1"
    assert resets[0].last_sequence == 2
    assert server.received[-1]["since"] == 0
    assert subscription.epoch == "e2"


def test_a_subscribed_frame_without_epoch_is_unknown_not_a_change():
    def script(ws, n):
        frame = server.receive(ws)
        ws.send(subscribed(1, frame["since"]))  # a server without epochs
        ws.send(message(frame["since"] + 1))
        ws.close(1011)

    with ScriptedServer(script) as server:
        subscription = fast(server, since=4, epoch="e1")
        assert sequences(take(subscription, 2)) == [5, 6]
    assert [f["epoch"] for f in server.received] == ["e1", "e1"]
    assert subscription.epoch == "e1"


def test_close_4401_raises_not_authenticated():
    def script(ws, n):
        ws.send(
            json.dumps({"type": "error", "code": "not_authenticated", "detail": "no"})
        )
        ws.close(4401)

    with ScriptedServer(script) as server, pytest.raises(NotAuthenticated):
        list(fast(server))
    assert server.connections == 1


def test_a_refused_subscription_raises_with_the_code():
    def script(ws, n):
        server.receive(ws)
        ws.send(json.dumps({"type": "error", "code": "forbidden", "detail": "no"}))
        ws.recv(timeout=5)

    with ScriptedServer(script) as server, pytest.raises(SubscriptionRefused) as raised:
        list(fast(server))
    assert raised.value.code == "forbidden"


def test_store_unavailable_subscribes_again_after_a_delay():
    def script(ws, n):
        server.receive(ws)
        ws.send(
            json.dumps({"type": "error", "code": "store_unavailable", "detail": "x"})
        )
        server.receive(ws)
        ws.send(subscribed(1, 0))
        ws.send(message(1))
        ws.recv(timeout=5)

    with ScriptedServer(script) as server:
        assert sequences(take(fast(server), 1)) == [1]
    assert len(server.received) == 2


def test_max_attempts_gives_up_with_unreachable():
    with pytest.raises(Unreachable):
        list(
            subscribe(
                "ws://127.0.0.1:9/",
                token="k",
                category="alerts",
                reconnect_delay=0.01,
                max_attempts=3,
            )
        )


def test_the_url_may_be_the_sites():
    assert websocket_url("https://ops.example") == "wss://ops.example/ws/opsmessaging/"
    assert websocket_url("ws://h:1/custom/") == "ws://h:1/custom/"


def test_asubscribe_resumes_across_a_closed_connection_with_an_async_hook():
    def script(ws, n):
        frame = server.receive(ws)
        ws.send(subscribed(9, frame["since"], epoch="e1"))
        ws.send(message(frame["since"] + 1))
        ws.close(4503)

    async def consume():
        subscription = asubscribe(
            server.url, token="k", category="alerts", reconnect_delay=0.01
        )
        got = []
        async for item in subscription:
            got.append(item.sequence)
            if len(got) == 3:
                await subscription.close()
        return got, subscription

    with ScriptedServer(script) as server:
        got, subscription = asyncio.run(asyncio.wait_for(consume(), 20))
    assert got == [1, 2, 3]
    assert [f["since"] for f in server.received] == [0, 1, 2]
    assert [f.get("epoch") for f in server.received] == [None, "e1", "e1"]
    assert subscription.state == "closed"

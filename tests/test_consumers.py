"""The WebSocket endpoint through a real ASGI server (uvicorn) and real WebSocket clients.

Run on the embedded in-process channel layer (SQLite pass) and on channels_redis against
the real Redis (services pass, where REDIS_URL selects it in the demo settings).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission, User
from django.db import OperationalError, connections
from django.test import override_settings
from websockets.exceptions import ConnectionClosed

from opsmessaging import fanout, pubsub, relay, subscriptions
from opsmessaging.models import CategorySequence, Message
from tests.live import (
    live_asgi_server,
    receive,
    receive_until,
    run_in_other_process,
    send,
    subscribe,
    ws_connect,
)
from tests.tampering import set_stored_version

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _live_delivery_only(request: pytest.FixtureRequest, settings) -> None:
    """Turn the connections' store check (``WS_POLL_INTERVAL``) off unless a test is
    about it (marked ``store_poll``): what the others receive came live, or by the
    replay or gap filling they ask for, never because a poll found it."""
    if request.node.get_closest_marker("store_poll") is None:
        settings.OPSMESSAGING = {**settings.OPSMESSAGING, "WS_POLL_INTERVAL": 0}


@pytest.fixture
def server() -> Iterator[str]:
    with live_asgi_server() as address:
        yield address


@pytest.fixture
def admin() -> User:
    return User.objects.create_superuser("admin", password="pw")


@pytest.fixture
def viewer() -> User:
    user = User.objects.create_user("viewer", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="view_message"))
    return user


def seq(message: Message) -> int:
    """The sequence of a stored message, once the relay has numbered it."""
    return relay.wait_for_sequences([message.pk], 10)[message.pk]


def wire(message: Message) -> dict:
    return Message.objects.get(pk=message.pk).to_wire()


def collect(ws, count: int, timeout: float = 10) -> list[dict]:
    frames = []
    deadline = time.monotonic() + timeout
    while len(frames) < count:
        frame = receive(ws, max(0.1, deadline - time.monotonic()))
        assert frame["type"] == "message", frame
        frames.append(frame)
    return frames


def test_anonymous_connection_gets_an_error_frame_and_close_4401(server):
    with ws_connect(server) as ws:
        assert receive(ws) == {
            "type": "error",
            "code": "not_authenticated",
            "detail": "Log in (session cookie) or send 'Authorization: Token <key>'.",
        }
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4401


def test_foreign_origin_is_refused(server, admin):
    with pytest.raises(Exception) as refused:
        ws_connect(server, admin, additional_headers={"Origin": "https://evil.example"})
    assert "403" in str(refused.value)


def test_the_connection_s_own_origin_is_accepted(server, admin):
    with ws_connect(
        server, admin, additional_headers={"Origin": f"http://{server}"}
    ) as ws:
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}


@pytest.mark.parametrize(
    "origin",
    ["http://127.0.0.1:9999", "https://{server}", "http://127.0.0.1", "null"],
)
def test_an_origin_of_another_port_or_scheme_on_an_allowed_host_is_refused(
    server, admin, origin
):
    with pytest.raises(Exception) as refused:
        ws_connect(
            server, admin, additional_headers={"Origin": origin.format(server=server)}
        )
    assert "403" in str(refused.value)


def test_an_origin_declared_in_csrf_trusted_origins_is_accepted(server, admin):
    trusted = ["https://ops.example.com", "https://*.example.org"]
    with override_settings(CSRF_TRUSTED_ORIGINS=trusted):
        for origin in ("https://ops.example.com", "https://a.b.example.org"):
            with ws_connect(server, admin, additional_headers={"Origin": origin}) as ws:
                send(ws, {"action": "ping"})
                assert receive(ws) == {"type": "pong"}
        with pytest.raises(Exception) as refused:
            ws_connect(
                server, admin, additional_headers={"Origin": "http://ops.example.com"}
            )
    assert "403" in str(refused.value)


def test_live_delivery_carries_the_exact_wire_form(server, admin):
    with ws_connect(server, admin) as ws:
        assert subscribe(ws, category="health") == {
            "type": "subscribed",
            "category": "health",
            "topic": None,
            "since": None,
            "last_sequence": 0,
            "epoch": CategorySequence.epoch_of("health"),
        }
        result = pubsub.broadcast_health_update(
            "store_worker", "healthy", {"store_id": "main_store"}
        )
        assert result.status == "ok"
        frame = receive_until(ws, "message")
    assert frame == {
        "type": "message",
        "subscription": {"category": "health", "topic": None},
        "message": wire(result.message),
    }
    assert frame["message"]["payload"]["details"] == {"store_id": "main_store"}


def test_topic_subscription_gets_only_its_topic(server, admin):
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="health", topic="cluster:health")
        pubsub.broadcast_health_update("c", "healthy")
        pubsub.broadcast_alert("cluster", "warning", "not health")
        cluster = pubsub.broadcast_cluster_health(
            ["n1"], ["n2"], "node_failure"
        ).message
        pubsub.broadcast_health_update("d", "degraded")
        frame = receive_until(ws, "message")
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}
    assert frame["message"]["sequence"] == seq(cluster)
    assert frame["message"]["topic"] == "cluster:health"


def test_filters_by_node_and_minimum_severity(server, admin):
    with ws_connect(server, admin) as ws:
        subscribe(
            ws, category="alerts", filters={"node": "web2@h", "severity": "error"}
        )
        pubsub.broadcast_alert("a", "critical", "other node", node="web1@h")
        pubsub.broadcast_alert("b", "warning", "too mild", node="web2@h")
        wanted = pubsub.broadcast_alert("c", "error", "this one", node="web2@h").message
        frame = receive_until(ws, "message")
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}
    assert frame["message"]["message_id"] == wanted.message_id


def test_subscribing_to_security_needs_its_permission(server, viewer):
    with ws_connect(server, viewer) as ws:
        send(ws, {"action": "subscribe", "category": "security"})
        assert receive(ws) == {
            "type": "error",
            "code": "forbidden",
            "detail": "you may not view the 'security' category",
        }
        subscribe(ws, category="health")
        pubsub.broadcast_security_event(
            "auth_event",
            user_id="a",
            event_type="login_failure",
            auth_method="password",
        )
        health = pubsub.broadcast_health_update("c", "healthy").message
        assert receive_until(ws, "message")["message"]["sequence"] == seq(health)


def test_events_and_unknown_categories_are_refused(server, admin):
    with ws_connect(server, admin) as ws:
        send(ws, {"action": "subscribe", "category": "events"})
        frame = receive(ws)
        assert frame["code"] == "unknown_category"
        assert "application domain events are out of scope" in frame["detail"]
        send(ws, {"action": "subscribe", "category": "orders"})
        assert receive(ws)["code"] == "unknown_category"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        (json.dumps({"action": "dance"}), "unknown_action"),
        (
            json.dumps({"action": "subscribe", "category": "health", "since": -1}),
            "invalid_since",
        ),
        (
            json.dumps({"action": "subscribe", "category": "health", "since": "x"}),
            "invalid_since",
        ),
        (
            json.dumps({"action": "subscribe", "category": "health", "topic": "a b"}),
            "invalid_topic",
        ),
        (
            json.dumps(
                {"action": "subscribe", "category": "health", "filters": {"colour": 1}}
            ),
            "invalid_filters",
        ),
        (
            json.dumps(
                {
                    "action": "subscribe",
                    "category": "health",
                    "filters": {"severity": "huge"},
                }
            ),
            "invalid_filters",
        ),
        (json.dumps({"action": "unsubscribe", "category": "health"}), "not_subscribed"),
        (json.dumps({"action": "ping", "pad": "x" * 20_000}), "frame_too_large"),
    ],
)
def test_bad_frames_get_an_error_frame_and_the_connection_stays_healthy(
    server, admin, frame, code
):
    with ws_connect(server, admin) as ws:
        ws.send(frame)
        error = receive(ws)
        assert (error["type"], error["code"]) == ("error", code)
        assert error["detail"]
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}


def test_binary_frames_are_refused(server, admin):
    with ws_connect(server, admin) as ws:
        ws.send(b"\x00\x01")
        assert receive(ws)["code"] == "invalid_frame"
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}


def test_unsubscribe_stops_delivery(server, admin):
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="health")
        send(ws, {"action": "unsubscribe", "category": "health"})
        assert receive(ws) == {
            "type": "unsubscribed",
            "category": "health",
            "topic": None,
        }
        pubsub.broadcast_health_update("c", "healthy")
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}


def test_since_replays_stored_messages_then_continues_live(server, admin):
    stored = [
        pubsub.broadcast_alert(f"t{i}", "info", f"m{i}").message for i in range(5)
    ]
    with ws_connect(server, admin) as ws:
        frame = subscribe(ws, category="alerts", since=2)
        assert (frame["since"], frame["last_sequence"]) == (2, 5)
        replayed = collect(ws, 3)
        live = pubsub.broadcast_alert("t5", "info", "m5").message
        [after] = collect(ws, 1)
    assert [f["message"] for f in replayed] == [wire(m) for m in stored[2:]]
    assert after["message"]["sequence"] == seq(live) == 6


def test_a_lost_delivery_is_filled_from_the_store(server, admin, monkeypatch):
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts")
        [lost] = stored_only(
            monkeypatch,
            lambda: pubsub.broadcast_alert("lost", "info", "never fanned out"),
        )
        later = pubsub.broadcast_alert("later", "info", "fanned out").message
        frames = collect(ws, 2)
    assert [f["message"]["sequence"] for f in frames] == [seq(lost), seq(later)]


def _broadcast_continuously(count: int, done: threading.Event) -> None:
    try:
        for i in range(count):
            assert pubsub.broadcast_alert(f"t{i % 3}", "info", f"m{i}").status == "ok"
            time.sleep(0.002)
    finally:
        connections.close_all()
        done.set()


def test_resume_across_a_disconnect_during_continuous_broadcasting_has_no_gap_or_duplicate(
    server, admin
):
    total = 300
    done = threading.Event()
    producer = threading.Thread(target=_broadcast_continuously, args=(total, done))
    producer.start()
    sequences: list[int] = []
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts", since=0)
        sequences += [f["message"]["sequence"] for f in collect(ws, 60)]
    assert not done.is_set(), (
        "the producer finished before the disconnect; nothing was proved"
    )
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts", since=sequences[-1])
        sequences += [
            f["message"]["sequence"]
            for f in collect(ws, total - len(sequences), timeout=30)
        ]
        producer.join(30)
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}
    assert sequences == list(range(1, total + 1))


def test_a_slow_client_is_told_it_fell_behind_and_resumes_without_loss(server, admin):
    # Random, so permessage-deflate cannot shrink it: 200 of these overflow every buffer.
    big = {"blob": base64.b64encode(os.urandom(45_000)).decode()}
    total = 200
    with override_settings(OPSMESSAGING={"WS_BUFFER_SIZE": 5}):
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        host, port = server.split(":")
        raw.connect((host, int(port)))
        with ws_connect(server, admin, sock=raw, max_queue=1) as ws:
            subscribe(ws, category="diagnostics")
            for i in range(total):
                assert (
                    pubsub.broadcast_diagnostic("dump", "c", {**big, "i": i}).status
                    == "ok"
                )
            sequences = []
            while True:
                frame = receive(ws, 10)
                if frame["type"] == "behind":
                    break
                sequences.append(frame["message"]["sequence"])
            assert frame["last_sequence"] == sequences[-1]
            assert frame["category"] == "diagnostics"
            assert len(sequences) < total
            subscribe(ws, category="diagnostics", since=frame["last_sequence"])
            sequences += [
                f["message"]["sequence"]
                for f in collect(ws, total - len(sequences), timeout=30)
            ]
    assert sequences == list(range(1, total + 1))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _private_redis() -> tuple[subprocess.Popen[bytes], int]:
    """Start a redis-server of this test's own on a free port."""
    assert shutil.which("redis-server"), "redis-server is needed for this test"
    port = _free_port()
    return _start_redis(port), port


def _redis_layers(port: int) -> dict:
    """CHANNEL_LAYERS for the pub/sub layer on the private redis-server at ``port``."""
    return {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{port}/0"]},
        }
    }


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)


@pytest.mark.redis
def test_redis_outage_keeps_storing_and_a_resuming_client_gets_everything(admin):
    redis, port = _private_redis()
    layers = _redis_layers(port)
    try:
        with override_settings(CHANNEL_LAYERS=layers), live_asgi_server() as address:
            sequences: list[int] = []
            with ws_connect(address, admin) as ws:
                subscribe(ws, category="alerts", since=0)
                for i in range(20):
                    assert (
                        pubsub.broadcast_alert("before", "info", f"m{i}").status == "ok"
                    )
                sequences += [f["message"]["sequence"] for f in collect(ws, 20)]
                redis.kill()
                redis.wait()
                failed_before = fanout.delivery_stats()["failed"]
                for i in range(20):
                    # Stored: the broadcast never waits for the layer, the relay does.
                    result = pubsub.broadcast_alert("during", "info", f"m{i}")
                    assert (result.status, result.error) == ("ok", None)
                    assert result.message is not None and result.message.pk is not None
                deadline = time.monotonic() + 10
                while fanout.delivery_stats()["failed"] == failed_before:
                    assert time.monotonic() < deadline, "the relay's failure is counted"
                    time.sleep(0.05)
                assert relay.status()["failures"] >= 1
            assert Message.objects.filter(category="alerts").count() == 40
            redis = _start_redis(port)
            with ws_connect(address, admin) as ws:
                subscribe(ws, category="alerts", since=sequences[-1])
                sequences += [f["message"]["sequence"] for f in collect(ws, 20)]
                for i in range(10):
                    assert (
                        pubsub.broadcast_alert("after", "info", f"m{i}").status == "ok"
                    )
                sequences += [f["message"]["sequence"] for f in collect(ws, 10)]
    finally:
        redis.kill()
        redis.wait()
    assert sequences == list(range(1, 51))


def test_a_message_broadcast_by_another_process_arrives_live(server, admin):
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts")
        output = run_in_other_process(
            "from opsmessaging import pubsub; "
            "print(pubsub.broadcast_alert('remote', 'warning', 'from elsewhere').message.message_id)"
        )
        frame = receive_until(ws, "message", timeout=5)
    assert frame["message"]["message_id"] == output.strip().splitlines()[-1]
    assert frame["message"]["payload"]["title"] == "from elsewhere"


def test_a_drf_token_authenticates_a_non_browser_client(server, admin):
    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=admin).key
    with ws_connect(server, additional_headers={"Authorization": f"Token {key}"}) as ws:
        assert subscribe(ws, category="alerts")["type"] == "subscribed"
        sent = pubsub.broadcast_alert("token", "info", "for a token client").message
        assert receive_until(ws, "message")["message"]["message_id"] == sent.message_id


def test_a_bad_token_is_closed_with_4401(server):
    with ws_connect(server, additional_headers={"Authorization": "Token nope"}) as ws:
        assert receive(ws)["code"] == "not_authenticated"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4401


def test_resuming_from_pruned_history_says_where_it_starts(server, admin):
    for i in range(5):
        pubsub.broadcast_alert(f"t{i}", "info", f"m{i}")
    assert relay.wait_until_numbered()
    Message.objects.filter(category="alerts", sequence__lte=3).delete()  # retention
    with ws_connect(server, admin) as ws:
        frame = subscribe(ws, category="alerts", since=1)
        assert frame["pruned"] == {"first_available_sequence": 4}
        assert [f["message"]["sequence"] for f in collect(ws, 2)] == [4, 5]


# --- channel layer failures: resume frames and close 4503 --------------------------------


def _until_closed(ws, timeout: float = 10) -> tuple[list[dict], int]:
    """Return the frames received until the server closed, and the close code."""
    frames = []
    try:
        while True:
            frames.append(receive(ws, timeout))
    except ConnectionClosed as closed:
        return frames, closed.rcvd.code


def _resumes(frames: list[dict]) -> dict[str, int]:
    return {f["category"]: f["last_sequence"] for f in frames if f["type"] == "resume"}


def _sequences(frames: list[dict]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for frame in frames:
        if frame["type"] == "message":
            message = frame["message"]
            seen.setdefault(message["category"], []).append(message["sequence"])
    return seen


@pytest.fixture
def probing(settings):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "WS_LAYER_CHECK_INTERVAL": 100}


def test_a_failing_channel_layer_tells_each_subscription_to_resume_then_closes_4503(
    server, admin, monkeypatch, probing
):
    layer = fanout.get_layer()
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts", since=0)
        subscribe(ws, category="health")
        sent = [pubsub.broadcast_alert("a", "info", f"m{i}").message for i in range(3)]
        got = collect(ws, 3)

        async def refused(*args, **kwargs):
            raise ConnectionError("channel layer unreachable")

        monkeypatch.setattr(layer, "send", refused)
        frames, code = _until_closed(ws)
    assert [f["message"]["sequence"] for f in got] == [seq(m) for m in sent]
    assert code == 4503
    assert frames == [
        {
            "type": "resume",
            "category": "alerts",
            "topic": None,
            "last_sequence": 3,
            "detail": "live delivery was interrupted; subscribe again with since=last_sequence",
        },
        {
            "type": "resume",
            "category": "health",
            "topic": None,
            "last_sequence": 0,
            "detail": "live delivery was interrupted; subscribe again with since=last_sequence",
        },
    ]


def test_a_probe_that_never_comes_back_means_the_layer_failed(
    server, admin, monkeypatch, probing
):
    layer = fanout.get_layer()

    async def lost(*args, **kwargs):
        return None  # accepted, never delivered

    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts")
        monkeypatch.setattr(layer, "send", lost)
        frames, code = _until_closed(ws)
    assert (code, _resumes(frames)) == (4503, {"alerts": 0})


def test_an_event_still_being_handled_is_not_a_layer_failure(
    server, admin, monkeypatch, settings
):
    # A gap filled from a slow store keeps the event's handler busy for five check
    # intervals: no probe can be handed over meanwhile, and that is not a dead layer.
    settings.OPSMESSAGING = {
        **settings.OPSMESSAGING,
        "WS_LAYER_CHECK_INTERVAL": 300,
        "WS_POLL_INTERVAL": 0,  # only the live message's handler fills the gap
    }
    from opsmessaging import consumers

    real_stored = consumers.stored_messages

    def slow_stored(*args):
        time.sleep(1.5)
        return real_stored(*args)

    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts")
        [lost] = stored_only(
            monkeypatch,
            lambda: pubsub.broadcast_alert("lost", "info", "never fanned out"),
        )
        monkeypatch.setattr(consumers, "stored_messages", slow_stored)
        later = pubsub.broadcast_alert("later", "info", "fanned out").message
        frames = collect(ws, 2)
        monkeypatch.setattr(consumers, "stored_messages", real_stored)
        time.sleep(1)  # probes flow again
        ws.send(json.dumps({"action": "ping"}))
        assert receive(ws)["type"] == "pong"  # still open: no resume, no 4503
    assert [f["message"]["sequence"] for f in frames] == [seq(lost), seq(later)]


def test_a_connection_without_subscriptions_is_not_probed(
    server, admin, monkeypatch, probing
):
    layer = fanout.get_layer()

    async def refused(*args, **kwargs):
        raise ConnectionError("channel layer unreachable")

    with ws_connect(server, admin) as ws:
        monkeypatch.setattr(layer, "send", refused)
        time.sleep(0.5)
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}


def test_joining_a_group_on_a_failed_layer_closes_4503(server, admin, monkeypatch):
    layer = fanout.get_layer()
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts")

        async def refused(*args, **kwargs):
            raise ConnectionError("channel layer unreachable")

        monkeypatch.setattr(layer, "group_add", refused)
        send(ws, {"action": "subscribe", "category": "health"})
        frames, code = _until_closed(ws)
    assert (code, _resumes(frames)) == (4503, {"alerts": 0})


def test_a_client_that_resumes_after_a_layer_failure_has_every_sequence(
    server, admin, monkeypatch, probing
):
    layer = fanout.get_layer()
    real_send = layer.send

    async def refused(*args, **kwargs):
        raise ConnectionError("channel layer unreachable")

    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts", since=0)
        for i in range(5):
            pubsub.broadcast_alert("a", "info", f"before {i}")
        frames = collect(ws, 5)
        monkeypatch.setattr(layer, "send", refused)
        for i in range(5):
            pubsub.broadcast_alert("a", "info", f"during {i}")
        rest, code = _until_closed(ws)
    frames += rest
    monkeypatch.setattr(layer, "send", real_send)
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts", since=_resumes(frames)["alerts"])
        pubsub.broadcast_alert("a", "info", "after")
        frames += collect(ws, 11 - len(_sequences(frames)["alerts"]))
    assert code == 4503
    assert _sequences(frames) == {"alerts": list(range(1, 12))}


def test_a_store_failure_on_subscribe_is_an_error_frame_and_the_connection_stays(
    server, admin, monkeypatch
):
    import opsmessaging.consumers as consumers

    def unreachable(category):
        raise OperationalError("connection refused")

    with ws_connect(server, admin) as ws:
        monkeypatch.setattr(consumers, "last_sequence", unreachable)
        send(ws, {"action": "subscribe", "category": "alerts"})
        assert receive(ws) == {
            "type": "error",
            "code": "store_unavailable",
            "detail": "the message store cannot be reached; try again shortly",
        }
        monkeypatch.undo()
        subscribe(ws, category="alerts")
        sent = pubsub.broadcast_alert("a", "info", "arrives").message
        assert receive_until(ws, "message")["message"]["sequence"] == seq(sent)


def test_a_store_failure_during_replay_tells_the_subscription_to_resume(
    server, admin, monkeypatch
):
    import opsmessaging.consumers as consumers

    for i in range(3):
        pubsub.broadcast_alert("a", "info", f"m{i}")

    def unreachable(*args):
        raise OperationalError("connection refused")

    with ws_connect(server, admin) as ws:
        monkeypatch.setattr(consumers, "stored_messages", unreachable)
        subscribe(ws, category="alerts", since=1)
        assert receive(ws) == {
            "type": "resume",
            "category": "alerts",
            "topic": None,
            "last_sequence": 1,
            "detail": "the message store cannot be reached; subscribe again with "
            "since=last_sequence",
        }
        monkeypatch.undo()
        subscribe(ws, category="alerts", since=1)
        assert [f["message"]["sequence"] for f in collect(ws, 2)] == [2, 3]


def _reconnect(address: str, user: User, timeout: float = 15):
    """Open a connection, retrying while the server refuses (its layer still down)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ws_connect(address, user)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _follow(address: str, user: User, got: list[dict], want: dict[str, int]) -> int:
    """Do what a client should: resubscribe with ``since`` = the last sequence it has,
    and again after every close 4503, until it has ``want`` messages per category.
    Return how many times it connected."""
    connections_made = 0
    deadline = time.monotonic() + 60
    while True:
        seen = _sequences(got)
        if all(len(seen.get(c, [])) >= n for c, n in want.items()):
            return connections_made
        assert time.monotonic() < deadline, seen
        with _reconnect(address, user) as ws:
            connections_made += 1
            for category in want:  # every frame is kept: replays start at once
                send(
                    ws,
                    {
                        "action": "subscribe",
                        "category": category,
                        "since": seen.get(category, [0])[-1],
                    },
                )
            try:
                while any(len(_sequences(got).get(c, [])) < n for c, n in want.items()):
                    got.append(receive(ws, 10))
            except ConnectionClosed as closed:
                assert closed.rcvd.code == 4503


def _assert_resumes_name_the_last_sequence_sent(got: list[dict]) -> None:
    last: dict[str, int] = {}
    for frame in got:
        if frame["type"] == "message":
            last[frame["message"]["category"]] = frame["message"]["sequence"]
        elif frame["type"] == "subscribed":
            last.setdefault(frame["category"], frame["since"] or frame["last_sequence"])
        elif frame["type"] == "resume":
            assert frame["last_sequence"] == last[frame["category"]], frame


@pytest.mark.redis
def test_redis_stopped_mid_stream_subscribers_resume_and_have_every_sequence(admin):
    redis, port = _private_redis()
    layers = _redis_layers(port)
    options = {**django_settings.OPSMESSAGING, "WS_LAYER_CHECK_INTERVAL": 200}
    want = {"alerts": 50, "health": 15}
    frames: list[list[dict]] = [[] for _ in range(3)]
    codes, reconnections = [], []
    try:
        with (
            override_settings(CHANNEL_LAYERS=layers, OPSMESSAGING=options),
            live_asgi_server() as address,
            ExitStack() as opened,
        ):
            sockets = [opened.enter_context(ws_connect(address, admin)) for _ in frames]
            for ws, got in zip(sockets, frames, strict=True):
                got.append(subscribe(ws, category="alerts", since=0))
                got.append(subscribe(ws, category="health"))
            for i in range(20):
                assert pubsub.broadcast_alert("before", "info", f"m{i}").ok
            for i in range(5):
                assert pubsub.broadcast_health_update(f"c{i}", "healthy").ok
            for ws, got in zip(sockets, frames, strict=True):
                got += collect(ws, 25)
            redis.kill()
            redis.wait()
            down_since = time.monotonic()
            for i in range(20):
                # Stored: the broadcast never waits for the layer (the relay does).
                result = pubsub.broadcast_alert("during", "warning", f"m{i}")
                assert result.status == "ok" and result.message.pk is not None
                time.sleep(0.15)  # an outage of seconds: many probe intervals
            for i in range(5):
                assert pubsub.broadcast_health_update(f"d{i}", "degraded").message
            for ws, got in zip(sockets, frames, strict=True):
                rest, code = _until_closed(ws)
                got += rest
                codes.append(code)
            redis = _start_redis(port)
            outage = time.monotonic() - down_since
            for i in range(10):  # stored whether or not the layer is back yet
                assert pubsub.broadcast_alert("after", "info", f"m{i}").message
            for i in range(5):
                assert pubsub.broadcast_health_update(f"e{i}", "healthy").message
            for got in frames:
                reconnections.append(_follow(address, admin, got, want))
    finally:
        redis.kill()
        redis.wait()
    assert outage > 3.0
    assert codes == [4503] * len(frames)
    assert all(n >= 1 for n in reconnections)
    for got in frames:
        assert _sequences(got) == {
            "alerts": list(range(1, 51)),
            "health": list(range(1, 16)),
        }
        assert {f["category"] for f in got if f["type"] == "resume"} == set(want)
        _assert_resumes_name_the_last_sequence_sent(got)


# --- live messages arrive pre-rendered ------------------------------------------------------


def previous_frame_text(subscription: dict, message: dict) -> str:
    """The text of a message frame as the endpoint rendered it before fan-out events
    carried the wire JSON: the JSON of the whole frame."""
    return json.dumps(
        {"type": "message", "subscription": subscription, "message": message},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def group_send(group: str, event: dict) -> None:
    """Send ``event`` to ``group`` from the server's loop (as ``fanout.deliver`` does)."""
    fanout.runner.run(fanout.get_layer().group_send(group, event), 5)


def stored_only(monkeypatch, *broadcasts) -> list[Message]:
    """Run the broadcasts with the fan-out switched off: stored and numbered, and passed
    over by the relay without being sent."""
    real_deliver = fanout.deliver
    monkeypatch.setattr(fanout, "deliver", lambda messages, epoch=None: None)
    try:
        stored = [broadcast().message for broadcast in broadcasts]
        last = max(seq(m) for m in stored)
        category = stored[-1].category
        deadline = time.monotonic() + 10
        while relay.status()["cursors"].get(category, 0) < last:
            assert time.monotonic() < deadline, "the relay passes over them"
            time.sleep(0.01)
        return [Message.objects.get(pk=m.pk) for m in stored]
    finally:
        monkeypatch.setattr(fanout, "deliver", real_deliver)


def messages_event(category: str, *messages: Message) -> dict:
    return {
        "type": fanout.MESSAGES_EVENT,
        "category": category,
        "messages": [fanout.live_message(wire(m)) for m in messages],
    }


def test_one_event_of_several_messages_gives_the_previous_frames_filling_gaps_and_skipping_duplicates(
    server, admin, monkeypatch
):
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts")
        stored = stored_only(
            monkeypatch,
            *[
                lambda i=i: pubsub.broadcast_alert(f"t{i}", "info", f"m{i} é ✓")
                for i in range(4)
            ],
        )
        # Sequence 1 never arrives live (a gap), 3 arrives twice (a duplicate).
        group_send(
            "opsmessaging.alerts",
            messages_event("alerts", stored[1], stored[2], stored[2], stored[3]),
        )
        texts = [ws.recv(timeout=5) for _ in range(4)]
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}
    assert texts == [
        previous_frame_text({"category": "alerts", "topic": None}, wire(m))
        for m in stored
    ]
    assert "m0 é ✓" in texts[0]


def test_filters_apply_to_each_message_of_an_event(server, admin, monkeypatch):
    with ws_connect(server, admin) as ws:
        subscribe(
            ws,
            category="alerts",
            topic="disk",
            filters={"node": "web2@h", "severity": "error"},
        )
        stored = stored_only(
            monkeypatch,
            lambda: pubsub.broadcast_alert(
                "cpu", "critical", "other topic", node="web2@h"
            ),
            lambda: pubsub.broadcast_alert(
                "disk", "warning", "too mild", node="web2@h"
            ),
            lambda: pubsub.broadcast_alert(
                "disk", "critical", "other node", node="web1@h"
            ),
            lambda: pubsub.broadcast_alert("disk", "error", "this one", node="web2@h"),
        )
        group_send("opsmessaging.alerts", messages_event("alerts", *stored))
        text = ws.recv(timeout=5)
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}
    assert text == previous_frame_text(
        {"category": "alerts", "topic": "disk"}, wire(stored[3])
    )


def test_the_previous_event_form_is_still_delivered(server, admin, monkeypatch):
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts")
        [message] = stored_only(
            monkeypatch, lambda: pubsub.broadcast_alert("t", "info", "old form")
        )
        group_send(
            "opsmessaging.alerts",
            {"type": fanout.MESSAGE_EVENT, "message": wire(message)},
        )
        text = ws.recv(timeout=5)
    assert text == previous_frame_text(
        {"category": "alerts", "topic": None}, wire(message)
    )


def test_replayed_frames_are_the_previous_frames(server, admin):
    stored = [
        pubsub.broadcast_alert(f"t{i}", "info", f"m{i} ü").message for i in range(2)
    ]
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts", topic="t1", since=0)
        text = ws.recv(timeout=5)
    assert text == previous_frame_text(
        {"category": "alerts", "topic": "t1"}, wire(stored[1])
    )


def test_live_events_skip_the_per_event_connection_check(server, admin, monkeypatch):
    import channels.consumer

    checks = []
    real = channels.consumer.aclose_old_connections

    async def counted():
        checks.append(1)
        await real()

    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts")
        monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
        pubsub.broadcast_alert("t", "info", "live")
        receive_until(ws, "message")
        assert checks == []  # the message event: no thread hop
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}
        assert checks == [1]  # a client frame still gets Channels' check


def test_store_checks_of_one_loop_share_a_recent_read(monkeypatch):
    from opsmessaging.categories import Category

    calls = []

    def counted(category):
        calls.append(category)
        if len(calls) == 2:
            raise OperationalError("store away")
        return 40 + len(calls)

    monkeypatch.setattr(subscriptions, "last_sequence", counted)

    async def scenario():
        shared = subscriptions.SharedLastSequences()
        together = await asyncio.gather(
            *(shared.get(Category.ALERTS, 60) for _ in range(10))
        )
        await asyncio.sleep(0.01)
        with pytest.raises(OperationalError):
            await shared.get(Category.ALERTS, 0.001)  # too old: read again (fails)
        again = await shared.get(Category.ALERTS, 60)  # a failed read is not reused
        return together, again

    together, again = asyncio.run(scenario())
    assert (together, again, calls) == ([41] * 10, 43, [Category.ALERTS] * 3)


@pytest.mark.parametrize("probe", ["lost", "slow to send"])
def test_a_late_probe_while_messages_still_arrive_is_not_a_failure(
    server, admin, monkeypatch, settings, probe
):
    settings.OPSMESSAGING = {
        **settings.OPSMESSAGING,
        "WS_LAYER_CHECK_INTERVAL": 500,
        "FANOUT_TIMEOUT": 200,
    }
    layer = fanout.get_layer()
    real_send = layer.send

    async def probes_lost(channel, message):
        if (
            message["type"] != "opsmessaging.probe"
        ):  # the in-memory group_send uses send
            await real_send(channel, message)
        elif probe == "slow to send":
            await asyncio.sleep(5)  # longer than FANOUT_TIMEOUT: the send times out

    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts")
        monkeypatch.setattr(layer, "send", probes_lost)
        # Four check intervals or more with messages arriving all along: no resume.
        sent = []
        for i in range(100):
            sent.append(seq(pubsub.broadcast_alert("a", "info", f"m{i}").message))
            time.sleep(0.02)
        # Then nothing arrives: the missing probes mean the layer failed.
        frames, code = _until_closed(ws)
    assert _sequences(frames)["alerts"] == sent
    assert (code, _resumes(frames)) == (4503, {"alerts": sent[-1]})


def test_the_store_check_skips_subscriptions_with_live_messages_since_the_last(
    monkeypatch,
):
    from opsmessaging import consumers
    from opsmessaging.categories import Category

    consumer = consumers.SubscriptionConsumer()
    flowing = consumers.Subscription(Category.ALERTS, None)
    quiet = consumers.Subscription(Category.HEALTH, None)
    consumer.subscriptions = {s.key: s for s in (flowing, quiet)}
    checked = []

    async def catch_up(sub, upto):
        checked.append((sub.category.value, upto))
        return True

    async def high_water(category, max_age):
        return 7

    monkeypatch.setattr(consumer, "_catch_up", catch_up)
    monkeypatch.setattr(consumers, "shared_last_sequence", high_water)
    flowing.live = 3  # three live messages since the subscription started
    asyncio.run(consumer._poll_once())
    assert checked == [("health", 7)]
    asyncio.run(consumer._poll_once())  # none since the last check: both are checked
    assert sorted(checked) == [("alerts", 7), ("health", 7), ("health", 7)]


def _watching_consumer(failures: list[str]):
    """A consumer with one subscription and two probes outstanding, its layer check
    recording failures instead of closing."""
    from opsmessaging import consumers
    from opsmessaging.categories import Category

    consumer = consumers.SubscriptionConsumer()
    sub = consumers.Subscription(Category.ALERTS, None)
    consumer.subscriptions = {sub.key: sub}
    consumer.probes_sent, consumer.probes_seen = 2, 0
    consumer.layer_events = 0
    consumer.layer_failed = False

    async def layer_failed(reason):
        failures.append(reason)
        consumer.layer_failed = True

    consumer._layer_failed = layer_failed
    return consumer


def test_a_layer_check_that_wakes_up_late_does_not_judge_the_layer(monkeypatch):
    # An overloaded event loop (here: blocked) wakes the check late: no verdict then.
    from opsmessaging import consumers

    real_sleep = asyncio.sleep
    wakes = []

    async def late_then_on_time(seconds):
        wakes.append(seconds)
        if len(wakes) <= 3:
            time.sleep(seconds * 2)  # the loop is stuck: the check wakes up late
        await real_sleep(0)

    failures: list[str] = []
    consumer = _watching_consumer(failures)
    monkeypatch.setattr(consumers.asyncio, "sleep", late_then_on_time)
    asyncio.run(consumer._watch_layer(0.05))
    # Three late wake-ups passed without a verdict; the first on time failed the layer.
    assert len(wakes) == 4
    assert failures == ["no probe came back through the channel layer in 0.1 s"]


def test_subscribed_names_the_epoch_of_the_category_log(server, admin):
    epoch = CategorySequence.epoch_of("alerts")
    with ws_connect(server, admin) as ws:
        frame = subscribe(ws, category="alerts", since=0, epoch=epoch)
    assert (frame["epoch"], frame["since"], frame["last_sequence"]) == (epoch, 0, 0)


def test_a_resume_in_an_old_epoch_is_refused_with_the_new_one(server, admin):
    old = CategorySequence.epoch_of("alerts")
    first = pubsub.broadcast_alert("disk", "warning", "before the reset").message
    first_sequence = seq(first)
    # The log starts anew (a flushed store): its counter and messages are gone.
    Message.objects.filter(category="alerts").delete()
    CategorySequence.objects.filter(category="alerts").delete()
    after = pubsub.broadcast_alert("disk", "warning", "after the reset").message
    new = CategorySequence.epoch_of("alerts")
    assert (first_sequence, seq(after), new != old) == (1, 1, True)
    with ws_connect(server, admin) as ws:
        send(
            ws, {"action": "subscribe", "category": "alerts", "since": 1, "epoch": old}
        )
        refused = receive(ws)
        assert refused["type"] == "error"
        assert {k: v for k, v in refused.items() if k != "detail"} == {
            "type": "error",
            "code": "epoch_changed",
            "category": "alerts",
            "topic": None,
            "epoch": new,
            "last_sequence": 1,
        }
        # Not subscribed: a new message does not arrive; a ping is answered first.
        pubsub.broadcast_alert("disk", "warning", "not for the refused one")
        send(ws, {"action": "ping"})
        assert receive(ws, 2) == {"type": "pong"}
        again = subscribe(ws, category="alerts", since=0, epoch=new)
        assert (again["epoch"], again["last_sequence"]) == (new, 2)
        replayed = collect(ws, 2)
    assert [f["message"]["payload"]["title"] for f in replayed] == [
        "after the reset",
        "not for the refused one",
    ]


def test_an_epoch_that_is_not_a_string_is_an_error_frame(server, admin):
    with ws_connect(server, admin) as ws:
        send(ws, {"action": "subscribe", "category": "alerts", "epoch": 7})
        frame = receive(ws)
    assert (frame["type"], frame["code"]) == ("error", "invalid_epoch")


# --- security review (issue 15) ---------------------------------------------------------


def test_a_lone_surrogate_in_an_error_frame_is_escaped_and_the_writer_survives(
    server, admin
):
    with ws_connect(server, admin) as ws:
        # The epoch is quoted in the error's detail: "\ud800" arrives as a lone surrogate.
        ws.send('{"action": "subscribe", "category": "alerts", "epoch": "\\ud800"}')
        refused = receive(ws)
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}
    assert (refused["type"], refused["code"]) == ("error", "epoch_changed")
    assert "not \ud800)" in refused["detail"]  # the JSON escape, read back


def test_since_beyond_the_last_sequence_is_refused_with_invalid_since(server, admin):
    pubsub.broadcast_alert("disk", "warning", "the only one").wait_for_sequence()
    with ws_connect(server, admin) as ws:
        send(ws, {"action": "subscribe", "category": "alerts", "since": 5})
        refused = receive(ws)
        assert {k: v for k, v in refused.items() if k != "detail"} == {
            "type": "error",
            "code": "invalid_since",
            "category": "alerts",
            "topic": None,
            "last_sequence": 1,
        }
        # Not subscribed: the next message does not arrive; a ping is answered.
        pubsub.broadcast_alert("disk", "warning", "not for the refused one")
        send(ws, {"action": "ping"})
        assert receive(ws, 2) == {"type": "pong"}


def test_a_replay_over_a_row_in_an_unknown_payload_version_sends_it_with_a_null_payload(
    server, admin
):
    for title in ("one", "from a newer node", "three"):
        pubsub.broadcast_alert("a", "info", title).wait_for_sequence()
    set_stored_version(Message.objects.get(category="alerts", sequence=2), 99)
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts", since=0)
        frames = collect(ws, 3)
    assert [
        (f["message"]["sequence"], (f["message"]["payload"] or {}).get("title"))
        for f in frames
    ] == [(1, "one"), (2, None), (3, "three")]


def test_an_unexpected_error_during_replay_is_an_error_frame_and_logged(
    server, admin, monkeypatch, caplog
):
    import opsmessaging.consumers as consumers

    pubsub.broadcast_alert("a", "info", "m").wait_for_sequence()

    def broken(*args):
        raise RuntimeError("a bug")

    with ws_connect(server, admin) as ws:
        monkeypatch.setattr(consumers, "stored_messages", broken)
        subscribe(ws, category="alerts", since=0)
        frame = receive(ws)
        send(ws, {"action": "ping"})
        assert receive(ws) == {"type": "pong"}
    assert {k: v for k, v in frame.items() if k != "detail"} == {
        "type": "error",
        "code": "replay_failed",
        "category": "alerts",
        "topic": None,
        "last_sequence": 0,
    }
    assert "Replay of ('alerts', None) failed after #0" in caplog.text


@pytest.fixture
def access_checks(settings):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "WS_ACCESS_CHECK_INTERVAL": 100}


def _token_connect(server: str, user: User):
    from rest_framework.authtoken.models import Token

    key = Token.objects.get_or_create(user=user)[0].key
    return ws_connect(server, additional_headers={"Authorization": f"Token {key}"})


def _revoke_view_message(user: User) -> None:
    user.user_permissions.remove(Permission.objects.get(codename="view_message"))


def _deactivate(user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)


def _delete_tokens(user: User) -> None:
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user=user).delete()


def _end_sessions(user: User) -> None:
    from django.contrib.sessions.models import Session

    Session.objects.all().delete()


def _change_password(user: User) -> None:
    user.set_password("new password")
    user.save()


@pytest.mark.parametrize(
    ("connect", "revoke", "code", "close"),
    [
        (ws_connect, _revoke_view_message, "forbidden", 4403),
        (ws_connect, _deactivate, "not_authenticated", 4401),
        (ws_connect, _end_sessions, "not_authenticated", 4401),
        (ws_connect, _change_password, "not_authenticated", 4401),
        (_token_connect, _revoke_view_message, "forbidden", 4403),
        (_token_connect, _deactivate, "not_authenticated", 4401),
        (_token_connect, _delete_tokens, "not_authenticated", 4401),
    ],
    ids=[
        "session-permission",
        "session-deactivated",
        "session-logged-out",
        "session-password-changed",
        "token-permission",
        "token-deactivated",
        "token-deleted",
    ],
)
def test_a_connection_whose_access_is_gone_stops_streaming_and_closes(
    server, viewer, access_checks, connect, revoke, code, close
):
    with connect(server, viewer) as ws:
        subscribe(ws, category="health")
        revoke(viewer)
        frames, closed = _until_closed(ws)
        # Broadcast after the close: nothing more can have been sent.
        pubsub.broadcast_health_update("db", "healthy")
    assert [(f["type"], f["code"]) for f in frames] == [("error", code)]
    assert closed == close


def test_subscribing_after_the_permission_was_removed_is_refused(server, viewer):
    with ws_connect(server, viewer) as ws:
        subscribe(ws, category="health")
        send(ws, {"action": "unsubscribe", "category": "health"})
        assert receive(ws)["type"] == "unsubscribed"
        _revoke_view_message(viewer)
        send(ws, {"action": "subscribe", "category": "alerts"})
        refused = receive(ws)
    assert (refused["type"], refused["code"]) == ("error", "forbidden")


def test_subscribing_after_logging_out_closes_4401(server, viewer):
    with ws_connect(server, viewer) as ws:
        _end_sessions(viewer)
        send(ws, {"action": "subscribe", "category": "alerts"})
        frames, closed = _until_closed(ws)
    assert ([f["code"] for f in frames], closed) == (["not_authenticated"], 4401)


def test_subscriptions_per_connection_are_capped(server, admin, settings):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "WS_MAX_SUBSCRIPTIONS": 2}
    with ws_connect(server, admin) as ws:
        subscribe(ws, category="alerts")
        subscribe(ws, category="health")
        send(
            ws, {"action": "subscribe", "category": "health", "topic": "cluster:health"}
        )
        refused = receive(ws)
        # Subscribing again to one it has restarts it: not one more.
        assert subscribe(ws, category="health")["type"] == "subscribed"
    assert refused == {
        "type": "error",
        "code": "too_many_subscriptions",
        "detail": "at most 2 subscriptions per connection; unsubscribe from one first",
    }


def test_connections_per_user_are_capped(server, admin, settings):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "WS_MAX_CONNECTIONS_PER_USER": 2}
    with ws_connect(server, admin) as first, ws_connect(server, admin) as second:
        for ws in (first, second):
            send(ws, {"action": "ping"})
            assert receive(ws) == {"type": "pong"}
        with ws_connect(server, admin) as third:
            frames, closed = _until_closed(third)
    assert (frames, closed) == (
        [
            {
                "type": "error",
                "code": "too_many_connections",
                "detail": "at most 2 connections per user; close one first",
            }
        ],
        4429,
    )
    # Once they are closed, the user may connect again.
    deadline = time.monotonic() + 5
    while True:
        with ws_connect(server, admin) as ws:
            send(ws, {"action": "ping"})
            try:
                if receive(ws, 1) == {"type": "pong"}:
                    break
            except ConnectionClosed:
                assert time.monotonic() < deadline

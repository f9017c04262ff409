"""The Python clients against a live server: a server killed and restarted mid-stream, a
dropped connection, a slow client told it fell behind; every sequence exactly once, in
order. Broadcasts come from this process, through the shared test database."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.test import override_settings
from rest_framework.authtoken.models import Token

from opsmessaging import pubsub
from opsmessaging.client import ApiError, Client, asubscribe, subscribe
from tests.client.support import CuttableProxy, web_node
from tests.live import live_asgi_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token() -> str:
    admin = User.objects.create_superuser("admin", password="pw")
    return Token.objects.create(user=admin).key


@pytest.fixture
def server():
    with live_asgi_server() as address:
        yield address


class Producer(threading.Thread):
    """Broadcasts ``total`` alerts, one every ``pause`` seconds."""

    def __init__(self, total: int, pause: float = 0.005, start_when=None) -> None:
        super().__init__(daemon=True)
        self.total = total
        self.pause = pause
        self.start_when = start_when
        self.done = threading.Event()

    def run(self) -> None:
        try:
            if self.start_when is not None:
                assert self.start_when.wait(10)
            for i in range(self.total):
                assert (
                    pubsub.broadcast_alert(f"t{i % 3}", "info", f"m{i}").status == "ok"
                )
                time.sleep(self.pause)
        finally:
            connections.close_all()
            self.done.set()


def follow(subscription, total: int, timeout: float = 60, at=None) -> list[int]:
    """Sequences of the first ``total`` messages; ``at`` maps a count to an action
    taken once that many arrived. Closed (and so bounded) after ``timeout`` s."""
    at = dict(at or {})
    watchdog = threading.Timer(timeout, subscription.close)
    watchdog.start()
    got: list[int] = []
    try:
        for message in subscription:
            got.append(message.sequence)
            if len(got) in at:
                at.pop(len(got))()
            if len(got) == total:
                break
    finally:
        watchdog.cancel()
    return got


def test_a_server_killed_twice_mid_stream_loses_and_repeats_nothing(token, tmp_path):
    total = 400
    with web_node(tmp_path / "web.log") as node:
        producer = Producer(total, pause=0.01)
        subscription = subscribe(
            f"http://{node.address}",
            token=token,
            category="alerts",
            reconnect_delay=0.1,
            max_reconnect_delay=1.0,
        )
        killed_while_producing = []

        def restart():
            killed_while_producing.append(not producer.done.is_set())
            node.kill()
            node.launch()

        producer.start()
        got = follow(subscription, total, at={60: restart, 200: restart})
        producer.join(30)
    assert got == list(range(1, total + 1))
    assert killed_while_producing == [True, True]
    assert subscription.reconnects >= 2


def test_a_dropped_connection_resumes_without_gap_or_duplicate(token, server):
    total = 300
    proxy = CuttableProxy(server)
    producer = Producer(total)
    subscription = subscribe(
        f"ws://{proxy.address}/ws/opsmessaging/",
        token=token,
        category="alerts",
        reconnect_delay=0.05,
    )
    cut_while_producing = []

    def cut():
        cut_while_producing.append(not producer.done.is_set())
        proxy.cut()

    producer.start()
    try:
        got = follow(subscription, total, at={40: cut, 120: cut, 200: cut})
    finally:
        proxy.close()
        producer.join(30)
    assert got == list(range(1, total + 1))
    assert cut_while_producing == [True, True, True]
    assert subscription.reconnects == 3


def test_a_slow_client_is_told_it_fell_behind_and_still_gets_every_sequence(
    token, server
):
    # Random, so permessage-deflate cannot shrink it: 150 of these overflow every buffer.
    big = {"blob": base64.b64encode(os.urandom(45_000)).decode()}
    total = 150
    subscribed = threading.Event()

    def produce():
        try:
            assert subscribed.wait(10)
            for i in range(total):
                result = pubsub.broadcast_diagnostic("dump", "c", {**big, "i": i})
                assert result.status == "ok"
        finally:
            connections.close_all()

    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = server.split(":")
    raw.connect((host, int(port)))
    with override_settings(OPSMESSAGING={"WS_BUFFER_SIZE": 5}):
        subscription = subscribe(
            f"ws://{server}/ws/opsmessaging/",
            token=token,
            category="diagnostics",
            since=None,
            on_state=lambda state: state == "subscribed" and subscribed.set(),
            connect_options={"sock": raw, "max_queue": 1},
        )
        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        got = follow(subscription, total, at={1: lambda: time.sleep(2)})
        producer.join(30)
    assert got == list(range(1, total + 1))
    assert subscription.resubscriptions >= 1
    assert subscription.reconnects == 0


def test_asubscribe_across_dropped_connections(token, server):
    total = 200
    proxy = CuttableProxy(server)
    producer = Producer(total)

    async def consume():
        subscription = asubscribe(
            f"ws://{proxy.address}/",
            token=token,
            category="alerts",
            reconnect_delay=0.05,
        )
        got = []
        async for message in subscription:
            got.append(message.sequence)
            if len(got) in (50, 120):
                proxy.cut()
            if len(got) == total:
                break
        return got, subscription.reconnects

    producer.start()
    try:
        got, reconnects = asyncio.run(asyncio.wait_for(consume(), 60))
    finally:
        proxy.close()
        producer.join(30)
    assert got == list(range(1, total + 1))
    assert reconnects == 2


def test_the_http_client_broadcasts_and_reads_the_history_page_by_page(token, server):
    with Client(f"http://{server}", token) as client:
        sent = [
            client.broadcast(
                "SystemAlert",
                {"severity": "warning", "category": "data", "title": f"disk {i}"},
                topic="disk_full",
            )
            for i in range(5)
        ]
        history = list(client.history("alerts", after=1, limit=2))
        last = client.last_sequence("alerts")
    assert [m.sequence for m in sent] == [1, 2, 3, 4, 5]
    assert sent[0].topic == "disk_full"
    assert sent[0].payload["title"] == "disk 0"
    assert [m.message_id for m in history] == [m.message_id for m in sent[1:]]
    assert last == 5


def test_the_http_client_raises_api_error_with_the_field_errors(token, server):
    with Client(f"http://{server}", token) as client, pytest.raises(ApiError) as raised:
        client.broadcast("SystemAlert", {"severity": "fatal", "title": "x"})
    assert raised.value.status == 400
    assert "payload.severity" in raised.value.body


def test_a_backfill_from_the_history_then_a_subscription_that_starts_where_it_ended(
    token, server
):
    for i in range(7):
        pubsub.broadcast_alert("t", "info", f"old {i}")
    with Client(f"http://{server}", token) as client:
        backfill = list(client.history("alerts", limit=3))
    subscription = subscribe(
        f"http://{server}",
        token=token,
        category="alerts",
        since=backfill[-1].sequence,
        on_state=lambda state: (
            state == "subscribed" and pubsub.broadcast_alert("t", "info", "new")
        ),
    )
    live = follow(subscription, 1, timeout=15)
    assert [m.sequence for m in backfill] == [1, 2, 3, 4, 5, 6, 7]
    assert live == [8]

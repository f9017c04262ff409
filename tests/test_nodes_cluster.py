"""Three web nodes on loopback against one PostgreSQL and one Redis: one cluster.

Each node is a real uvicorn process of the demo with its own ``OPSMESSAGING_NODE_NAME``,
heartbeating every 0.5 s. A WebSocket subscriber on node A receives what nodes B and C
broadcast (through the Redis channel layer only: node A's store checks are off), every
node sees the same cluster, and a killed node is reported failed exactly once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from websockets.sync.client import ClientConnection

from opsmessaging.helpers import cluster_context
from opsmessaging.models import Message, Node
from tests import celery_live
from tests.celery_live import wait_for
from tests.live import WebNode, receive, send, ws_connect

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

NAMES = ("web-a@loopback", "web-b@loopback", "web-c@loopback")
TIMING = {"HEARTBEAT_INTERVAL": 500, "NODE_FAILURE_THRESHOLD": 3}
WINDOW = 1.5  # seconds: three missed heartbeats


@pytest.fixture
def cluster(
    transactional_db: None, tmp_path: Path, settings
) -> Iterator[list[WebNode]]:
    """Nodes A, B and C, started together, on the test database and the test Redis."""
    settings.OPSMESSAGING = {**TIMING, "NODE_NAME": "pytest@loopback"}
    redis_url = celery_live.redis_url()
    celery_live.flush_redis(redis_url)
    common = {
        **os.environ,
        "DATABASE_URL": celery_live.database_url(),
        "REDIS_URL": redis_url,
        "DEMO_BACKGROUND_THREADS": "1",  # the heartbeat thread
        **{f"OPSMESSAGING_{key}": str(value) for key, value in TIMING.items()},
    }
    common.pop("CELERY_BROKER_URL", None)
    nodes = [
        WebNode(
            name,
            {
                **common,
                "OPSMESSAGING_NODE_NAME": name,
                # Node A hears only what the channel layer brings, never the store.
                "OPSMESSAGING_WS_POLL_INTERVAL": "0" if name == NAMES[0] else "1000",
            },
            tmp_path / f"{name}.log",
        )
        for name in NAMES
    ]
    try:
        for node in nodes:
            node.launch()
        for node in nodes:
            node.wait_ready()
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        celery_live.flush_redis(redis_url)
        for node in nodes:
            print(f"----- {node.name}\n{node.output()[-3000:]}")


@pytest.fixture
def token(django_user_model) -> str:
    user = django_user_model.objects.create_superuser("cluster", password=None)
    return Token.objects.create(user=user).key


def api(node: WebNode, token: str, method: str, path: str, body: Any = None) -> Any:
    import http.client

    host, port = node.address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(
            method,
            f"/api/opsmessaging/{path}",
            body=None if body is None else json.dumps(body),
            headers={
                "Authorization": f"Token {token}",
                "Content-Type": "application/json",
            },
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def alert_on(node: WebNode, token: str, title: str) -> dict[str, Any]:
    """Broadcast a SystemAlert through ``node``'s API; return the stored wire form."""
    status, wire = api(
        node,
        token,
        "POST",
        "messages/",
        {
            "type": "SystemAlert",
            "payload": {"severity": "warning", "category": "system", "title": title},
        },
    )
    assert status == 201, wire
    return wire


def messages_until(ws: ClientConnection, done, timeout: float = 10) -> list[dict]:
    """Collect the ``message`` frames' messages until ``done(messages)``."""
    messages: list[dict] = []
    deadline = time.monotonic() + timeout
    while not done(messages):
        frame = receive(ws, max(deadline - time.monotonic(), 0.01))
        assert frame["type"] in ("message", "pong"), frame
        if frame["type"] == "message":
            messages.append(frame["message"])
    return messages


def nodes_view(node: WebNode, token: str) -> dict[str, Any]:
    status, view = api(node, token, "GET", "nodes/")
    assert status == 200, view
    return view


def test_a_subscriber_on_one_node_receives_what_the_other_nodes_broadcast(
    cluster, token
):
    a, b, c = cluster
    with ws_connect(
        a.address, additional_headers={"Authorization": f"Token {token}"}
    ) as ws:
        send(ws, {"action": "subscribe", "category": "alerts"})
        assert receive(ws)["type"] == "subscribed"
        sent = [alert_on(b, token, "from node b"), alert_on(c, token, "from node c")]
        sent_ids = {wire["message_id"] for wire in sent}
        received = messages_until(
            ws, lambda got: sent_ids <= {m["message_id"] for m in got}
        )
    assert [(m["message_id"], m["sequence"], m["node"]) for m in received] == [
        (sent[0]["message_id"], sent[0]["sequence"], "web-b@loopback"),
        (sent[1]["message_id"], sent[1]["sequence"], "web-c@loopback"),
    ]
    assert sent[1]["sequence"] == sent[0]["sequence"] + 1
    assert received == sent  # the same wire form the broadcasting node answered


def test_every_node_sees_the_cluster_of_three_and_a_killed_one_failed_once(
    cluster, token
):
    a, b, c = cluster
    wait_for(lambda: Node.objects.alive().count() == 3, 10, "three nodes heartbeating")
    for node in cluster:
        view = nodes_view(node, token)
        others = sorted(set(NAMES) - {node.name})
        assert view["cluster"]["node_name"] == node.name
        assert view["cluster"]["connected_nodes"] == others
        assert view["cluster"]["cluster_size"] == 3
        assert [
            (n["name"], n["role"], n["status"], n["is_connected"])
            for n in view["nodes"]
        ] == [(name, "web", "healthy", True) for name in NAMES]
    assert cluster_context()["connected_nodes"] == list(NAMES)

    with ws_connect(
        a.address, additional_headers={"Authorization": f"Token {token}"}
    ) as ws:
        send(ws, {"action": "subscribe", "category": "alerts"})
        assert receive(ws)["type"] == "subscribed"
        c.kill()
        killed_at = time.monotonic()
        [alert] = messages_until(ws, lambda got: bool(got), timeout=10)
        noticed_after = time.monotonic() - killed_at
        time.sleep(3 * WINDOW)  # A and B both kept checking meanwhile
    assert alert["topic"] == "node_failure"
    assert alert["payload"]["metadata"]["affected_node"] == "web-c@loopback"
    assert alert["originating_node"] in ("web-a@loopback", "web-b@loopback")
    # Silent for the window since its last heartbeat, up to one interval before the kill.
    assert WINDOW - 0.5 <= noticed_after <= WINDOW + 2.5, noticed_after
    print(f"node_failure alert received on node A {noticed_after:.2f} s after the kill")
    failures = Message.objects.filter(payload__event_type="node_failure")
    [report] = failures
    assert report.payload["unhealthy_nodes"] == ["web-c@loopback"]
    assert report.payload["healthy_nodes"] == ["web-a@loopback", "web-b@loopback"]
    assert report.originating_node == alert["originating_node"]
    assert Message.objects.filter(category="alerts", topic="node_failure").count() == 1
    removed = Message.objects.filter(
        payload__event="node_removed", payload__affected_nodes=["web-c@loopback"]
    )
    assert removed.count() == 1
    for node in (a, b):
        view = nodes_view(node, token)
        assert view["cluster"]["connected_nodes"] == sorted(
            {"web-a@loopback", "web-b@loopback"} - {node.name}
        )
        assert {n["name"]: n["status"] for n in view["nodes"]} == {
            "web-a@loopback": "healthy",
            "web-b@loopback": "healthy",
            "web-c@loopback": "failed",
        }
    assert cluster_context()["connected_nodes"] == ["web-a@loopback", "web-b@loopback"]

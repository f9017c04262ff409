"""SystemLifecycle from the ASGI lifespan (and WSGI), SystemConfig on changed settings."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.db import DatabaseError
from django.test.client import ClientHandler

from opsmessaging import keys, nodes
from opsmessaging.capture import lifecycle
from opsmessaging.capture.lifecycle import LifespanMiddleware
from opsmessaging.models import Message, Node
from opsmessaging.nodenames import reset_process_role
from tests.capture.support import (
    PYTHON_BIN,
    ROOT,
    child_env,
    stored,
    wait_for,
    without_time,
)

NODE = "web1@testhost"
LIFESPAN = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def named_node(settings):
    settings.OPSMESSAGING = {
        "NODE_NAME": NODE,
        "SYSTEM_NAME": "shop",
        "SYSTEM_VERSION": "2.1.0",
    }


def events() -> list[str]:
    return [m["payload"]["event"] for m in stored("SystemLifecycle")]


def lifespan(app) -> dict[str, object]:
    """Drive a full lifespan exchange; return what the app answered and stored between."""

    async def exchange() -> dict[str, object]:
        communicator = ApplicationCommunicator(app, LIFESPAN)
        await communicator.send_input({"type": "lifespan.startup"})
        started = await communicator.receive_output(timeout=10)
        between = await sync_to_async(events)()
        await communicator.send_input({"type": "lifespan.shutdown"})
        stopped = await communicator.receive_output(timeout=10)
        await communicator.wait(timeout=10)
        return {"started": started, "between": between, "stopped": stopped}

    return async_to_sync(exchange)()


def test_lifespan_startup_and_shutdown_store_the_four_events():
    answers = lifespan(LifespanMiddleware(get_asgi_application()))
    assert answers == {
        "started": {"type": "lifespan.startup.complete"},
        "between": ["starting", "started"],
        "stopped": {"type": "lifespan.shutdown.complete"},
    }
    messages = stored("SystemLifecycle")
    assert [(m["category"], m["topic"], m["node"]) for m in messages] == [
        ("system", "lifecycle", NODE)
    ] * 4
    assert [without_time(m["payload"]) for m in messages] == [
        {"event": event, "system_name": "shop", "version": "2.1.0", "node": NODE}
        for event in ("starting", "started", "stopping", "stopped")
    ]


def test_lifespan_startup_registers_the_node():
    lifespan(LifespanMiddleware(get_asgi_application(), role="api"))
    node = Node.objects.get(name=NODE)
    assert node.role == "api"
    assert node.config == lifecycle.effective_config()


@pytest.mark.urls("tests.capture.urls")
def test_http_requests_pass_through_the_lifespan_middleware():
    async def request() -> list[dict[str, object]]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/fine/",
            "raw_path": b"/fine/",
            "query_string": b"",
            "headers": [(b"host", b"localhost")],
            "client": ("127.0.0.1", 5000),
            "server": ("localhost", 80),
        }
        communicator = ApplicationCommunicator(
            LifespanMiddleware(get_asgi_application()), scope
        )
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(timeout=10)
        body = await communicator.receive_output(timeout=10)
        return [start, body]

    start, body = async_to_sync(request)()
    assert (start["type"], start["status"]) == ("http.response.start", 200)
    assert body["body"] == b"fine"
    assert Message.objects.count() == 0


def test_startup_completes_when_the_store_is_down(monkeypatch):
    def down(*args, **kwargs):
        raise DatabaseError("the store is down")

    monkeypatch.setattr(Message.objects, "append", down)
    monkeypatch.setattr(Node, "heartbeat", down)
    answers = lifespan(LifespanMiddleware(get_asgi_application()))
    assert answers["started"] == {"type": "lifespan.startup.complete"}
    assert answers["stopped"] == {"type": "lifespan.shutdown.complete"}
    assert Message.objects.count() == 0


def test_capture_lifecycle_off_still_registers_the_node(settings):
    settings.OPSMESSAGING = {"NODE_NAME": NODE, "CAPTURE_LIFECYCLE": False}
    lifecycle.startup("web")
    lifecycle.shutdown()
    assert events() == []
    assert Node.objects.filter(name=NODE, role="web").exists()


def test_first_start_stores_the_settings_and_reports_no_change():
    lifecycle.startup("web")
    assert stored("SystemConfig") == []
    assert Node.objects.get(name=NODE).config["SYSTEM_NAME"] == "shop"


def test_changed_settings_at_the_next_start_store_a_system_config(settings):
    lifecycle.startup("web")
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "LOG_RATE_LIMIT": 50}
    lifecycle.startup("web")
    lifecycle.startup("web")  # the same settings again: nothing new
    [message] = stored("SystemConfig")
    assert (message["category"], message["topic"], message["tag"]) == (
        "system",
        "config",
        "system_config_changed",
    )
    assert without_time(message["payload"]) == {
        "component": "opsmessaging",
        "changes": {"LOG_RATE_LIMIT": 50},
        "previous_config": {"LOG_RATE_LIMIT": 100},
        "changed_by": "system",
        "node": NODE,
    }
    assert Node.objects.get(name=NODE).config["LOG_RATE_LIMIT"] == 50


def test_a_removed_setting_is_reported_with_its_default(settings):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "BRUTE_FORCE_THRESHOLD": 9}
    lifecycle.startup("web")
    settings.OPSMESSAGING = {
        "NODE_NAME": NODE,
        "SYSTEM_NAME": "shop",
        "SYSTEM_VERSION": "2.1.0",
    }
    lifecycle.startup("web")
    [message] = stored("SystemConfig")
    assert message["payload"]["changes"] == {"BRUTE_FORCE_THRESHOLD": 5}
    assert message["payload"]["previous_config"] == {"BRUTE_FORCE_THRESHOLD": 9}


def test_a_change_that_could_not_be_broadcast_is_reported_at_the_next_start(
    settings, monkeypatch
):
    lifecycle.startup("web")
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "LOG_RATE_LIMIT": 50}
    real_append = Message.objects.append

    def down(*args, **kwargs):
        raise DatabaseError("the store is down")

    monkeypatch.setattr(Message.objects, "append", down)
    lifecycle.startup("web")
    assert Node.objects.get(name=NODE).config["LOG_RATE_LIMIT"] == 100
    monkeypatch.setattr(Message.objects, "append", real_append)
    lifecycle.startup("web")
    [message] = stored("SystemConfig")
    assert message["payload"]["changes"] == {"LOG_RATE_LIMIT": 50}


def test_capture_config_changes_off_reports_nothing_but_remembers(settings):
    lifecycle.startup("web")
    settings.OPSMESSAGING = {
        **settings.OPSMESSAGING,
        "LOG_RATE_LIMIT": 50,
        "CAPTURE_CONFIG_CHANGES": False,
    }
    lifecycle.startup("web")
    assert stored("SystemConfig") == []
    assert Node.objects.get(name=NODE).config["LOG_RATE_LIMIT"] == 50


@pytest.mark.django_db(transaction=True)
def test_the_demo_asgi_application_under_uvicorn_announces_start_and_stop():
    server = subprocess.Popen(
        [
            str(PYTHON_BIN / "uvicorn"),
            "project.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--lifespan",
            "on",
        ],
        cwd=ROOT,
        env=child_env(OPSMESSAGING_NODE_NAME="web7@testhost"),
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, server.kill)  # never wait forever for its output
    watchdog.start()
    try:
        port = None
        for line in server.stderr:
            found = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", line)
            if found:
                port = int(found.group(1))
                break
        assert port is not None, "uvicorn did not start"
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/", timeout=10
        ) as response:
            assert response.status == 200
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        watchdog.cancel()
        if server.poll() is None:
            server.kill()
        server.stderr.close()
    messages = stored("SystemLifecycle")
    assert [(m["node"], m["payload"]["event"]) for m in messages] == [
        ("web7@testhost", event)
        for event in ("starting", "started", "stopping", "stopped")
    ]
    assert messages[0]["payload"]["system_name"] == "opsmessaging_demo"
    assert Node.objects.get(name="web7@testhost").role == "web"


@pytest.mark.django_db(transaction=True)
def test_the_demo_wsgi_module_announces_start_on_load_and_stop_at_exit():
    subprocess.run(
        [sys.executable, "-c", "import project.wsgi"],
        cwd=ROOT,
        env=child_env(OPSMESSAGING_NODE_NAME="wsgi1@testhost"),
        check=True,
        timeout=60,
    )
    assert [(m["node"], m["payload"]["event"]) for m in stored("SystemLifecycle")] == [
        ("wsgi1@testhost", event)
        for event in ("starting", "started", "stopping", "stopped")
    ]


OLD_SECRET = "old-signing-secret-0123456789"
NEW_SECRET = "new-signing-secret-9876543210"
FERNET_KEY = "Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg="


def test_captured_settings_carry_no_secret(settings):
    settings.OPSMESSAGING = {
        **settings.OPSMESSAGING,
        "SIGNING_KEYS": [{"id": "k1", "secret": OLD_SECRET}],
        "ENCRYPTION_KEYS": [FERNET_KEY],
    }
    lifecycle.startup("web")
    settings.OPSMESSAGING = {
        **settings.OPSMESSAGING,
        "SIGNING_KEYS": [
            {"id": "k2", "secret": NEW_SECRET},
            {"id": "k1", "secret": OLD_SECRET},
        ],
    }
    lifecycle.startup("web")
    [message] = stored("SystemConfig")
    rows = json.dumps(
        [list(Node.objects.values_list("config", flat=True))]
        + [m.to_wire() for m in Message.objects.all()]
    )
    for secret in (OLD_SECRET, NEW_SECRET, FERNET_KEY):
        assert secret not in rows
    changed = message["payload"]["changes"]["SIGNING_KEYS"]
    assert [key["id"] for key in changed] == ["k2", "k1"]
    assert changed[1] == {"id": "k1", "secret": keys.secret_fingerprint(OLD_SECRET)}
    assert Node.objects.get(name=NODE).config["ENCRYPTION_KEYS"] == [
        keys.secret_fingerprint(FERNET_KEY)
    ]


@pytest.fixture
def heartbeat_autostart(monkeypatch, settings):
    """Let ``startup`` start the heartbeat, as it does outside the tests."""
    from tests.conftest import START_HEARTBEAT

    monkeypatch.setattr(lifecycle, "start_heartbeat", START_HEARTBEAT)
    monkeypatch.setattr(lifecycle, "_started_pid", 0)
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "HEARTBEAT_INTERVAL": 200}
    yield
    nodes.stop_heartbeat(leave_cluster=False)
    reset_process_role()


@pytest.mark.django_db(transaction=True)
def test_the_lifespan_starts_the_heartbeat_and_its_shutdown_stops_the_node(
    heartbeat_autostart,
):
    answers = lifespan(LifespanMiddleware(get_asgi_application()))
    assert answers["between"] == ["starting", "started"]
    assert nodes.current_role("none") == "none"  # the thread is gone
    node = Node.objects.get(name=NODE)
    assert (node.role, node.status) == ("web", Node.Status.STOPPED)
    assert [m["payload"]["event"] for m in stored("ClusterMembership")] == [
        "node_added",
        "node_removed",
    ]


@pytest.mark.django_db(transaction=True)
def test_startup_heartbeats_until_shutdown(heartbeat_autostart):
    lifecycle.startup("web")
    assert nodes.current_role("none") == "web"
    lifecycle.shutdown()
    assert nodes.current_role("none") == "none"
    assert Node.objects.get(name=NODE).status == Node.Status.STOPPED


@pytest.mark.django_db(transaction=True)
def test_heartbeat_autostart_off_starts_no_heartbeat(heartbeat_autostart, settings):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "HEARTBEAT_AUTOSTART": False}
    lifecycle.startup("web")
    assert nodes.current_role("none") == "none"


def test_the_first_request_of_a_wsgi_server_starts_the_process(
    heartbeat_autostart, monkeypatch
):
    started: list[str] = []
    monkeypatch.setattr(lifecycle, "start_heartbeat", started.append)
    monkeypatch.setattr(lifecycle.atexit, "register", lambda f: None)
    lifecycle.on_request_started(sender=WSGIHandler, environ={})
    lifecycle.on_request_started(sender=WSGIHandler, environ={})
    assert started == ["web"]
    assert events() == ["starting", "started"]
    assert Node.objects.get(name=NODE).role == "web"


def test_the_test_clients_requests_start_nothing(heartbeat_autostart, client):
    client.get("/")
    lifecycle.on_request_started(sender=ClientHandler, environ={})
    assert not lifecycle.is_started()
    assert events() == []


def test_the_first_request_of_an_asgi_server_without_lifespan_starts_the_process(
    heartbeat_autostart, monkeypatch
):
    started: list[str] = []
    monkeypatch.setattr(lifecycle, "start_heartbeat", started.append)
    monkeypatch.setattr(lifecycle.atexit, "register", lambda f: None)
    lifecycle.on_request_started(sender=ASGIHandler, scope={})
    assert lifecycle.is_started()
    assert started == ["web"]


@pytest.mark.django_db(transaction=True)
def test_a_sigtermed_uvicorn_node_ends_stopped_without_a_failure_alert(settings):
    """Item 1 of issue 20: uvicorn re-raises SIGTERM after its lifespan shutdown, so the
    process dies before ``atexit``; the lifespan shutdown must mark the node stopped."""
    server = subprocess.Popen(
        [
            str(PYTHON_BIN / "uvicorn"),
            "project.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--lifespan",
            "on",
        ],
        cwd=ROOT,
        env=child_env(
            OPSMESSAGING_NODE_NAME="web8@testhost",
            OPSMESSAGING_HEARTBEAT_AUTOSTART="1",
            OPSMESSAGING_HEARTBEAT_INTERVAL="200",
            OPSMESSAGING_NODE_FAILURE_THRESHOLD="3",
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, server.kill)
    watchdog.start()
    try:
        for line in server.stderr:
            if "Uvicorn running on" in line:
                break
        wait_for(
            lambda: Node.objects.filter(
                name="web8@testhost", status=Node.Status.HEALTHY
            ).exists()
        )
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        watchdog.cancel()
        if server.poll() is None:
            server.kill()
        server.stderr.close()
    settings.OPSMESSAGING = {
        "NODE_NAME": "checker@testhost",
        "HEARTBEAT_INTERVAL": 200,
        "NODE_FAILURE_THRESHOLD": 3,
    }
    time.sleep(1.0)  # well past the 600 ms heartbeat window
    assert nodes.check_cluster() == []
    assert Node.objects.get(name="web8@testhost").status == Node.Status.STOPPED
    assert Message.objects.filter(category="alerts").count() == 0
    assert [m["payload"]["event"] for m in stored("SystemLifecycle")] == [
        "starting",
        "started",
        "stopping",
        "stopped",
    ]

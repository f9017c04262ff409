"""Node names: ``{role}@{host}`` by default, a role set once per process."""

from __future__ import annotations

import os
import socket

import pytest

from opsmessaging import nodes
from opsmessaging.nodenames import (
    process_role,
    reset_process_role,
    set_process_role,
    this_node,
)


@pytest.fixture(autouse=True)
def no_role(settings):
    settings.OPSMESSAGING = {}
    reset_process_role()
    yield
    reset_process_role()


def host() -> str:
    return socket.gethostname().replace(" ", "-")


def test_a_shell_or_command_is_named_after_its_role_command():
    assert process_role() == "command"
    assert this_node() == f"command@{host()}"


def test_a_web_process_is_named_web_at_its_host():
    set_process_role("web")
    assert this_node() == f"web@{host()}"


def test_the_first_role_of_a_process_is_its_role_for_good():
    set_process_role("worker")
    set_process_role("beat")  # a beat embedded in the worker's process (-B)
    assert (process_role(), this_node()) == ("worker", f"worker@{host()}")


def test_a_beat_forked_from_a_worker_is_a_node_of_its_own(monkeypatch):
    set_process_role("worker")
    monkeypatch.setattr(os, "getpid", lambda: 999_999)  # the forked beat process
    set_process_role("beat")
    assert this_node() == f"beat@{host()}"


def test_node_name_templates_take_role_host_and_pid(settings):
    settings.OPSMESSAGING = {"NODE_NAME": "shop-{role}-{pid}@{host}"}
    set_process_role("web")
    assert this_node() == f"shop-web-{os.getpid()}@{host()}"


def test_a_literal_node_name_is_used_as_it_is(settings):
    settings.OPSMESSAGING = {"NODE_NAME": "web1@app-3"}
    assert this_node() == "web1@app-3"


def test_heartbeating_as_beat_in_a_worker_keeps_the_worker_role(monkeypatch):
    started: list[str] = []

    class Thread:
        def __init__(self, role: str) -> None:
            started.append(role)
            self.pid, self.role = os.getpid(), role

        def start(self) -> None: ...

        def is_alive(self) -> bool:
            return True

    monkeypatch.setattr(nodes, "HeartbeatThread", Thread)
    monkeypatch.setattr(nodes, "_thread", None)
    monkeypatch.setattr(nodes, "_leaves_at_exit", True)
    nodes.start_heartbeat("worker")
    nodes.start_heartbeat("beat")
    assert started == ["worker"]
    assert nodes.current_role("none") == "worker"

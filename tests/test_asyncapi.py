"""The AsyncAPI document: valid for the AsyncAPI project's own parser (npm
``@asyncapi/parser`` under node), complete for what the consumer sends, and true of the
frames a real connection carries."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from opsmessaging import protocol, pubsub
from opsmessaging.asyncapi import ERROR_CODES, asyncapi_document
from opsmessaging.catalogue import alerts
from tests.conftest import REQUIRE_SERVICES
from tests.live import live_asgi_server, receive, receive_until, send, ws_connect

ROOT = Path(__file__).resolve().parent.parent
PARSER = "@asyncapi/parser@3.6.6"
NODE_DIR = ROOT / "build" / "asyncapi-node"
VALIDATE = ROOT / "tests" / "asyncapi_js" / "validate.cjs"
CONSUMER_SOURCES = [
    ROOT / "opsmessaging" / "consumers.py",
    ROOT / "opsmessaging" / "subscriptions.py",
]


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"OPSMESSAGING_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node_parser() -> Path:
    """Install the AsyncAPI parser from the npm registry into build/ (once)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed to run @asyncapi/parser")
    installed = NODE_DIR / "node_modules" / "@asyncapi" / "parser" / "package.json"
    wanted = PARSER.rsplit("@", 1)[1]
    if not installed.exists() or json.loads(installed.read_text())["version"] != wanted:
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", PARSER],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            _unavailable(f"npm install {PARSER} failed: {done.stderr[-2000:]}")
    return NODE_DIR / "node_modules"


def _parse(node_modules: Path, document: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        ["node", str(VALIDATE)],
        input=json.dumps(document),
        env={"NODE_PATH": str(node_modules), "PATH": "/usr/bin:/bin:/usr/local/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_document_is_valid_for_the_asyncapi_parser(node_parser: Path) -> None:
    result = _parse(node_parser, asyncapi_document())
    assert result["diagnostics"] == []
    assert result["parsed"] is True
    assert result["version"] == "3.1.0"
    assert result["channels"] == [protocol.WEBSOCKET_PATH]
    assert sorted(result["operations"]) == sorted(
        [[f"receive_{a}", "receive"] for a in protocol.ACTIONS]
        + [[f"send_{f}", "send"] for f in protocol.FRAME_TYPES]
    )
    assert sorted(result["messages"]) == sorted(protocol.ACTIONS + protocol.FRAME_TYPES)


def test_the_parser_refuses_a_broken_document(node_parser: Path) -> None:
    document = asyncapi_document()
    document["components"]["schemas"]["pongFrame"]["type"] = "pong"
    result = _parse(node_parser, document)
    assert result["parsed"] is False
    assert any(
        d["severity"] == 0 and d["path"] == "components.schemas.pongFrame.type"
        for d in result["diagnostics"]
    )


def _consumer_trees() -> Iterator[ast.AST]:
    for path in CONSUMER_SOURCES:
        yield ast.parse(path.read_text())


def _error_codes_sent() -> set[str]:
    codes: set[str] = set()
    for tree in _consumer_trees():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "FrameError"
                and isinstance(node.args[0], ast.Constant)
            ):
                codes.add(node.args[0].value)
            if (  # self._failed(sub, "replay_failed", ...): a code handed on
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "_failed"
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
            ):
                codes.add(node.args[1].value)
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "code"
            ):
                value = node.value
                branches = (
                    [value.body, value.orelse]
                    if isinstance(value, ast.IfExp)
                    else [value]
                )
                codes.update(b.value for b in branches if isinstance(b, ast.Constant))
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "code"
                        and isinstance(value, ast.Constant)
                    ):
                        codes.add(value.value)
    return codes


def _frame_types_sent() -> set[str]:
    types: set[str] = set()
    for tree in _consumer_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "type"
                        and isinstance(value, ast.Attribute)
                        and isinstance(value.value, ast.Name)
                        and value.value.id == "protocol"
                    ):
                        types.add(getattr(protocol, value.attr))
    return types


def test_every_error_code_the_consumer_sends_is_described() -> None:
    document = asyncapi_document()
    described = document["components"]["schemas"]["errorFrame"]["properties"]["code"]
    assert _error_codes_sent() == set(ERROR_CODES) == set(described["enum"])


def test_every_frame_type_the_consumer_sends_is_described() -> None:
    messages = asyncapi_document()["channels"]["opsmessaging"]["messages"]
    sent = _frame_types_sent() | {protocol.MESSAGE}  # message frames are spliced text
    assert sent == set(protocol.FRAME_TYPES)
    assert set(messages) == set(protocol.FRAME_TYPES) | set(protocol.ACTIONS)


def _validator(document: dict[str, Any], frame: str) -> Any:
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/components/schemas/{frame}Frame",
        "components": document["components"],
    }
    return jsonschema_rs.validator_for(root, validate_formats=True)


@pytest.mark.django_db(transaction=True)
def test_frames_of_a_real_connection_match_their_schemas(settings: Any) -> None:
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "CAPTURE_AUTH": False}
    document = asyncapi_document()
    user = User.objects.create_user("reader")
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="opsmessaging", codename="view_message"
        )
    )
    pubsub.broadcast(alerts.system_alert("critical", "system", "disk", None, "t"))
    frames: list[dict[str, Any]] = []
    with live_asgi_server() as address, ws_connect(address, user) as ws:
        send(ws, {"action": "ping"})
        frames.append(receive(ws))
        send(ws, {"action": "subscribe", "category": "alerts", "since": 0})
        frames.append(receive_until(ws, "subscribed"))
        frames.append(receive_until(ws, "message"))
        send(ws, {"action": "subscribe", "category": "nope"})
        frames.append(receive(ws))
        send(ws, {"action": "unsubscribe", "category": "alerts"})
        frames.append(receive(ws))
        send(
            ws, {"action": "subscribe", "category": "alerts", "topic": "x", "since": 0}
        )
        frames.append(receive_until(ws, "subscribed"))
    assert [f["type"] for f in frames] == [
        "pong",
        "subscribed",
        "message",
        "error",
        "unsubscribed",
        "subscribed",
    ]
    for frame in frames:
        errors = [
            e.message for e in _validator(document, frame["type"]).iter_errors(frame)
        ]
        assert errors == [], frame


def test_client_frames_are_checked_by_their_schemas() -> None:
    document = asyncapi_document()
    subscribe = _validator(document, "subscribe")
    assert subscribe.is_valid(
        {
            "action": "subscribe",
            "category": "health",
            "topic": "cluster:health",
            "since": 41,
            "filters": {"node": "web1@a", "severity": "warning"},
        }
    )
    assert not subscribe.is_valid({"action": "subscribe", "category": "nope"})
    assert not subscribe.is_valid(
        {"action": "subscribe", "category": "health", "since": -1}
    )


def test_message_payload_must_match_its_type_schema() -> None:
    document = asyncapi_document()
    wire = {
        "type": "message",
        "subscription": {"category": "alerts", "topic": None},
        "message": {
            "id": 1,
            "message_id": "m1",
            "category": "alerts",
            "topic": "system",
            "tag": "system_alert",
            "payload_type": "SystemAlert",
            "version": 1,
            "node": "a@h",
            "source_node": "a@h",
            "originating_node": "a@h",
            "timestamp": "2026-01-01T00:00:00.000Z",
            "severity": "critical",
            "sequence": 1,
            "payload": {"no_such_field": 1},
            "signature_valid": True,
        },
    }
    assert not _validator(document, "message").is_valid(wire)
    wire["message"]["payload"] = None  # an unreadable (undecryptable) payload
    assert _validator(document, "message").is_valid(wire)


@pytest.mark.django_db
def test_the_document_is_served_for_the_requested_host(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["ops.example"]
    response = Client().get("/api/opsmessaging/asyncapi/", HTTP_HOST="ops.example:8443")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    server = response.json()["servers"]["default"]
    assert (server["host"], server["protocol"]) == ("ops.example:8443", "ws")


def test_the_command_writes_the_document(tmp_path: Path) -> None:
    out = tmp_path / "asyncapi.json"
    call_command(
        "opsmessaging_asyncapi",
        "--host",
        "ops:443",
        "--protocol",
        "wss",
        "--output",
        str(out),
    )
    assert json.loads(out.read_text()) == asyncapi_document("ops:443", "wss")


def test_the_command_refuses_a_url_as_host() -> None:
    with pytest.raises(CommandError, match="host\\[:port\\]"):
        call_command("opsmessaging_asyncapi", "--host", "ws://ops/")

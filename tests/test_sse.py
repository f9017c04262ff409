"""The Server-Sent Events stream, read by a real SSE client (httpx-sse) from uvicorn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import Permission, User
from httpx_sse import ServerSentEvent, connect_sse

from opsmessaging import pubsub
from opsmessaging.catalogue import alerts
from opsmessaging.models import Message
from tests.live import live_asgi_server, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/opsmessaging/stream/"


@pytest.fixture(autouse=True)
def _fast_stream(settings: Any) -> None:
    settings.OPSMESSAGING = {
        **settings.OPSMESSAGING,
        "CAPTURE_AUTH": False,
        "SSE_POLL_INTERVAL": 50,
        "SSE_HEARTBEAT_INTERVAL": 200,
        "SSE_RETRY": 1500,
    }


@pytest.fixture
def server() -> Iterator[str]:
    with live_asgi_server() as address:
        yield address


def _reader(*codenames: str) -> User:
    user = User.objects.create_user(f"reader-{len(codenames)}")
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="opsmessaging", codename__in=codenames
        )
    )
    return user


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    cookie = session_cookie(_reader("view_message"))
    with httpx.Client(
        base_url=f"http://{server}", headers={"Cookie": cookie}, timeout=5
    ) as http:
        yield http


def _alert(title: str, severity: str = "warning", **opts: Any) -> Message:
    result = pubsub.broadcast(
        alerts.system_alert(severity, "system", title, None, "test"), **opts
    )
    assert result.ok and result.message is not None
    result.wait_for_sequence()  # the stream serves numbered messages
    return result.message


def _messages(
    http: httpx.Client, count: int, headers: dict[str, str] | None = None, **params: str
) -> list[ServerSentEvent]:
    """Return the first ``count`` message events of the stream (skipping the retry hint)."""
    events: list[ServerSentEvent] = []
    with connect_sse(
        http, "GET", PATH, params=params, headers=dict(headers or {})
    ) as source:
        assert source.response.status_code == 200
        for event in source.iter_sse():
            if event.data:
                events.append(event)
            if len(events) == count:
                break
    return events


def test_resumes_after_last_event_id_header(client: httpx.Client) -> None:
    stored = [_alert(f"a{i}") for i in range(4)]
    events = _messages(
        client, 3, headers={"Last-Event-ID": str(stored[0].sequence)}, category="alerts"
    )
    assert [e.id for e in events] == [str(m.sequence) for m in stored[1:]]
    assert [e.event for e in events] == ["SystemAlert"] * 3
    assert [json.loads(e.data)["message_id"] for e in events] == [
        m.message_id for m in stored[1:]
    ]
    assert json.loads(events[0].data) == json.loads(
        json.dumps(Message.objects.get(pk=stored[1].pk).to_wire())
    )


def test_resumes_after_last_event_id_query(client: httpx.Client) -> None:
    stored = [_alert(f"a{i}") for i in range(3)]
    events = _messages(
        client, 1, category="alerts", last_event_id=str(stored[1].sequence)
    )
    assert [e.id for e in events] == [str(stored[2].sequence)]


def test_without_a_resume_point_only_new_messages_arrive(server: str) -> None:
    _alert("old")
    cookie = session_cookie(_reader("view_message"))
    with (
        httpx.Client(
            base_url=f"http://{server}", headers={"Cookie": cookie}, timeout=5
        ) as http,
        connect_sse(http, "GET", PATH, params={"category": "alerts"}) as source,
    ):
        # The response has started: the stream's starting point is fixed.
        new = [_alert("new1"), _alert("new2")]
        got: list[str] = []
        for event in source.iter_sse():
            if event.data:
                got.append(event.id)
            if len(got) == 2:
                break
    assert got == [str(m.sequence) for m in new]


def test_first_block_is_the_retry_hint(client: httpx.Client) -> None:
    with connect_sse(client, "GET", PATH, params={"category": "alerts"}) as source:
        assert source.response.headers["content-type"] == (
            "text/event-stream; charset=utf-8"
        )
        assert source.response.headers["cache-control"] == "no-cache"
        first = next(source.iter_sse())
    assert (first.retry, first.data, first.event) == (1500, "", "message")


def test_idle_stream_sends_heartbeat_comments(client: httpx.Client) -> None:
    with client.stream("GET", PATH, params={"category": "alerts"}) as response:
        lines = response.iter_lines()
        seen = [next(lines) for _ in range(6)]
    assert ": heartbeat" in seen


def test_topic_and_severity_filters_apply(client: httpx.Client) -> None:
    _alert("low", severity="info", topic="disk")
    wanted = _alert("high", severity="critical", topic="disk")
    _alert("other topic", severity="critical", topic="cpu")
    last = _alert("last", severity="error", topic="disk")
    events = _messages(
        client,
        2,
        category="alerts",
        topic="disk",
        min_severity="error",
        last_event_id="0",
    )
    assert [e.id for e in events] == [str(wanted.sequence), str(last.sequence)]


def test_resuming_before_pruned_messages_says_so(client: httpx.Client) -> None:
    stored = [_alert(f"a{i}") for i in range(3)]
    Message.objects.filter(pk__in=[stored[0].pk, stored[1].pk]).delete()
    with connect_sse(
        client, "GET", PATH, params={"category": "alerts", "last_event_id": "0"}
    ) as source:
        events = [e for e, _ in zip(source.iter_sse(), range(3), strict=False)]
    assert events[1].event == "pruned"
    assert json.loads(events[1].data) == {
        "first_available_sequence": stored[2].sequence,
        "since": 0,
    }
    assert (events[2].id, events[2].event) == (str(stored[2].sequence), "SystemAlert")


def test_stream_ends_after_its_maximum_duration(
    client: httpx.Client, settings: Any
) -> None:
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "SSE_MAX_DURATION": 300}
    with client.stream("GET", PATH, params={"category": "alerts"}) as response:
        body = response.read().decode()
    assert body.endswith(": reconnect\n\n")


def test_anonymous_is_refused(server: str) -> None:
    response = httpx.get(f"http://{server}{PATH}", params={"category": "alerts"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_category_needs_its_own_permission(client: httpx.Client) -> None:
    response = client.get(PATH, params={"category": "security"})
    assert response.status_code == 403
    assert response.json() == {
        "code": "forbidden",
        "detail": "you may not view the 'security' category",
    }


@pytest.mark.parametrize(
    ("params", "headers", "code"),
    [
        ({}, {}, "unknown_category"),
        ({"category": "nope"}, {}, "unknown_category"),
        ({"category": "alerts", "min_severity": "loud"}, {}, "invalid_filters"),
        ({"category": "alerts", "colour": "red"}, {}, "invalid_filters"),
        ({"category": "alerts"}, {"Last-Event-ID": "-1"}, "invalid_last_event_id"),
        ({"category": "alerts", "last_event_id": "x"}, {}, "invalid_last_event_id"),
    ],
)
def test_bad_requests_are_answered_400_with_a_code(
    client: httpx.Client, params: dict[str, str], headers: dict[str, str], code: str
) -> None:
    response = client.get(PATH, params=params, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_batches_and_concurrent_broadcasts_give_every_sequence_once(
    client: httpx.Client, settings: Any
) -> None:
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "WS_REPLAY_BATCH": 7}
    before = [_alert(f"before{i}") for i in range(10)]
    got: list[int] = []
    with connect_sse(
        client, "GET", PATH, params={"category": "alerts", "last_event_id": "0"}
    ) as source:
        after = []
        for event in source.iter_sse():
            if not event.data:
                continue
            got.append(int(event.id))
            if len(after) < 15:
                after.append(_alert(f"after{len(after)}"))
            if len(got) == 25:
                break
    expected = [m.sequence for m in before + after]
    assert got == expected == list(range(1, 26))


def test_a_drf_token_authenticates_like_on_the_websocket(server: str) -> None:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=_reader("view_message"))
    stored = [_alert("a"), _alert("b")]
    with httpx.Client(
        base_url=f"http://{server}",
        headers={"Authorization": f"Token {token.key}"},
        timeout=5,
    ) as http:
        events = _messages(
            http, 1, category="alerts", last_event_id=str(stored[0].sequence)
        )
        refused = http.get(
            PATH, params={"category": "alerts"}, headers={"Authorization": "Token nope"}
        )
    assert [e.id for e in events] == [str(stored[1].sequence)]
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"


def test_a_store_failure_ends_the_stream_for_the_client_to_resume(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    from opsmessaging import sse

    def failing(*args: Any) -> Any:
        raise OperationalError("the database is gone")

    monkeypatch.setattr(sse, "_rows", failing)
    with client.stream("GET", PATH, params={"category": "alerts"}) as response:
        assert response.status_code == 200
        body = response.read().decode()
    assert body.endswith(": store unavailable\n\n")

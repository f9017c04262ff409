"""Users, clients and messages with fixed values, so that API tests can assert exact JSON."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from opsmessaging import pubsub
from opsmessaging.models import Message

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
NODE = "web1@app-1"
URL = "/api/opsmessaging/"


@pytest.fixture(autouse=True)
def _fresh_throttle_counts() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def make_user(*codenames: str, name: str | None = None) -> User:
    user = User.objects.create_user(name or f"user{User.objects.count()}")
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="opsmessaging", codename__in=codenames
        )
    )
    return User.objects.get(pk=user.pk)  # fresh permission cache


def client_for(user: User | None) -> APIClient:
    """A client that authenticates with the user's token (anonymous for None)."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def reader() -> APIClient:
    """May read every category but security and audit."""
    return client_for(make_user("view_message", name="reader"))


@pytest.fixture
def security_reader() -> APIClient:
    return client_for(
        make_user("view_message", "view_security_messages", name="secreader")
    )


@pytest.fixture
def writer() -> APIClient:
    """May broadcast every category but security and audit, and set node fields; may
    not read."""
    return client_for(make_user("add_message", "override_message_node", name="writer"))


@pytest.fixture
def admin() -> APIClient:
    return client_for(User.objects.create_superuser("root", password=None))


def alert(
    title: str = "disk full",
    *,
    severity: str = "critical",
    at: datetime = T0,
    node: str = NODE,
    alert_type: str = "node_failure",
) -> Message:
    result = pubsub.broadcast_alert(
        alert_type,
        severity,
        title,
        {"disk": "/"},
        node=node,
        source_node=NODE,
        originating_node=NODE,
        timestamp=at,
        alert_id=f"a-{title.replace(' ', '-')}",
    )
    assert result.message is not None
    return result.message


def health(component: str = "store_worker", *, at: datetime = T0) -> Message:
    result = pubsub.broadcast_health_update(
        component,
        "healthy",
        {},
        node=NODE,
        source_node=NODE,
        originating_node=NODE,
        timestamp=at,
    )
    assert result.message is not None
    return result.message


def auth_failure(user_id: str = "mallory", *, at: datetime = T0) -> Message:
    result = pubsub.broadcast_security_event(
        "auth_event",
        user_id=user_id,
        event_type="login_failure",
        auth_method="password",
        node=NODE,
        source_node=NODE,
        originating_node=NODE,
        timestamp=at,
    )
    assert result.message is not None
    return result.message


def alert_wire(message: Message, title: str, severity: str = "critical") -> dict:
    """The exact wire form of a message made by ``alert()``, written out by hand."""
    return {
        "id": message.id,
        "message_id": message.message_id,
        "category": "alerts",
        "topic": "node_failure",
        "tag": "system_alert",
        "payload_type": "SystemAlert",
        "version": 1,
        "node": NODE,
        "source_node": NODE,
        "originating_node": NODE,
        "timestamp": "2026-01-02T03:04:05.678Z",
        "severity": severity,
        "sequence": message.sequence,
        "payload": {
            "alert_id": f"a-{title.replace(' ', '-')}",
            "severity": severity,
            "category": "network",
            "title": title,
            "description": None,
            "source": "opsmessaging",
            "node": NODE,
            "metadata": {"disk": "/"},
            "requires_ack": severity in ("error", "critical"),
            "alert_type": "node_failure",
            "timestamp": "2026-01-02T03:04:05.678Z",
        },
        "signature_valid": True,
        "sender": None,
        "received_by": None,
    }


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


# --- property-based runs against the API through WSGI (schemathesis) ------------------


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """Called straight through WSGI, Django would close the test's database connection
    after each request (the test client disconnects this for its requests too)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_token(django_user_model, wsgi_keeps_the_test_connection) -> str:
    """A superuser's token, and a few stored messages for the requests to find."""
    alert("one")
    health()
    auth_failure()
    user = django_user_model.objects.create_superuser("fuzzer", password=None)
    return Token.objects.create(user=user).key

"""Security capture: logins, logouts, failed logins and brute-force alerts, end to end."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import Client

from opsmessaging.capture.logins import attempted_username, auth_method
from opsmessaging.models import Message, OccurrenceWindow
from tests.capture.support import run_concurrently, stored, without_time

NODE = "web1@testhost"
LOGIN = "/admin/login/"
LOGOUT = "/admin/logout/"
PASSWORD = "correct-Horse-battery-42"
WRONG = "Wr0ng-s3cret-attempt!"
AGENT = "pytest-agent/1.0"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def named_node(settings):
    settings.OPSMESSAGING = {"NODE_NAME": NODE, "BRUTE_FORCE_THRESHOLD": 3}


@pytest.fixture
def alice():
    return get_user_model().objects.create_user(
        "alice", password=PASSWORD, is_staff=True
    )


def fail_login(client: Client, username: str = "alice", ip: str = "127.0.0.1"):
    response = client.post(
        LOGIN,
        {"username": username, "password": WRONG},
        HTTP_USER_AGENT=AGENT,
        REMOTE_ADDR=ip,
    )
    assert response.status_code == 200  # the form again, with its error
    return response


def everything_stored() -> str:
    return json.dumps([m.to_wire() for m in Message.objects.all()])


def test_failed_login_through_the_admin_form_stores_login_failure(client, alice):
    fail_login(client)
    [message] = stored("AuthEvent")
    assert (message["category"], message["topic"], message["tag"]) == (
        "security",
        "auth_events",
        "auth_event",
    )
    assert without_time(message["payload"]) == {
        "user_id": "alice",
        "event_type": "login_failure",
        "auth_method": "password",
        "source_ip": "127.0.0.1",
        "user_agent": AGENT,
        "node": NODE,
        "metadata": {"username": "alice"},
    }


def test_failed_login_never_stores_the_password(client, alice):
    fail_login(client)
    fail_login(client, "bob")
    text = everything_stored()
    assert Message.objects.count() == 2
    assert WRONG not in text
    assert "credentials" not in text
    assert '"password":' not in text


def test_failed_login_without_a_request_has_no_source(alice):
    assert authenticate(username="alice", password=WRONG) is None
    [message] = stored("AuthEvent")
    assert message["payload"]["source_ip"] is None
    assert message["payload"]["user_agent"] is None
    assert message["payload"]["user_id"] == "alice"


def test_successful_login_stores_login_success_and_session_created(client, alice):
    response = client.post(
        LOGIN,
        {"username": "alice", "password": PASSWORD, "next": "/admin/"},
        HTTP_USER_AGENT=AGENT,
    )
    assert response.status_code == 302
    [auth] = stored("AuthEvent")
    assert without_time(auth["payload"]) == {
        "user_id": str(alice.pk),
        "event_type": "login_success",
        "auth_method": "password",
        "source_ip": "127.0.0.1",
        "user_agent": AGENT,
        "node": NODE,
        "metadata": {"username": "alice"},
    }
    [session] = stored("SessionEvent")
    session_id = session["payload"]["session_id"]
    assert session_id.startswith("sha256:") and len(session_id) == 7 + 32
    assert without_time(session["payload"], "session_id") == {
        "user_id": str(alice.pk),
        "event_type": "created",
        "duration_ms": None,
        "source_ip": "127.0.0.1",
        "node": NODE,
    }
    assert client.session.session_key not in everything_stored()
    assert PASSWORD not in everything_stored()


def test_logout_stores_logout_and_the_session_destroyed_with_its_duration(
    client, alice
):
    client.post(LOGIN, {"username": "alice", "password": PASSWORD})
    response = client.post(LOGOUT)
    assert response.status_code == 200
    assert [m["payload"]["event_type"] for m in stored("AuthEvent")] == [
        "login_success",
        "logout",
    ]
    created, destroyed = stored("SessionEvent")
    assert destroyed["payload"]["event_type"] == "destroyed"
    assert destroyed["payload"]["session_id"] == created["payload"]["session_id"]
    assert destroyed["payload"]["user_id"] == str(alice.pk)
    assert 0 <= destroyed["payload"]["duration_ms"] < 60_000


def test_logout_of_an_anonymous_visitor_stores_nothing(client):
    client.post(LOGOUT)
    assert Message.objects.count() == 0


def test_brute_force_alert_is_raised_once_at_the_threshold(client, alice):
    for username in ("alice", "root", "alice", "admin", "alice"):
        fail_login(client, username, ip="203.0.113.9")
    [alert] = stored("SecurityAlert")
    assert (alert["topic"], alert["severity"]) == ("security_alerts", "error")
    payload = alert["payload"]
    assert payload["alert_type"] == "brute_force"
    assert payload["severity"] == "high"
    assert payload["description"] == (
        "3 failed logins from 203.0.113.9 within 300 s (threshold 3)"
    )
    assert payload["affected_users"] == ["alice", "root"]
    assert payload["source_ip"] == "203.0.113.9"
    assert payload["metadata"]["failures"] == 3
    assert payload["metadata"]["threshold"] == 3
    assert payload["metadata"]["window_ms"] == 300_000
    assert len(stored("AuthEvent", event_type="login_failure")) == 5


def test_brute_force_counts_each_source_separately(client, alice):
    for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.1", "203.0.113.2"):
        fail_login(client, ip=ip)
    assert stored("SecurityAlert") == []
    assert sorted(OccurrenceWindow.objects.values_list("key", "count")) == [
        ("login_failure:203.0.113.1", 2),
        ("login_failure:203.0.113.2", 2),
    ]


def test_brute_force_window_ends_and_a_new_one_can_alert_again(client, alice):
    for _ in range(3):
        fail_login(client, ip="203.0.113.7")
    window = OccurrenceWindow.objects.get(key="login_failure:203.0.113.7")
    OccurrenceWindow.objects.filter(pk=window.pk).update(
        window_started_at=window.window_started_at - timedelta(seconds=301)
    )
    fail_login(client, ip="203.0.113.7")
    assert OccurrenceWindow.objects.get(pk=window.pk).count == 1
    assert len(stored("SecurityAlert")) == 1
    fail_login(client, ip="203.0.113.7")
    fail_login(client, ip="203.0.113.7")
    assert len(stored("SecurityAlert")) == 2


def test_brute_force_threshold_and_window_come_from_settings(client, alice, settings):
    settings.OPSMESSAGING = {"BRUTE_FORCE_THRESHOLD": 2, "BRUTE_FORCE_WINDOW": 60_000}
    fail_login(client, ip="198.51.100.4")
    assert stored("SecurityAlert") == []
    fail_login(client, ip="198.51.100.4")
    [alert] = stored("SecurityAlert")
    assert alert["payload"]["description"] == (
        "2 failed logins from 198.51.100.4 within 60 s (threshold 2)"
    )


def test_capture_auth_off_stores_nothing(client, alice, settings):
    settings.OPSMESSAGING = {"CAPTURE_AUTH": False, "BRUTE_FORCE_THRESHOLD": 1}
    fail_login(client)
    client.post(LOGIN, {"username": "alice", "password": PASSWORD})
    client.post(LOGOUT)
    assert Message.objects.count() == 0
    assert OccurrenceWindow.objects.count() == 0


def test_a_store_failure_never_breaks_the_login(client, alice, monkeypatch):
    from django.db import DatabaseError

    def broken(*args, **kwargs):
        raise DatabaseError("the store is down")

    monkeypatch.setattr(OccurrenceWindow.objects, "record", broken)
    fail_login(client)  # the brute-force count fails; the login form still answers
    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302


def test_attempted_username_takes_only_the_username():
    assert attempted_username({"username": " alice ", "password": "x"}) == "alice"
    assert attempted_username({"password": "x"}) == "unknown"
    assert attempted_username(None) == "unknown"
    assert attempted_username({"username": "u" * 300}) == "u" * 150


@pytest.mark.parametrize(
    ("backend", "method"),
    [
        ("django.contrib.auth.backends.ModelBackend", "password"),
        ("rest_framework.authentication.TokenAuthentication", "token"),
        ("social_core.backends.github.GithubOAuth2", "oauth"),
        ("django.contrib.auth.backends.RemoteUserBackend", "certificate"),
    ],
)
def test_auth_method_follows_the_backend(backend, method):
    user = get_user_model()(username="u")
    user.backend = backend
    assert auth_method(user) == method


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_brute_force_count_is_shared_by_concurrent_connections(alice, settings):
    settings.OPSMESSAGING = {"BRUTE_FORCE_THRESHOLD": 5}
    threads = 12
    errors = run_concurrently(lambda: fail_login(Client(), ip="192.0.2.50"), threads)
    assert errors == []
    assert OccurrenceWindow.objects.get(key="login_failure:192.0.2.50").count == threads
    assert len(stored("AuthEvent", event_type="login_failure")) == threads
    assert len(stored("SecurityAlert")) == 1


def test_failed_login_usernames_are_kept_encrypted_in_the_brute_force_window(client):
    mistyped = "correct-Horse-battery-42-as-username"
    fail_login(client, username=mistyped)
    fail_login(client, username="bob")
    [row] = OccurrenceWindow.objects.values("key", "details")
    assert row["key"] == "login_failure:127.0.0.1"
    assert list(row["details"]) == ["usernames_encrypted"]
    assert mistyped not in json.dumps(row["details"])
    assert "bob" not in json.dumps(row["details"])
    fail_login(client, username="bob")
    [alert] = stored("SecurityAlert")
    assert alert["payload"]["affected_users"] == [mistyped, "bob"]

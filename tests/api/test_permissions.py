"""Who may do what: anonymous, session, token, and security never leaking through any door."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from opsmessaging.api.permissions import can_add_any
from tests.api.conftest import URL, alert, auth_failure, client_for, make_user

pytestmark = pytest.mark.django_db

READ_ENDPOINTS = ["messages/", "messages/1/", "categories/", "nodes/", "types/"]


@pytest.mark.parametrize("endpoint", READ_ENDPOINTS)
def test_anonymous_is_401_with_a_token_challenge(client, endpoint):
    response = client.get(URL + endpoint)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided."
    }
    assert response["WWW-Authenticate"] == "Token"


def test_a_bad_token_is_401(client):
    response = client.get(URL + "messages/", HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_session_authentication_reads_too(client):
    one = alert("one")
    client.force_login(make_user("view_message"))
    response = client.get(URL + "messages/")
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["results"]] == [one.id]


def test_session_post_needs_the_csrf_token(client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(make_user("add_message"))
    response = strict.post(
        URL + "messages/", {"type": "SystemAlert"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["detail"].startswith("CSRF Failed")


@pytest.mark.parametrize("endpoint", ["messages/", "categories/", "nodes/"])
def test_a_user_without_any_view_permission_is_403(endpoint):
    response = client_for(make_user("add_message")).get(URL + endpoint)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You do not have permission to see or broadcast operational messages."
    }


def test_can_add_any_needs_an_add_permission():
    assert not can_add_any(AnonymousUser())
    assert can_add_any(make_user("add_message"))
    assert not can_add_any(make_user("view_message"))


# --- security messages never reach a user without the security permission ----------------


@pytest.fixture
def secret():
    alert("public")
    return auth_failure("mallory")


@pytest.mark.parametrize(
    "query",
    [
        "",
        "category=security",
        "topic=auth_events",
        "tag=auth_event",
        "payload_type=AuthEvent",
        "node=web1@app-1",
        "order=oldest",
        "category=security&after=0",
        "limit=1000",
    ],
)
def test_the_list_never_shows_security_messages_to_a_reader(reader, secret, query):
    response = reader.get(f"{URL}messages/?{query}")
    assert response.status_code == 200
    assert all(m["category"] != "security" for m in response.json()["results"])
    assert "mallory" not in response.content.decode()


@pytest.mark.parametrize("export", ["csv", "cloudevents"])
def test_exports_never_show_security_messages_to_a_reader(reader, secret, export):
    response = reader.get(f"{URL}messages/?format={export}")
    assert response.status_code == 200
    assert "mallory" not in response.content.decode()
    assert "auth_event" not in response.content.decode()


def test_the_detail_of_a_security_message_is_404_for_a_reader(reader, secret):
    assert reader.get(f"{URL}messages/{secret.id}/").status_code == 404
    assert (
        reader.get(f"{URL}messages/{secret.id}/?format=cloudevents").status_code == 404
    )


def test_categories_hide_security_and_its_counts_from_a_reader(reader, secret):
    body = reader.get(URL + "categories/").json()
    assert [row["category"] for row in body] == [
        "system",
        "health",
        "metrics",
        "alerts",
        "diagnostics",
        "lifecycle",
        "logging",
    ]
    assert "auth_events" not in str(body)


def test_a_cursor_cannot_reach_across_into_security(reader, secret):
    import base64

    token = base64.b64encode(f"p={secret.id + 1}".encode()).decode()
    response = reader.get(URL + "messages/", {"cursor": token})
    assert [m["category"] for m in response.json()["results"]] == ["alerts"]


def test_the_security_permission_shows_security_messages(security_reader, secret):
    response = security_reader.get(URL + "messages/?category=security")
    assert [m["id"] for m in response.json()["results"]] == [secret.id]
    assert security_reader.get(f"{URL}messages/{secret.id}/").status_code == 200
    categories = [
        row["category"] for row in security_reader.get(URL + "categories/").json()
    ]
    assert "security" in categories
    assert "audit" not in categories

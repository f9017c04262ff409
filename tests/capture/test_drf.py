"""DRF authentication failures, refused permissions and throttling become
AccessViolations through the documented exception handler."""

from __future__ import annotations

import base64
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from opsmessaging.models import Message, OccurrenceWindow
from tests.capture.support import stored, without_time

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.capture.urls")]
SECRET_TOKEN = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"


@pytest.fixture(autouse=True)
def drf_settings(settings):
    settings.REST_FRAMEWORK = {
        "EXCEPTION_HANDLER": "opsmessaging.capture.drf.exception_handler",
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "UNAUTHENTICATED_USER": None,
    }
    cache.clear()  # the throttle's history
    yield
    cache.clear()


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_invalid_token_is_an_invalid_token_violation_without_the_token(client):
    response = client.get("/api/token/", HTTP_AUTHORIZATION=f"Token {SECRET_TOKEN}")
    assert response.status_code == 403  # no authenticate header: DRF answers 403
    assert response.json() == {"detail": "Invalid token."}
    [message] = stored("AccessViolation")
    assert without_time(message["payload"]) == {
        "user_id": None,
        "violation_type": "invalid_token",
        "resource": "/api/token/",
        "action": "GET",
        "source_ip": "127.0.0.1",
        "severity": "medium",
        "metadata": {
            "view": "api_token",
            "user_agent": None,
            "detail": "Invalid token.",
            "code": "authentication_failed",
            "api_view": "TokenView",
        },
    }
    assert SECRET_TOKEN not in json.dumps([m.to_wire() for m in Message.objects.all()])


def test_failed_basic_authentication_is_recorded_without_the_password(client):
    get_user_model().objects.create_user("dora", password="the-right-one")
    response = client.get("/api/basic/", HTTP_AUTHORIZATION=basic("dora", "guess-42"))
    assert response.status_code == 401
    [violation] = stored("AccessViolation")
    assert violation["payload"]["violation_type"] == "invalid_token"
    assert violation["payload"]["metadata"]["detail"] == "Invalid username/password."
    [failure] = stored("AuthEvent")
    assert failure["payload"]["event_type"] == "login_failure"
    assert failure["payload"]["user_id"] == "dora"
    assert "guess-42" not in json.dumps([m.to_wire() for m in Message.objects.all()])


def test_throttling_is_a_rate_limit_violation(client):
    assert client.get("/api/throttled/").status_code == 200
    response = client.get("/api/throttled/")
    assert response.status_code == 429
    [message] = stored("AccessViolation")
    payload = message["payload"]
    assert (payload["violation_type"], payload["severity"]) == (
        "rate_limit_exceeded",
        "low",
    )
    assert payload["metadata"]["code"] == "throttled"
    assert payload["metadata"]["api_view"] == "ThrottledView"
    assert 0 < payload["metadata"]["wait_seconds"] <= 60


def test_refused_permission_is_a_permission_denied_violation(client):
    get_user_model().objects.create_user("erin", password="pw-erin-123")
    erin = get_user_model().objects.get(username="erin")
    response = client.get(
        "/api/staff/", HTTP_AUTHORIZATION=basic("erin", "pw-erin-123")
    )
    assert response.status_code == 403
    [message] = stored("AccessViolation")
    assert message["payload"]["violation_type"] == "permission_denied"
    assert message["payload"]["user_id"] == str(erin.pk)
    assert message["payload"]["metadata"]["code"] == "permission_denied"


def test_other_api_errors_are_not_violations_and_keep_drf_responses(client):
    response = client.get("/api/missing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "no such thing"}
    assert response["Content-Type"] == "application/json"
    assert Message.objects.count() == 0


def test_capture_access_violations_off_keeps_the_response(client, settings):
    settings.OPSMESSAGING = {"CAPTURE_ACCESS_VIOLATIONS": False}
    response = client.get("/api/token/", HTTP_AUTHORIZATION="Token abc")
    assert response.status_code == 403
    assert Message.objects.count() == 0


def test_a_bad_token_flood_from_one_source_is_aggregated(client):
    for _ in range(50):
        response = client.get("/api/token/", HTTP_AUTHORIZATION=f"Token {SECRET_TOKEN}")
        assert response.status_code == 403
    messages = stored("AccessViolation")
    assert [m["payload"]["metadata"].get("occurrences") for m in messages] == [
        None,
        10,
    ]
    assert messages[1]["payload"]["metadata"]["window_ms"] == 300_000
    assert (
        OccurrenceWindow.objects.get(
            key="access_violation:invalid_token:127.0.0.1"
        ).count
        == 50
    )


def test_bad_tokens_from_another_source_are_stored_separately(client):
    for ip in ("192.0.2.1", "192.0.2.1", "192.0.2.2"):
        client.get(
            "/api/token/", HTTP_AUTHORIZATION=f"Token {SECRET_TOKEN}", REMOTE_ADDR=ip
        )
    assert [m["payload"]["source_ip"] for m in stored("AccessViolation")] == [
        "192.0.2.1",
        "192.0.2.2",
    ]


def test_access_violation_window_zero_stores_every_violation(client, settings):
    settings.OPSMESSAGING = {"ACCESS_VIOLATION_WINDOW": 0}
    for _ in range(3):
        client.get("/api/token/", HTTP_AUTHORIZATION=f"Token {SECRET_TOKEN}")
    assert len(stored("AccessViolation")) == 3

"""PermissionDenied raised in views becomes an AccessViolation; the request is known to
the receivers while it runs."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import RequestFactory

from opsmessaging.capture.middleware import OpsMessagingMiddleware
from opsmessaging.capture.request import current_request
from opsmessaging.models import Message
from tests.capture.support import stored, without_time

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.capture.urls")]


def test_permission_denied_in_a_view_stores_an_access_violation(client):
    response = client.get("/denied/", HTTP_USER_AGENT="curl/8")
    assert response.status_code == 403
    [message] = stored("AccessViolation")
    assert (message["category"], message["topic"], message["severity"]) == (
        "security",
        "access_violations",
        "warning",
    )
    assert without_time(message["payload"]) == {
        "user_id": None,
        "violation_type": "permission_denied",
        "resource": "/denied/",
        "action": "GET",
        "source_ip": "127.0.0.1",
        "severity": "medium",
        "metadata": {
            "view": "denied",
            "user_agent": "curl/8",
            "detail": "members only",
        },
    }


def test_admin_page_refused_to_a_staff_user_without_permission_is_recorded(client):
    clerk = get_user_model().objects.create_user("clerk", is_staff=True)
    client.force_login(clerk)
    response = client.get(f"/admin/auth/user/{clerk.pk}/change/")
    assert response.status_code == 403
    [message] = stored("AccessViolation")
    assert message["payload"]["user_id"] == str(clerk.pk)
    assert message["payload"]["resource"] == f"/admin/auth/user/{clerk.pk}/change/"
    assert message["payload"]["metadata"]["view"] == "admin:auth_user_change"


def test_other_responses_store_no_violation(client):
    assert client.get("/fine/").status_code == 200
    assert client.get("/no-such-page/").status_code == 404
    assert Message.objects.filter(payload_type="AccessViolation").count() == 0


def test_capture_access_violations_off_stores_nothing(client, settings):
    settings.OPSMESSAGING = {"CAPTURE_ACCESS_VIOLATIONS": False}
    assert client.get("/denied/").status_code == 403
    assert Message.objects.count() == 0


def test_the_current_request_is_set_only_while_the_request_runs():
    request = RequestFactory().get("/fine/")
    seen = []

    def view(req):
        seen.append(current_request.get())
        return HttpResponse("ok")

    OpsMessagingMiddleware(view)(request)
    assert seen == [request]
    assert current_request.get() is None

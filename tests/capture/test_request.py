"""What the receivers take from a request: a real IP, a bounded user agent, the user id."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.test import RequestFactory

from opsmessaging.capture.request import (
    client_ip,
    request_user_id,
    user_agent,
    user_id_of,
)


@pytest.mark.parametrize(
    ("remote_addr", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        (" 203.0.113.5 ", "203.0.113.5"),
        ("2001:DB8::1", "2001:db8::1"),
        ("", None),
        ("unix:/run/app.sock", None),
        (None, None),
    ],
)
def test_client_ip_keeps_only_ip_addresses(remote_addr, expected):
    request = RequestFactory().get("/")
    request.META["REMOTE_ADDR"] = remote_addr
    assert client_ip(request) == expected


def test_client_ip_ignores_forwarded_headers():
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert client_ip(request) == "127.0.0.1"
    assert client_ip(None) is None


def test_user_agent_is_bounded_and_blank_is_none():
    assert user_agent(RequestFactory().get("/", HTTP_USER_AGENT="x" * 600)) == "x" * 512
    assert user_agent(RequestFactory().get("/", HTTP_USER_AGENT="  ")) is None
    assert user_agent(RequestFactory().get("/")) is None
    assert user_agent(None) is None


def test_user_ids_only_for_authenticated_users():
    assert user_id_of(User(pk=7)) == "7"
    assert user_id_of(AnonymousUser()) is None
    assert user_id_of(None) is None
    request = RequestFactory().get("/")
    assert request_user_id(request) is None  # no user attribute at all
    request.user = User(pk=9)
    assert request_user_id(request) == "9"

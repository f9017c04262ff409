"""What the capture receivers know about the request they run in.

``OpsMessagingMiddleware`` (``opsmessaging.capture.middleware``) sets the current request,
so that receivers without a ``request`` argument (admin ``LogEntry`` saves, registered model
changes) can still name the user and source IP.
"""

from __future__ import annotations

import ipaddress
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest

USER_AGENT_MAX_LENGTH = 512
SYSTEM_USER = "system"

current_request: ContextVar[HttpRequest | None] = ContextVar(
    "opsmessaging_current_request", default=None
)


def client_ip(request: HttpRequest | None) -> str | None:
    """Return the request's ``REMOTE_ADDR`` if it is an IP address, else None.

    Proxy headers such as ``X-Forwarded-For`` are not trusted: anyone can send them. Behind
    a proxy, set ``REMOTE_ADDR`` from the proxy's header in a middleware you trust.
    """
    if request is None:
        return None
    value = request.META.get("REMOTE_ADDR")
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def user_agent(request: HttpRequest | None) -> str | None:
    """Return the request's ``User-Agent`` (at most 512 characters), or None."""
    if request is None:
        return None
    value = request.META.get("HTTP_USER_AGENT")
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:USER_AGENT_MAX_LENGTH]


def user_id_of(user: Any) -> str | None:
    """Return the primary key of an authenticated user as a string, else None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    pk = getattr(user, "pk", None)
    return None if pk is None else str(pk)


def request_user_id(request: HttpRequest | None) -> str | None:
    """Return the id of the request's authenticated user, else None."""
    return user_id_of(getattr(request, "user", None)) if request is not None else None

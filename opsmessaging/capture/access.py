"""Access violations: requests refused for lack of permission, authentication or quota."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from opsmessaging import pubsub
from opsmessaging.capture.request import client_ip, request_user_id, user_agent
from opsmessaging.conf import conf


def record_violation(
    violation_type: str,
    request: HttpRequest | None,
    *,
    severity: str = "medium",
    detail: str = "",
    extra: Mapping[str, Any] | None = None,
) -> Any:
    """Broadcast an ``AccessViolation`` for ``request``; None when the capture is off.

    ``violation_type`` is one of the catalogue's (``permission_denied``, ``invalid_token``,
    ``rate_limit_exceeded``, ``unauthorized_access``). Only the path, method, view, user
    id, source IP, user agent and ``detail`` are kept: never headers, cookies or bodies.
    """
    if not conf.CAPTURE_ACCESS_VIOLATIONS:
        return None
    match = getattr(request, "resolver_match", None)
    metadata: dict[str, Any] = {
        "view": getattr(match, "view_name", None),
        "user_agent": user_agent(request),
        "detail": detail,
        **(extra or {}),
    }
    return pubsub.broadcast_security_event(
        "access_violation",
        violation_type=violation_type,
        resource=request.path if request is not None else "unknown",
        action=request.method if request is not None and request.method else "unknown",
        user_id=request_user_id(request),
        source_ip=client_ip(request),
        severity=severity,
        metadata=metadata,
    )

"""Access violations: requests refused for lack of permission, authentication or quota.

Violations are aggregated per kind and source (the client IP) within
``ACCESS_VIOLATION_WINDOW``, as failed logins are: the first of a window is stored, the
repeats are counted in an ``OccurrenceWindow`` and stored again only at the 10th, 100th,
1000th, ... with ``metadata.occurrences``, so a flood of bad tokens costs a few rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from opsmessaging import pubsub
from opsmessaging.capture.request import client_ip, request_user_id, user_agent
from opsmessaging.conf import conf
from opsmessaging.models import OccurrenceWindow

UNKNOWN_SOURCE = "unknown"


def is_reported(occurrences: int) -> bool:
    """Tell whether the ``occurrences``-th violation of a window is stored: the 1st, 10th,
    100th, ..."""
    while occurrences % 10 == 0:
        occurrences //= 10
    return occurrences == 1


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
    Repeats from one source are aggregated (see the module docstring); None for one
    that was only counted.
    """
    if not conf.CAPTURE_ACCESS_VIOLATIONS:
        return None
    source = client_ip(request)
    window = conf.ACCESS_VIOLATION_WINDOW
    occurrences = 1
    if window:
        occurrences = OccurrenceWindow.objects.record(
            f"access_violation:{violation_type}:{source or UNKNOWN_SOURCE}", window, 1
        ).count
        if not is_reported(occurrences):
            return None
    match = getattr(request, "resolver_match", None)
    metadata: dict[str, Any] = {
        "view": getattr(match, "view_name", None),
        "user_agent": user_agent(request),
        "detail": detail,
        **(extra or {}),
    }
    if occurrences > 1:
        metadata.update(occurrences=occurrences, window_ms=window)
    return pubsub.broadcast_security_event(
        "access_violation",
        violation_type=violation_type,
        resource=request.path if request is not None else "unknown",
        action=request.method if request is not None and request.method else "unknown",
        user_id=request_user_id(request),
        source_ip=source,
        severity=severity,
        metadata=metadata,
    )

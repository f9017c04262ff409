"""DRF capture: authentication failures, refused permissions and throttling become
``AccessViolation`` messages. Needs Django REST framework; set

```python
REST_FRAMEWORK = {"EXCEPTION_HANDLER": "opsmessaging.capture.drf.exception_handler"}
```

or call ``record_api_violation(exc, context)`` from your own exception handler.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from opsmessaging.capture.access import record_violation
from opsmessaging.capture.guard import guarded


def violation_type(exc: Exception) -> str | None:
    """Return the ``AccessViolation`` type of a DRF exception, or None if it is not one."""
    if isinstance(exc, exceptions.AuthenticationFailed):
        return "invalid_token"
    if isinstance(exc, exceptions.Throttled):
        return "rate_limit_exceeded"
    if isinstance(exc, exceptions.PermissionDenied):
        return "permission_denied"
    return None


@guarded
def record_api_violation(exc: Exception, context: dict[str, Any]) -> None:
    """Broadcast the ``AccessViolation`` of ``exc`` if it is one (see ``violation_type``).

    Keeps DRF's public error detail and code, never the credentials that were sent.
    """
    kind = violation_type(exc)
    if kind is None:
        return
    view = context.get("view")
    extra: dict[str, Any] = {
        "code": exc.get_codes() if isinstance(exc, exceptions.APIException) else None,
        "api_view": type(view).__name__ if view is not None else None,
    }
    if isinstance(exc, exceptions.Throttled):
        extra["wait_seconds"] = getattr(exc, "wait", None)
    record_violation(
        kind,
        context.get("request"),
        severity="low" if kind == "rate_limit_exceeded" else "medium",
        detail=str(getattr(exc, "detail", exc)),
        extra=extra,
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's default exception handler, recording access violations first."""
    record_api_violation(exc, context)
    return drf_exception_handler(exc, context)

"""The capture middleware: tells receivers their request, reports ``PermissionDenied``.

Add ``"opsmessaging.capture.middleware.OpsMessagingMiddleware"`` to ``MIDDLEWARE`` after
``AuthenticationMiddleware``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from opsmessaging.capture.access import record_violation
from opsmessaging.capture.guard import guarded
from opsmessaging.capture.request import current_request


class OpsMessagingMiddleware:
    """Set the current request for the capture receivers; turn ``PermissionDenied`` raised
    by a view into an ``AccessViolation`` (``permission_denied``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        token = current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, PermissionDenied):
            _record_permission_denied(request, exception)


@guarded
def _record_permission_denied(request: HttpRequest, exception: Exception) -> None:
    record_violation("permission_denied", request, detail=str(exception))

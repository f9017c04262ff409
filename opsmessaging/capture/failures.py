"""Failure capture: unhandled exceptions in requests and tasks become ``ErrorAnalysis``.

Repeats of one error (same type, same stack) are counted together by every process within
``ERROR_AGGREGATION_WINDOW``. An ``ErrorAnalysis`` is broadcast for the first occurrence
and then at each doubling (2, 4, 8, ...) with the count, first and last seen; when the count
reaches ``ERROR_ALERT_THRESHOLD`` a ``SystemAlert`` (``repeated_error``) follows, once per
window.
"""

from __future__ import annotations

import hashlib
import sys
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from django.core.signals import got_request_exception
from django.http import HttpRequest

from opsmessaging import pubsub
from opsmessaging.capture.guard import guarded
from opsmessaging.capture.request import request_user_id
from opsmessaging.catalogue import diagnostics
from opsmessaging.conf import conf
from opsmessaging.models import OccurrenceWindow

STACK_FRAMES_MAX = 50
MESSAGE_MAX_LENGTH = 2000
CODE_MAX_LENGTH = 200
ALERT_TYPE = "repeated_error"


def connect() -> None:
    """Connect the unhandled-request-exception signal."""
    got_request_exception.connect(
        on_request_exception, dispatch_uid="opsmessaging.capture.failures.request"
    )


def error_type_name(exc: BaseException) -> str:
    """Return the qualified name of an exception's class, e.g. ``builtins.ValueError``."""
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def stack_frames(tb: TracebackType | None) -> list[dict[str, Any]]:
    """Return the innermost frames of a traceback as ``{file, line, function, code}``."""
    frames = traceback.extract_tb(tb)[-STACK_FRAMES_MAX:]
    return [
        {
            "file": frame.filename,
            "line": frame.lineno,
            "function": frame.name,
            "code": (frame.line or "")[:CODE_MAX_LENGTH],
        }
        for frame in frames
    ]


def error_signature(error_type: str, frames: list[dict[str, Any]]) -> str:
    """Return the digest identifying "the same error": its type and where it was raised.

    The message is left out on purpose: it often holds ids or values that differ between
    repeats of one bug.
    """
    where = "|".join(f"{f['file']}:{f['line']}:{f['function']}" for f in frames)
    return hashlib.sha256(f"{error_type}|{where}".encode()).hexdigest()[:32]


def _is_reported(count: int) -> bool:
    return count & (count - 1) == 0  # 1, 2, 4, 8, ...


def record_exception(
    exc: BaseException,
    tb: TracebackType | None = None,
    context: Mapping[str, Any] | None = None,
) -> None:
    """Count ``exc`` and broadcast its ``ErrorAnalysis`` (and alert) when due.

    ``context`` says where it happened (``{"source": "request", "path": ...}``); it must
    not hold secrets. Does nothing when ``CAPTURE_FAILURES`` is off.
    """
    if not conf.CAPTURE_FAILURES:
        return
    error_type = error_type_name(exc)
    frames = stack_frames(tb if tb is not None else exc.__traceback__)
    signature = error_signature(error_type, frames)
    message = (str(exc) or error_type)[:MESSAGE_MAX_LENGTH]
    window = conf.ERROR_AGGREGATION_WINDOW
    threshold = conf.ERROR_ALERT_THRESHOLD
    seen = OccurrenceWindow.objects.record(f"error:{signature}", window, threshold)
    if _is_reported(seen.count) or seen.is_threshold_crossed:
        pubsub.broadcast(
            diagnostics.error_analysis(
                error_type,
                message,
                error_id=f"error_{signature[:16]}",
                stack_trace=frames,
                context={
                    **(context or {}),
                    "signature": signature,
                    "window_ms": window,
                },
                frequency=seen.count,
                first_seen=seen.first_seen_at,
                last_seen=seen.last_seen_at,
            )
        )
    if seen.is_threshold_crossed:
        pubsub.broadcast_alert(
            ALERT_TYPE,
            "error",
            f"{error_type} raised {seen.count} times within {window / 1000:g} s",
            {
                "error_id": f"error_{signature[:16]}",
                "error_type": error_type,
                "error_message": message,
                "count": seen.count,
                "threshold": threshold,
                "first_seen": seen.first_seen_at,
                "last_seen": seen.last_seen_at,
                **(context or {}),
            },
        )


def request_context(request: HttpRequest | None) -> dict[str, Any]:
    """Return where in a request an error happened: path, method, view and user id."""
    if request is None:
        return {"source": "request"}
    match = getattr(request, "resolver_match", None)
    return {
        "source": "request",
        "method": request.method,
        "path": request.path,
        "view": getattr(match, "view_name", None),
        "user_id": request_user_id(request),
    }


@guarded
def on_request_exception(
    sender: Any, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    _, exc, tb = sys.exc_info()
    if exc is not None:
        record_exception(exc, tb, request_context(request))

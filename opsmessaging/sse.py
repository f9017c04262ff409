"""Server-Sent Events: one category's stored messages as a ``text/event-stream``.

``GET /opsmessaging/stream/?category=alerts[&topic=...][&node=...][&min_severity=...]``.
Each event's ``id`` is the message's sequence in its category, its ``event`` the payload
type and its ``data`` the wire form (one line of JSON). A client resumes with the
``Last-Event-ID`` header (``EventSource`` sends it by itself on reconnecting) or the
``last_event_id`` query parameter; without either the stream starts after the category's
last message. The committed log is the source of truth: the stream polls the store for
sequences after the last one sent, in sequence order, so it never repeats nor skips one.

Permissions and filters are the WebSocket's (``permissions.can_view_category``,
``subscriptions.parse_subscription``). Each poll reads at most ``WS_REPLAY_BATCH`` rows and
waits for the client to take them, so a connection holds one batch at most.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from opsmessaging.codec import compact_json
from opsmessaging.conf import conf
from opsmessaging.models import Message
from opsmessaging.permissions import can_view_category
from opsmessaging.retention import first_kept_sequence, last_sequence
from opsmessaging.subscriptions import (
    FrameError,
    Subscription,
    parse_subscription,
    run_in_thread,
)

logger = logging.getLogger(__name__)

#: The event sent once when a client resumes from a sequence retention has removed.
PRUNED_EVENT = "pruned"


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


def _resume_point(request: HttpRequest) -> int | None:
    """Return the sequence the client has, from ``Last-Event-ID`` or ``last_event_id``."""
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    if raw is None or raw == "":
        return None
    raw = raw.strip()
    if not raw.isdecimal() or not raw.isascii():
        raise FrameError(
            "invalid_last_event_id",
            f"Last-Event-ID must be a sequence number >= 0, not {raw[:40]!r}",
        )
    return int(raw)


def _parse(request: HttpRequest) -> tuple[Subscription, int | None]:
    unknown = set(request.GET) - {
        "category",
        "topic",
        "node",
        "min_severity",
        "last_event_id",
    }
    if unknown:
        raise FrameError(
            "invalid_filters",
            f"unknown query parameter(s) {', '.join(sorted(unknown))}; expected "
            "category, topic, node, min_severity and last_event_id",
        )
    filters = {
        name: request.GET[key]
        for key, name in (("node", "node"), ("min_severity", "severity"))
        if key in request.GET
    }
    content: dict[str, Any] = {
        "category": request.GET.get("category"),
        "topic": request.GET.get("topic"),
        "since": _resume_point(request),
        "filters": filters,
    }
    return parse_subscription(content)


def _token_user(key: str) -> Any:
    """Return the active user of DRF token ``key``, or None."""
    if not apps.is_installed("rest_framework.authtoken"):
        return None
    # DRF is an optional extra; its token model loads only with its app installed.
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


async def _user(request: HttpRequest) -> Any:
    """The session's user, or the DRF token's (``Authorization: Token <key>``), as the
    WebSocket accepts; None for a token that is not valid."""
    kind, _, key = request.headers.get("Authorization", "").partition(" ")
    if kind == "Token":
        return await run_in_thread(_token_user, key.strip()) if key.strip() else None
    user = await request.auser()
    return user if user.is_authenticated else AnonymousUser()


def _rows(sub: Subscription, after: int, limit: int) -> list[tuple[int, str, str]]:
    """Return ``(sequence, payload type, wire JSON)`` of up to ``limit`` sequenced
    messages of ``sub`` after ``after``, in sequence order."""
    rows = Message.objects.filter(
        sub.query(), sequence__isnull=False, sequence__gt=after
    ).order_by("sequence")[:limit]
    return [
        (m.sequence, m.payload_type, compact_json(m.to_wire()))
        for m in rows
        if m.sequence is not None  # as filtered: numbered by the relay
    ]


def _event(sequence: int, event: str, data: str) -> bytes:
    return f"id: {sequence}\nevent: {event}\ndata: {data}\n\n".encode()


async def _events(
    sub: Subscription, reached: int, pruned: int | None
) -> AsyncIterator[bytes]:
    yield f"retry: {conf.SSE_RETRY}\n: stream of {sub.category.value}\n\n".encode()
    if pruned is not None:
        data = compact_json({"first_available_sequence": pruned, "since": reached})
        yield f"event: {PRUNED_EVENT}\ndata: {data}\n\n".encode()
    started = last_output = time.monotonic()
    while time.monotonic() - started < conf.SSE_MAX_DURATION / 1000:
        batch = conf.WS_REPLAY_BATCH
        try:
            rows = await run_in_thread(_rows, sub, reached, batch)
        except DatabaseError as exc:
            # The client reconnects after ``retry`` and resumes from its last id.
            logger.warning("An event stream stopped: the store failed: %r", exc)
            yield b": store unavailable\n\n"
            return
        for sequence, payload_type, wire in rows:
            yield _event(sequence, payload_type, wire)
            reached = sequence
        if rows:
            last_output = time.monotonic()
            if len(rows) == batch:
                continue
        elif time.monotonic() - last_output >= conf.SSE_HEARTBEAT_INTERVAL / 1000:
            yield b": heartbeat\n\n"
            last_output = time.monotonic()
        await asyncio.sleep(conf.SSE_POLL_INTERVAL / 1000)
    # Ask the client to reconnect (it resumes from the last id it saw).
    yield b": reconnect\n\n"


@require_GET
async def stream(request: HttpRequest) -> HttpResponseBase:
    """Stream one category's messages (see the module's docstring)."""
    try:
        sub, since = _parse(request)
    except FrameError as exc:
        return _error(400, exc.code, exc.detail)
    user = await _user(request)
    if user is None:
        return _error(401, "invalid_token", "the token is not valid")
    if not user.is_authenticated:
        return _error(
            401,
            "not_authenticated",
            "sign in (session cookie) or send 'Authorization: Token <key>'",
        )
    if not await run_in_thread(can_view_category, user, sub.category):
        return _error(
            403, "forbidden", f"you may not view the '{sub.category.value}' category"
        )
    pruned = None
    if since is None:
        reached = await run_in_thread(last_sequence, sub.category)
    else:
        reached = since
        first = await run_in_thread(first_kept_sequence, sub.category)
        if since + 1 < first:
            pruned = first
    response = StreamingHttpResponse(
        _events(sub, reached, pruned), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    # nginx buffers proxied responses unless told not to.
    response["X-Accel-Buffering"] = "no"
    return response

"""Lifecycle capture: ``SystemLifecycle`` when a process starts and stops, and
``SystemConfig`` when its effective settings differ from its node's previous start.

Web processes: wrap the ASGI application in ``LifespanMiddleware`` (it answers the ASGI
lifespan protocol), or call ``startup()``/``shutdown()`` yourself (WSGI has no lifespan).
Celery workers are covered by ``opsmessaging.capture.celery``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from asgiref.sync import sync_to_async
from asgiref.typing import (
    ASGI3Application,
    ASGIReceiveCallable,
    ASGISendCallable,
    Scope,
)
from django.db import transaction

from opsmessaging.capture.guard import guarded
from opsmessaging.capture.logging import flush_handlers
from opsmessaging.conf import conf
from opsmessaging.keys import redact

CONFIG_COMPONENT = "opsmessaging"


@guarded
def announce(event: str) -> Any:
    """Broadcast ``SystemLifecycle`` ``event`` for this node, if lifecycle capture is on."""
    if not conf.CAPTURE_LIFECYCLE:
        return None
    # This module is loaded by asgi.py, before the app registry is ready.
    from opsmessaging import pubsub

    return pubsub.broadcast_system_lifecycle(
        event, conf.SYSTEM_NAME, conf.SYSTEM_VERSION
    )


def effective_config() -> dict[str, Any]:
    """Return the effective ``OPSMESSAGING`` settings as plain JSON data, every secret
    replaced by its fingerprint (``keys.redact``): what the node registry keeps and a
    ``SystemConfig`` carries, so no key reaches the database, a message or a page."""
    plain = json.loads(json.dumps(conf.effective(), default=repr))
    return redact(plain)  # type: ignore[no-any-return]


@guarded
def report_config_change(node_name: str) -> Any:
    """Compare the effective settings with those stored at this node's previous start.

    When they differ, broadcast a ``SystemConfig`` (``changes`` and ``previous_config``
    hold only the keys that differ) and store the new settings; the first start of a node
    only stores them. Returns the ``BroadcastResult``, or None when nothing was sent.
    """
    # This module is loaded by asgi.py, before the app registry is ready.
    from opsmessaging import pubsub
    from opsmessaging.models import Node  # late for the same reason

    current = effective_config()
    with transaction.atomic():
        node = Node.objects.select_for_update().get(name=node_name)
        previous = node.config
        if previous == current:
            return None
        result = None
        if isinstance(previous, dict) and conf.CAPTURE_CONFIG_CHANGES:
            keys = sorted(set(current) | set(previous))
            changed = [k for k in keys if current.get(k) != previous.get(k)]
            result = pubsub.broadcast_system_config(
                CONFIG_COMPONENT,
                {k: current.get(k) for k in changed},
                previous_config={k: previous.get(k) for k in changed},
            )
            if result.status == "error":
                return result  # keep the old settings, so the next start reports again
        node.config = current
        node.save(update_fields=["config"])
    return result


@guarded
def register_node(role: str, metadata: Mapping[str, Any] | None = None) -> str:
    """Record this node in the registry (``nodes.heartbeat``) and return its name."""
    # This module is loaded by asgi.py, before the app registry is ready.
    from opsmessaging import nodes

    return nodes.heartbeat(role, **dict(metadata or {})).name


def startup(role: str = "web", metadata: Mapping[str, Any] | None = None) -> None:
    """Announce a starting process: ``starting``, register the node, report a settings
    change, ``started``. Never raises: a store that is down must not stop a start."""
    announce("starting")
    name = register_node(role, metadata)
    if name is not None:
        report_config_change(name)
    announce("started")


def shutdown() -> None:
    """Announce a stopping process: ``stopping``, store the queued log entries, ``stopped``."""

    announce("stopping")
    guarded(flush_handlers)()
    announce("stopped")


class LifespanMiddleware:
    """ASGI middleware that answers the lifespan protocol with lifecycle messages.

    ``lifespan.startup`` runs ``startup(role)``, ``lifespan.shutdown`` runs ``shutdown()``;
    every other scope goes to the wrapped application unchanged. Lifespan events are not
    passed on (Django's ASGI handler refuses them).
    """

    def __init__(self, app: ASGI3Application, role: str = "web") -> None:
        self.app = app
        self.role = role

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await sync_to_async(startup, thread_sensitive=True)(self.role)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await sync_to_async(shutdown, thread_sensitive=True)()
                await send({"type": "lifespan.shutdown.complete"})
                return

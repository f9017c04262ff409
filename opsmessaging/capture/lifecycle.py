"""Lifecycle capture: ``SystemLifecycle`` when a process starts and stops, and
``SystemConfig`` when its effective settings differ from its node's previous start.

Web processes: ``opsmessaging.asgi.get_asgi_application()`` wraps the project in
``LifespanMiddleware`` (it answers the ASGI lifespan protocol); a WSGI process (which has
no lifespan) starts on its first request (``on_request_started``) and stops at exit.
Celery workers are covered by ``opsmessaging.capture.celery``.

A start also starts the process's heartbeat (``HEARTBEAT_AUTOSTART``), and a stop ends it
and marks the node ``stopped``, before the server exits: uvicorn re-raises SIGTERM after
its lifespan shutdown, so ``atexit`` would never run there.
"""

from __future__ import annotations

import atexit
import json
import os
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
from opsmessaging.nodenames import set_process_role

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


@guarded
def start_heartbeat(role: str) -> None:
    """Start this process's heartbeat as ``role``, unless ``HEARTBEAT_AUTOSTART`` is off."""
    if conf.HEARTBEAT_AUTOSTART:
        # This module is loaded by asgi.py, before the app registry is ready.
        from opsmessaging import nodes

        nodes.start_heartbeat(role)


@guarded
def stop_heartbeat() -> None:
    """Stop this process's heartbeat, if it runs one, and mark its node ``stopped``."""
    # This module is loaded by asgi.py, before the app registry is ready.
    from opsmessaging import nodes

    nodes.stop_heartbeat()


_started_pid = 0  # the process whose start was announced (a forked child is not)


def startup(role: str = "web", metadata: Mapping[str, Any] | None = None) -> None:
    """Announce a starting process: ``starting``, register the node, report a settings
    change, ``started``, then start its heartbeat. Never raises: a store that is down
    must not stop a start."""
    global _started_pid
    _started_pid = os.getpid()
    set_process_role(role)
    announce("starting")
    name = register_node(role, metadata)
    if name is not None:
        report_config_change(name)
    announce("started")
    start_heartbeat(role)


def shutdown() -> None:
    """Announce a stopping process: ``stopping``, store the queued log entries, stop the
    heartbeat (the node leaves the cluster, ``stopped``), ``stopped``."""

    announce("stopping")
    guarded(flush_handlers)()
    stop_heartbeat()
    announce("stopped")


def is_started() -> bool:
    """Tell whether this process announced its start."""
    return _started_pid == os.getpid()


def on_request_started(sender: Any = None, **kwargs: Any) -> None:
    """``request_started``: the first request a server handles starts its process (as
    ``web``) if nothing did: a WSGI server has no lifespan. Requests of the test client
    (whose handler is not a server's) start nothing."""
    # Loaded before the app registry is ready (see above).
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    if is_started() or not (
        isinstance(sender, type) and issubclass(sender, WSGIHandler | ASGIHandler)
    ):
        return
    startup("web")
    atexit.register(shutdown)


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

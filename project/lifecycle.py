"""The demo server's background work: this node's heartbeat and, without a broker, Celery.

Its start and stop are announced by ``LifespanMiddleware`` (see ``project.asgi``).
"""

from __future__ import annotations

import os

from opsmessaging import nodes


def background_threads() -> bool:
    """Tell whether the server may start background threads (not under the tests)."""
    return os.environ.get("DEMO_BACKGROUND_THREADS", "1") == "1"


def start_background(role: str) -> None:
    """Heartbeat this node and run the embedded Celery worker and beat when needed.

    Nothing starts under ``DEMO_BACKGROUND_THREADS=0`` (the tests).
    """
    from project.celery import start_embedded

    if background_threads():
        nodes.start_heartbeat(role)
        start_embedded()

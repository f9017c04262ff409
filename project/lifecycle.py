"""The demo server's background work: this node's heartbeat and, without a broker, Celery.

Its start and stop are announced by ``LifespanMiddleware`` (see ``project.asgi``).
"""

from __future__ import annotations

from opsmessaging import nodes
from project.celery import background_threads, start_embedded


def start_background(role: str) -> None:
    """Heartbeat this node and run the embedded Celery worker and beat when needed.

    Nothing starts under ``DEMO_BACKGROUND_THREADS=0`` (the tests).
    """
    if background_threads():
        nodes.start_heartbeat(role)
        start_embedded()

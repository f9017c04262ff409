"""The demo server's background work: without a broker, an embedded Celery worker and beat.

The node's start, stop and heartbeat are the app's (see ``opsmessaging.asgi``).
"""

from __future__ import annotations

from project.celery import background_threads, start_embedded


def start_background() -> None:
    """Run the embedded Celery worker and beat when needed.

    Nothing starts under ``DEMO_BACKGROUND_THREADS=0`` (the tests).
    """
    if background_threads():
        start_embedded()

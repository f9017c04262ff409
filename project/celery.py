"""The demo's Celery app: ``celery -A project worker``, ``celery -A project beat``.

The broker is ``CELERY_BROKER_URL``, else ``REDIS_URL``. Without either (the embedded
default) the demo server runs a Celery worker and beat in threads of its own process, over
Celery's in-memory broker: see ``start_embedded``.
"""

from __future__ import annotations

import logging
import os
import threading

from celery import Celery
from celery.beat import EmbeddedService

from opsmessaging.nodenames import this_node
from opsmessaging.schedule import beat_schedule

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

logger = logging.getLogger(__name__)

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = {**app.conf.beat_schedule, **beat_schedule()}
app.autodiscover_tasks()

_started = False
_lock = threading.Lock()


def background_threads() -> bool:
    """Tell whether the server may start background threads (not under the tests)."""
    return os.environ.get("DEMO_BACKGROUND_THREADS", "1") == "1"


def is_embedded() -> bool:
    """Tell whether the broker is the in-memory one (no Redis configured)."""
    return str(app.conf.broker_url).startswith("memory://")


def start_embedded() -> bool:
    """Run a Celery worker and beat in threads of this process, on the in-memory broker.

    Does nothing (and returns False) when a real broker is configured, where
    ``celery -A project worker -B`` runs them, or when ``DEMO_BACKGROUND_THREADS=0``.
    The worker runs the same tasks on the same schedule as a separate one would.
    """
    global _started
    if not is_embedded() or not background_threads():
        return False
    with _lock:
        if _started:
            return True
        app.finalize()
        app.set_current()
        app.set_default()
        worker = app.WorkController(
            pool="threads",  # the consumer answers pings while a task runs
            concurrency=2,
            hostname=f"embedded.{this_node()}",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        threading.Thread(
            target=worker.start, name="celery-embedded-worker", daemon=True
        ).start()
        EmbeddedService(app, thread=True, scheduler_cls="celery.beat:Scheduler").start()
        _started = True
    logger.info(
        "Embedded Celery worker and beat started (in-memory broker): %s",
        ", ".join(sorted(app.conf.beat_schedule)),
    )
    return True

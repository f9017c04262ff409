"""The demo settings plus a user's monitored task (``tests.monitored_tasks``), for the
live check-in tests' Celery processes."""

from __future__ import annotations

from project.settings import *  # noqa: F403

CELERY_IMPORTS = ["tests.monitored_tasks"]

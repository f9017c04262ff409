"""The demo settings for the worker-fault test's Celery processes.

The cache can stall one health probe (``tests.slow_cache``), and the Redis broker gives
a killed worker's unacknowledged messages back after one second, swept every second, so
that a run interrupted by the kill is delivered again within its period.
"""

from __future__ import annotations

from project.settings import *  # noqa: F403

CACHES = {"default": {"BACKEND": "tests.slow_cache.SlowOnceCache"}}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 1,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

"""The Celery beat schedule of opsmessaging, built from the ``OPSMESSAGING`` settings.

Add it to a project's Celery app with one line (in ``celery.py``, after
``config_from_object``)::

    app.conf.beat_schedule = {**app.conf.beat_schedule, **beat_schedule()}

It works with the default scheduler and with django-celery-beat's ``DatabaseScheduler``
(which copies it into its tables when beat starts; that scheduler counts whole seconds).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from opsmessaging.conf import conf

HEALTH_TASK = "opsmessaging.broadcast_health"
METRICS_TASK = "opsmessaging.broadcast_metrics"
CLUSTER_TASK = "opsmessaging.check_cluster"
RETENTION_TASK = "opsmessaging.prune_messages"
OTLP_LOGS_TASK = "opsmessaging.export_otlp_logs"


def _entry(task: str, interval_ms: int) -> dict[str, Any]:
    every = timedelta(milliseconds=interval_ms)
    # A run still queued when the next one is due is dropped rather than run late.
    return {
        "task": task,
        "schedule": every,
        "options": {"expires": every.total_seconds()},
    }


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Return the beat entries: health, metrics, cluster check and retention, and the
    OTLP log export when an endpoint is configured."""
    entries = {
        "opsmessaging-health": _entry(HEALTH_TASK, conf.HEALTH_BROADCAST_INTERVAL),
        "opsmessaging-metrics": _entry(METRICS_TASK, conf.METRICS_BROADCAST_INTERVAL),
        "opsmessaging-cluster": _entry(CLUSTER_TASK, conf.HEARTBEAT_INTERVAL),
        "opsmessaging-retention": _entry(RETENTION_TASK, conf.RETENTION_INTERVAL),
    }
    if conf.OTLP_ENABLED:
        entries["opsmessaging-otlp-logs"] = _entry(
            OTLP_LOGS_TASK, conf.OTLP_EXPORT_INTERVAL
        )
    return entries

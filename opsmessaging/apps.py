from __future__ import annotations

from django.apps import AppConfig


class OpsMessagingConfig(AppConfig):
    name = "opsmessaging"
    verbose_name = "Operational messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from opsmessaging import checks  # noqa: F401  (registers the system checks)
        from opsmessaging.capture import connect

        connect()
        self._connect_celery()

    def _connect_celery(self) -> None:
        """Stamp our tasks' send time, and heartbeat worker and beat processes."""
        try:
            from celery import signals
        except ImportError:  # Celery is optional: without it there is no schedule
            return
        from opsmessaging import nodes, tasks

        signals.before_task_publish.connect(
            tasks.stamp_sent_at, dispatch_uid="opsmessaging.stamp_sent_at"
        )
        signals.worker_ready.connect(
            tasks.start_worker_heartbeat, dispatch_uid="opsmessaging.worker_heartbeat"
        )
        signals.beat_init.connect(
            tasks.start_beat_heartbeat, dispatch_uid="opsmessaging.beat_heartbeat"
        )
        signals.worker_shutdown.connect(
            nodes.stop_heartbeat, dispatch_uid="opsmessaging.worker_leaves"
        )

"""The app's configuration: ``ready()`` registers the checks and connects every receiver.

Every receiver of the app is connected here, in one order, each with a ``dispatch_uid``;
the imports are in ``ready()`` because this module loads before the app registry is.
"""

from __future__ import annotations

from importlib.util import find_spec

from django.apps import AppConfig, apps


class OpsMessagingConfig(AppConfig):
    name = "opsmessaging"
    verbose_name = "Operational messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_started

        from opsmessaging import checks  # noqa: F401  (registers the system checks)
        from opsmessaging.capture import failures, lifecycle

        failures.connect()
        request_started.connect(
            lifecycle.on_request_started, dispatch_uid="opsmessaging.first_request"
        )
        if apps.is_installed("django.contrib.auth"):
            from opsmessaging.capture import logins

            logins.connect()
        if apps.is_installed("django.contrib.admin"):
            from opsmessaging.capture import admin

            admin.connect()
        if find_spec("celery") is not None:
            self._connect_celery()

    def _connect_celery(self) -> None:
        """Capture workers' lifecycle and task failures, stamp our tasks' send time, and
        heartbeat worker and beat processes (in that order on each signal)."""
        from celery import signals

        from opsmessaging import nodes, tasks
        from opsmessaging.capture import celery

        celery.connect()
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

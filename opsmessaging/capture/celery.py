"""Celery capture: worker start and stop (``SystemLifecycle``), pool processes
(``ProcessLifecycle``) and failed tasks (``ErrorAnalysis``).

Connected only when Celery is installed; works with any Celery app of the project.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any

from billiard.process import current_process
from celery import signals
from django.db import connections

from opsmessaging import pubsub
from opsmessaging.capture import failures, lifecycle
from opsmessaging.capture.guard import guarded
from opsmessaging.capture.logging import flush_handlers
from opsmessaging.conf import conf
from opsmessaging.nodenames import set_process_role

WORKER_ROLE = "worker"
WORKER_MODULE = "celery.worker"


def connect() -> None:
    """Connect the worker and task signals."""
    signals.worker_init.connect(
        on_worker_init, dispatch_uid="opsmessaging.capture.celery.worker_init"
    )
    signals.worker_ready.connect(
        on_worker_ready, dispatch_uid="opsmessaging.capture.celery.worker_ready"
    )
    signals.worker_shutting_down.connect(
        on_worker_shutting_down,
        dispatch_uid="opsmessaging.capture.celery.worker_shutting_down",
    )
    signals.worker_shutdown.connect(
        on_worker_shutdown, dispatch_uid="opsmessaging.capture.celery.worker_shutdown"
    )
    signals.task_failure.connect(
        on_task_failure, dispatch_uid="opsmessaging.capture.celery.task_failure"
    )


def _close_connections() -> None:
    """Close this thread's database connections, so pool processes forked later never
    inherit an open one."""
    connections.close_all()


def on_worker_init(sender: Any = None, **kwargs: Any) -> None:
    # Connected only now, so that these run after the receiver Celery's Django fixup
    # connects in its own worker_init: it drops the database connections a forked pool
    # process inherits, which must happen before we use the database there.
    signals.worker_process_init.connect(
        on_worker_process_init,
        dispatch_uid="opsmessaging.capture.celery.worker_process_init",
    )
    signals.worker_process_shutdown.connect(
        on_worker_process_shutdown,
        dispatch_uid="opsmessaging.capture.celery.worker_process_shutdown",
    )
    set_process_role(WORKER_ROLE)  # before its first message: it names the node
    lifecycle.announce("starting")
    guarded(_close_connections)()


def on_worker_ready(sender: Any = None, **kwargs: Any) -> None:
    hostname = getattr(sender, "hostname", None)
    name = lifecycle.register_node(
        WORKER_ROLE, {"celery_hostname": hostname} if hostname else None
    )
    if name is not None:
        lifecycle.report_config_change(name)
    lifecycle.announce("started")
    guarded(_close_connections)()


def on_worker_shutting_down(sender: Any = None, **kwargs: Any) -> None:
    lifecycle.announce("stopping")


def on_worker_shutdown(sender: Any = None, **kwargs: Any) -> None:
    guarded(flush_handlers)()
    lifecycle.announce("stopped")
    guarded(_close_connections)()


def _process_name() -> str:
    return str(current_process().name)


@guarded
def on_worker_process_init(sender: Any = None, **kwargs: Any) -> None:
    if not conf.CAPTURE_LIFECYCLE:
        return
    pubsub.broadcast_lifecycle_event(
        "started",
        _process_name(),
        {"pid": os.getpid(), "module": WORKER_MODULE, "hostname": sender},
    )


@guarded
def on_worker_process_shutdown(
    sender: Any = None,
    pid: int | None = None,
    exitcode: int | None = None,
    **kwargs: Any,
) -> None:
    flush_handlers()  # the log entries this process queued, before it exits
    if not conf.CAPTURE_LIFECYCLE:
        return
    crashed = exitcode not in (None, 0)
    pubsub.broadcast_lifecycle_event(
        "crashed" if crashed else "stopped",
        _process_name(),
        {
            "pid": pid if pid is not None else os.getpid(),
            "module": WORKER_MODULE,
            "hostname": sender,
            "exitcode": exitcode,
            "reason": f"exit code {exitcode}" if crashed else None,
        },
    )


@guarded
def on_task_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    traceback: TracebackType | None = None,
    **kwargs: Any,
) -> None:
    if exception is None:
        return
    request = getattr(sender, "request", None)
    failures.record_exception(
        exception,
        traceback,
        {
            "source": "celery_task",
            "task": getattr(sender, "name", None),
            "task_id": task_id,
            "retries": getattr(request, "retries", None),
            "hostname": getattr(request, "hostname", None),
        },
    )

"""Celery tasks of the beat schedule (see ``opsmessaging.schedule``), and their receivers.

The periodic tasks are idempotent per period: each claims its run in ``PeriodicRun``
by the time the scheduler sent it, so a second beat running by mistake, a redelivered
message or a retry never doubles the periodic messages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from celery import shared_task
from django.utils import timezone

from opsmessaging import measurements, nodes, probes, retention, schedule
from opsmessaging.conf import conf
from opsmessaging.helpers import this_node
from opsmessaging.models import PeriodicRun

logger = logging.getLogger(__name__)

#: Message header carrying the time (epoch seconds) a task was sent.
SENT_AT_HEADER = "opsmessaging_sent_at"

#: A Celery task (celery ships no type information).
Task = Any
Job = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
F = TypeVar("F", bound=Callable[..., Any])


def task(name: str, *, bind: bool = False) -> Callable[[F], F]:
    """Declare an opsmessaging ``shared_task`` that keeps the function's own type."""
    declare = cast(Any, shared_task)  # its overloads cannot take a runtime ``bind``
    return cast(Callable[[F], F], declare(name=name, bind=bind, ignore_result=True))


def sent_at(request: Any) -> datetime:
    """Return when the task of ``request`` was sent (now, for a direct call)."""
    stamp = getattr(request, SENT_AT_HEADER, None)
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return datetime.fromtimestamp(stamp, UTC)
    return timezone.now()


def run_periodic(task: Task, name: str, interval_ms: int, job: Job) -> str:
    """Run ``job`` once for the period of ``task``'s message; return what happened.

    Returns ``"ran"``, ``"duplicate"`` when this period's run was already claimed, or
    ``"expired"`` when the message waited longer than an interval (it is dropped).
    """
    sent = sent_at(task.request)
    if timezone.now() - sent > timedelta(milliseconds=interval_ms):
        logger.info("Dropped %s sent at %s: a newer run is due", name, sent)
        return "expired"
    run = PeriodicRun.claim(name, sent, interval_ms, this_node())
    if run is None:
        logger.info("Skipped %s sent at %s: this period already ran", name, sent)
        return "duplicate"
    state = job(run.state)
    if state is not None:
        run.save_state(dict(state))
    return "ran"


@task(schedule.HEALTH_TASK, bind=True)
def broadcast_health(self: Task) -> str:
    """Probe this node and broadcast its health (see ``opsmessaging.probes``)."""

    def job(state: Mapping[str, Any]) -> None:
        results = probes.run_health(self.app)
        logger.info(
            "Broadcast health of %s: %s",
            this_node(),
            ", ".join(f"{p.component} {p.status}" for p in results),
        )

    return run_periodic(self, "health", conf.HEALTH_BROADCAST_INTERVAL, job)


@task(schedule.METRICS_TASK, bind=True)
def broadcast_metrics(self: Task) -> str:
    """Measure and broadcast the metrics (see ``opsmessaging.measurements``)."""

    def job(state: Mapping[str, Any]) -> Mapping[str, Any]:
        new_state = measurements.run_metrics(state)
        logger.info("Broadcast metrics of %s", this_node())
        return new_state

    return run_periodic(self, "metrics", conf.METRICS_BROADCAST_INTERVAL, job)


@task(schedule.CLUSTER_TASK)
def check_cluster() -> list[str]:
    """Heartbeat the node running this task, then declare failed the silent nodes."""
    nodes.heartbeat(nodes.current_role("worker"))
    return nodes.check_cluster()


@task(schedule.RETENTION_TASK, bind=True)
def prune_messages(self: Task) -> str:
    """Prune every category by its retention and record it as a compliance event."""

    def job(state: Mapping[str, Any]) -> None:
        retention.apply_retention()

    return run_periodic(self, "retention", conf.RETENTION_INTERVAL, job)


# --- receivers, connected in ``OpsMessagingConfig.ready`` when Celery is installed ------


def stamp_sent_at(
    sender: str | None = None, headers: dict[str, Any] | None = None, **kwargs: Any
) -> None:
    """``before_task_publish``: record when an opsmessaging task is sent."""
    if headers is not None and str(sender).startswith("opsmessaging."):
        headers.setdefault(SENT_AT_HEADER, time.time())


def start_worker_heartbeat(**kwargs: Any) -> None:
    """``worker_ready``: register the worker node and heartbeat it."""
    nodes.start_heartbeat("worker")


def start_beat_heartbeat(**kwargs: Any) -> None:
    """``beat_init``: register the beat node and heartbeat it."""
    nodes.start_heartbeat("beat")

"""Celery tasks of the beat schedule (see ``opsmessaging.schedule``), and their receivers.

The periodic tasks run once per period: each claims its run in ``PeriodicRun`` by the
time the scheduler sent it, so a second beat running by mistake, a redelivered message or
a retry never doubles the periodic messages. The claim is taken in the transaction that
stores the run's messages, and the tasks acknowledge their message only once done
(``acks_late``): a worker killed in the middle of a run leaves nothing behind, and the
message, delivered again, runs the period from the start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from celery import shared_task
from django.db import router, transaction
from django.utils import timezone

from opsmessaging import (
    checkins,
    measurements,
    nodes,
    notifications,
    probes,
    retention,
    schedule,
)
from opsmessaging.conf import conf
from opsmessaging.models import PeriodicRun
from opsmessaging.nodenames import this_node

logger = logging.getLogger(__name__)

#: Message header carrying the time (epoch seconds) a task was sent.
SENT_AT_HEADER = "opsmessaging_sent_at"

#: A Celery task (celery ships no type information).
Task = Any
#: Stores a run, given the state kept by the previous run; returns the state to keep
#: (None keeps it as it is).
Job = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
#: Measures without writing (outside any transaction); returns the job that stores it.
Measure = Callable[[], Job]
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def task(name: str, *, bind: bool = False) -> Callable[[F], F]:
    """Declare an opsmessaging ``shared_task`` that keeps the function's own type.

    Its message is acknowledged once the task is done, or given back when the worker
    process dies (``acks_late``, ``reject_on_worker_lost``): every task here is safe to
    run again, and the periodic ones expire after their interval, so it cannot loop.
    """
    declare = cast(Any, shared_task)  # its overloads cannot take a runtime ``bind``
    return cast(
        Callable[[F], F],
        declare(
            name=name,
            bind=bind,
            ignore_result=True,
            acks_late=True,
            reject_on_worker_lost=True,
        ),
    )


def sent_at(request: Any) -> datetime:
    """Return when the task of ``request`` was sent (now, for a direct call)."""
    stamp = getattr(request, SENT_AT_HEADER, None)
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return datetime.fromtimestamp(stamp, UTC)
    return timezone.now()


def _duplicate(name: str, sent: datetime) -> str:
    logger.info("Skipped %s sent at %s: this period already ran", name, sent)
    return "duplicate"


def run_periodic(
    task: Task, name: str, interval_ms: int, measure: Measure, *, atomic: bool = True
) -> str:
    """Run the period of ``task``'s message once: ``measure()``, then its job; return
    what happened.

    ``measure`` runs outside any transaction (probes can take seconds and hold no lock);
    the job it returns runs in the transaction that claims the period, so a run that dies
    half-way leaves no claim, no message and no state behind. With ``atomic=False`` (a job
    made of many short transactions) the claim commits before the job runs.

    Returns ``"ran"``, ``"duplicate"`` when this period's run was already claimed, or
    ``"expired"`` when the message waited longer than an interval (it is dropped).
    """
    sent = sent_at(task.request)
    if timezone.now() - sent > timedelta(milliseconds=interval_ms):
        logger.info("Dropped %s sent at %s: a newer run is due", name, sent)
        return "expired"
    if PeriodicRun.already_ran(name, sent, interval_ms):
        return _duplicate(name, sent)
    job = measure()
    using = router.db_for_write(PeriodicRun)
    with transaction.atomic(using=using) if atomic else nullcontext():
        run = PeriodicRun.claim(name, sent, interval_ms, this_node())
        if run is None:
            return _duplicate(name, sent)
        state = job(run.state)
        if state is not None:
            run.save_state(dict(state))
    return "ran"


def _checked_in(monitor: str, run: Callable[[], T]) -> T:
    """Run a periodic task as a check-in of its monitor (``opsmessaging.checkins``)."""
    return cast(T, checkins.run_checked(checkins.builtin_specs()[monitor], run))


@task(schedule.HEALTH_TASK, bind=True)
def scheduled_health(self: Task) -> str:
    """Probe this node and broadcast its health (see ``opsmessaging.probes``)."""

    def measure() -> Job:
        found = probes.probe_all(self.app)

        def job(state: Mapping[str, Any]) -> None:
            probes.report_health(found)
            logger.info(
                "Broadcast health of %s: %s",
                this_node(),
                ", ".join(f"{p.component} {p.status}" for p in found),
            )

        return job

    return _checked_in(
        "opsmessaging-health",
        lambda: run_periodic(self, "health", conf.HEALTH_BROADCAST_INTERVAL, measure),
    )


@task(schedule.METRICS_TASK, bind=True)
def scheduled_metrics(self: Task) -> str:
    """Measure and broadcast the metrics (see ``opsmessaging.measurements``)."""

    def measure() -> Job:
        usage = measurements.process_usage()

        def job(state: Mapping[str, Any]) -> Mapping[str, Any]:
            new_state = measurements.report_metrics(state, usage)
            logger.info("Broadcast metrics of %s", this_node())
            return new_state

        return job

    return _checked_in(
        "opsmessaging-metrics",
        lambda: run_periodic(self, "metrics", conf.METRICS_BROADCAST_INTERVAL, measure),
    )


@task(schedule.CLUSTER_TASK)
def check_cluster() -> list[str]:
    """Heartbeat the node running this task, then declare failed the silent nodes."""

    def run() -> list[str]:
        nodes.heartbeat(nodes.current_role("worker"))
        failed = nodes.check_cluster()
        notifications.dispatch()
        return failed

    return _checked_in("opsmessaging-cluster", run)


@task(schedule.RETENTION_TASK, bind=True)
def prune_messages(self: Task) -> str:
    """Prune every category by its retention and record it as a compliance event."""

    def job(state: Mapping[str, Any]) -> None:
        retention.apply_retention()

    # Pruning deletes in many short transactions, never one long one: its claim commits
    # first, and a prune killed half-way is finished by the next period's.
    return _checked_in(
        "opsmessaging-retention",
        lambda: run_periodic(
            self, "retention", conf.RETENTION_INTERVAL, lambda: job, atomic=False
        ),
    )


@task(schedule.OTLP_LOGS_TASK, bind=True)
def export_otlp_logs(self: Task) -> str:
    """Send the messages stored since the last run to the OTLP logs endpoint.

    Runs for at most half its interval (plus one request's ``OTLP_TIMEOUT``), so the next
    period never finds it still running; what is left waits for the next one.
    """
    # The OpenTelemetry packages are an extra ("otlp"), imported only when exporting.
    from opsmessaging.exporters import otlp

    if not conf.OTLP_ENABLED:
        return "disabled"

    def job(state: Mapping[str, Any]) -> None:
        exporter = otlp.build_exporter()
        deadline = time.monotonic() + conf.OTLP_EXPORT_INTERVAL / 2000
        try:
            report = otlp.export_pending(
                otlp.load_cursor(), exporter, deadline=deadline, save=otlp.save_cursor
            )
        except otlp.ExportRejected as exc:
            logger.warning("OTLP log export stopped: %s", exc)
            return
        finally:
            exporter.shutdown()  # type: ignore[no-untyped-call]
        logger.info("Exported %d message(s) as OTLP logs", report.total)

    return run_periodic(
        self, otlp.RUN_NAME, conf.OTLP_EXPORT_INTERVAL, lambda: job, atomic=False
    )


@task(notifications.SEND_TASK, bind=True)
def send_notification(self: Task, pk: int) -> str:
    """Send one alert notification; retry a failed attempt with exponential backoff."""
    try:
        return notifications.deliver(pk)
    except notifications.TransientFailure as exc:
        raise self.retry(
            exc=exc,
            countdown=notifications.retry_delay(self.request.retries + 1),
            max_retries=None,  # deliver() counts the attempts and gives up
        ) from exc


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

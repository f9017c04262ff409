"""Check-ins of scheduled work: every run of a monitored job is recorded, and silence is
an alert.

A run checks in ``in_progress``, then ``ok`` or ``error`` with its duration. A monitor
whose ``next_due_at`` passes with no check-in gets a ``missed`` check-in, found by
whichever process looks first (``detect_missed`` runs in every node's heartbeat): the
period is taken with a conditional UPDATE, so it is counted once cluster-wide.

Failures (``error`` and ``missed``) and successes are counted as Sentry's cron monitors
do: ``failure_threshold`` consecutive failures raise one ``missed_checkin`` alert, and
``recovery_threshold`` consecutive successes after it one ``checkin_recovered``. Repeats
in between raise nothing.

The app's periodic runs are monitored as ``opsmessaging-health`` and so on; a user's own
task is monitored with the ``monitor`` decorator.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from django.db import router, transaction
from django.utils import timezone

from opsmessaging import pubsub
from opsmessaging.conf import conf
from opsmessaging.models import CheckIn, Monitor
from opsmessaging.nodenames import generate_hex_id, this_node

logger = logging.getLogger(__name__)

MISSED_ALERT = "missed_checkin"
RECOVERED_ALERT = "checkin_recovered"
#: The monitor of the scheduled health broadcast: its silence means a dead beat.
HEALTH_MONITOR = "opsmessaging-health"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class MonitorSpec:
    """What a monitored job promises: a run every ``interval_ms`` (or on ``crontab``),
    each within ``margin_ms`` of its due time."""

    name: str
    interval_ms: int | None = None
    crontab: str = ""
    margin_ms: int = 0
    failure_threshold: int = 1
    recovery_threshold: int = 1

    def __post_init__(self) -> None:
        if (self.interval_ms is None) == (not self.crontab):
            raise ValueError(f"monitor {self.name!r}: give an interval or a crontab")
        if self.crontab:
            _crontab(self.crontab)  # raises ValueError when it does not parse
        if self.failure_threshold < 1 or self.recovery_threshold < 1:
            raise ValueError(f"monitor {self.name!r}: thresholds are at least 1")

    def next_due(self, after: datetime) -> datetime:
        """Return when a run started at ``after`` is followed by the next, at the latest."""
        return next_run(self.interval_ms, self.crontab, after) + timedelta(
            milliseconds=self.margin_ms
        )


def _crontab(expression: str, now: datetime | None = None) -> Any:
    from celery.schedules import crontab  # celery is an optional dependency

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"crontab {expression!r} needs 5 fields: minute hour day month weekday"
        )
    minute, hour, day, month, weekday = fields
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day,
        month_of_year=month,
        day_of_week=weekday,
        nowfun=(lambda: now) if now is not None else None,
    )


def next_run(interval_ms: int | None, crontab: str, after: datetime) -> datetime:
    """Return when a job run at ``after`` runs next: an interval later, or at the
    crontab's next time."""
    if interval_ms is not None:
        return after + timedelta(milliseconds=interval_ms)
    schedule = _crontab(crontab, now=after)
    remaining: timedelta = schedule.remaining_estimate(after)
    return after + max(remaining, timedelta(seconds=1))


def builtin_specs() -> dict[str, MonitorSpec]:
    """Return the monitors of the app's own periodic runs: each alerts when it has not
    succeeded for two of its intervals."""
    intervals = {
        HEALTH_MONITOR: conf.HEALTH_BROADCAST_INTERVAL,
        "opsmessaging-metrics": conf.METRICS_BROADCAST_INTERVAL,
        "opsmessaging-cluster": conf.HEARTBEAT_INTERVAL,
        "opsmessaging-retention": conf.RETENTION_INTERVAL,
    }
    return {
        name: MonitorSpec(
            name,
            interval_ms=interval,
            margin_ms=interval,
            failure_threshold=conf.CHECKIN_FAILURE_THRESHOLD,
            recovery_threshold=conf.CHECKIN_RECOVERY_THRESHOLD,
        )
        for name, interval in intervals.items()
    }


def _alias() -> str:
    return router.db_for_write(Monitor)


def ensure_monitor(spec: MonitorSpec) -> Monitor:
    """Return the monitor of ``spec``, created or brought up to date with it."""
    fields = {
        "interval_ms": spec.interval_ms,
        "crontab": spec.crontab,
        "margin_ms": spec.margin_ms,
        "failure_threshold": spec.failure_threshold,
        "recovery_threshold": spec.recovery_threshold,
    }
    monitor, created = Monitor.objects.get_or_create(name=spec.name, defaults=fields)
    if not created and any(getattr(monitor, k) != v for k, v in fields.items()):
        Monitor.objects.filter(pk=monitor.pk).update(**fields)
        for key, value in fields.items():
            setattr(monitor, key, value)
    return monitor


def start(spec: MonitorSpec) -> CheckIn:
    """Record that a run of ``spec`` started (``in_progress``) and return its check-in."""
    monitor = ensure_monitor(spec)
    now = timezone.now()
    checkin = CheckIn.objects.create(
        monitor=monitor,
        status=CheckIn.Status.IN_PROGRESS,
        started_at=now,
        node=this_node(),
    )
    # A run that never finishes is missed once its period and margin are over.
    Monitor.objects.filter(pk=monitor.pk, next_due_at__isnull=True).update(
        next_due_at=spec.next_due(now)
    )
    return checkin


def discard(checkin: CheckIn) -> None:
    """Forget ``checkin``: its run found its period already done (a duplicate)."""
    CheckIn.objects.filter(pk=checkin.pk).delete()


def finish(checkin: CheckIn, spec: MonitorSpec, *, error: str | None = None) -> str:
    """Record the end of ``checkin``'s run: ``ok``, or ``error`` with ``error``'s text.

    Returns the status recorded. Counts it, and raises or resolves the monitor's alert
    when a threshold is reached.
    """
    now = timezone.now()
    status = CheckIn.Status.OK if error is None else CheckIn.Status.ERROR
    duration = max(0, round((now - checkin.started_at).total_seconds() * 1000))
    with transaction.atomic(using=_alias()):
        CheckIn.objects.filter(pk=checkin.pk).update(
            status=status, finished_at=now, duration_ms=duration, error=error or ""
        )
        monitor = Monitor.objects.select_for_update().get(pk=checkin.monitor_id)
        monitor.next_due_at = spec.next_due(now)
        monitor.last_checkin_at = now
        if status == CheckIn.Status.OK:
            monitor.last_ok_at = now
            _succeeded(monitor)
        else:
            _failed(monitor, status, error or "")
        monitor.save()
    return status


def detect_missed(now: datetime | None = None) -> list[str]:
    """Record a ``missed`` check-in for every monitor past due; return their names.

    Each overdue period is taken by one process only (a conditional UPDATE of
    ``next_due_at``), so two nodes looking at once count it, and alert, once.
    """
    if not conf.CHECKINS:
        return []
    now = now or timezone.now()
    missed: list[str] = []
    for monitor in Monitor.objects.filter(next_due_at__lt=now):
        due = monitor.next_due_at
        assert due is not None
        following = next_run(monitor.interval_ms, monitor.crontab, due)
        with transaction.atomic(using=_alias()):
            if not Monitor.objects.filter(pk=monitor.pk, next_due_at=due).update(
                next_due_at=max(following, now)
            ):
                continue  # taken by another process
            locked = Monitor.objects.select_for_update().get(pk=monitor.pk)
            CheckIn.objects.create(
                monitor=locked,
                status=CheckIn.Status.MISSED,
                started_at=due,
                finished_at=now,
                node=this_node(),
            )
            _failed(
                locked, CheckIn.Status.MISSED, f"no successful run by {due:%H:%M:%S}"
            )
            locked.save()
        missed.append(monitor.name)
    return missed


def _failed(monitor: Monitor, status: str, reason: str) -> None:
    monitor.status = status
    monitor.consecutive_failures += 1
    monitor.consecutive_successes = 0
    if monitor.is_alerting or monitor.consecutive_failures < monitor.failure_threshold:
        return
    monitor.is_alerting = True
    monitor.alert_id = generate_hex_id()
    if monitor.name == HEALTH_MONITOR:
        title = (
            "No scheduled health broadcast for two intervals: is Celery beat running?"
        )
    elif status == CheckIn.Status.MISSED:
        title = f"{monitor.name} missed its check-in"
    else:
        title = f"{monitor.name} failed {monitor.consecutive_failures} time(s) in a row"
    pubsub.broadcast_alert(
        MISSED_ALERT,
        "error",
        title,
        {
            "monitor": monitor.name,
            "checkin_status": status,
            "reason": reason[:500],
            "consecutive_failures": monitor.consecutive_failures,
            "last_ok_at": monitor.last_ok_at.isoformat()
            if monitor.last_ok_at
            else None,
        },
        alert_id=monitor.alert_id,
        description=reason[:2000] or None,
    )


def _succeeded(monitor: Monitor) -> None:
    monitor.status = Monitor.Status.OK
    monitor.consecutive_successes += 1
    monitor.consecutive_failures = 0
    if (
        not monitor.is_alerting
        or monitor.consecutive_successes < monitor.recovery_threshold
    ):
        return
    resolved, monitor.alert_id, monitor.is_alerting = monitor.alert_id, "", False
    pubsub.broadcast_alert(
        RECOVERED_ALERT,
        "info",
        f"{monitor.name} checks in again",
        {"monitor": monitor.name, "resolves": resolved},
    )


def run_checked(spec: MonitorSpec, run: Callable[[], Any]) -> Any:
    """Run ``run()`` as a check-in of ``spec`` and return what it returned.

    Recording never breaks the run: a check-in that cannot be stored is logged.
    """
    if not conf.CHECKINS:
        return run()
    checkin = _safely(start, spec)
    try:
        result = run()
    except BaseException as exc:
        if checkin is not None:
            _safely(finish, checkin, spec, error=f"{type(exc).__name__}: {exc}")
        raise
    if checkin is not None:
        if result in ("duplicate", "expired"):
            _safely(discard, checkin)
        else:
            _safely(finish, checkin, spec)
    return result


def _safely(action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return action(*args, **kwargs)
    except Exception as exc:  # an outage of the store must not fail the monitored job
        logger.warning(
            "Check-in %s failed: %s: %s", action.__name__, type(exc).__name__, exc
        )
        return None


def monitor(
    name: str,
    *,
    every: float | timedelta | None = None,
    crontab: str | Any = "",
    margin: float | timedelta = 0,
    failure_threshold: int = 1,
    recovery_threshold: int = 1,
) -> Callable[[F], F]:
    """Monitor a function (typically a Celery task) that should run ``every`` seconds,
    or on ``crontab`` ("minute hour day month weekday", or celery's ``crontab``).

    Put it under ``@shared_task``::

        @shared_task
        @opsmessaging.monitor("nightly-backup", every=86400, margin=600)
        def nightly_backup(): ...
    """
    spec = MonitorSpec(
        name,
        interval_ms=None if every is None else _ms(every),
        crontab=_crontab_text(crontab),
        margin_ms=_ms(margin),
        failure_threshold=failure_threshold,
        recovery_threshold=recovery_threshold,
    )

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def monitored(*args: Any, **kwargs: Any) -> Any:
            return run_checked(spec, lambda: function(*args, **kwargs))

        monitored.monitor_spec = spec  # type: ignore[attr-defined]
        return cast(F, monitored)

    return decorate


def _ms(value: float | timedelta) -> int:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    return round(seconds * 1000)


def _crontab_text(value: str | Any) -> str:
    if isinstance(value, str):
        return value.strip()
    # celery's crontab keeps the expressions it was given
    return " ".join(
        str(getattr(value, f"_orig_{part}"))
        for part in ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    )


def monitor_overview(limit: int = 5) -> list[dict[str, Any]]:
    """Return every monitor and its latest ``limit`` check-ins, for the page and the API."""
    rows = []
    for item in Monitor.objects.all():
        recent = list(item.checkins.all()[:limit])
        rows.append(
            {
                "name": item.name,
                "status": item.status,
                "interval_ms": item.interval_ms,
                "crontab": item.crontab,
                "margin_ms": item.margin_ms,
                "failure_threshold": item.failure_threshold,
                "recovery_threshold": item.recovery_threshold,
                "consecutive_failures": item.consecutive_failures,
                "consecutive_successes": item.consecutive_successes,
                "is_alerting": item.is_alerting,
                "last_checkin_at": item.last_checkin_at,
                "last_ok_at": item.last_ok_at,
                "next_due_at": item.next_due_at,
                "checkins": [
                    {
                        "status": c.status,
                        "started_at": c.started_at,
                        "finished_at": c.finished_at,
                        "duration_ms": c.duration_ms,
                        "node": c.node,
                        "error": c.error,
                    }
                    for c in recent
                ],
            }
        )
    return rows

"""Check-ins with real Celery processes: a dead beat, and a user's failing task."""

from __future__ import annotations

import time

import pytest
from celery import Celery

from opsmessaging.models import CheckIn, Message, Monitor
from tests import celery_live
from tests.celery_live import CeleryProcesses, wait_for

celery_processes = celery_live.celery_processes

INTERVAL = 2.0  # seconds between scheduled health broadcasts
TIMING = {
    "HEALTH_BROADCAST_INTERVAL": int(INTERVAL * 1000),
    "METRICS_BROADCAST_INTERVAL": 600_000,
    "HEARTBEAT_INTERVAL": 300,
    "NODE_FAILURE_THRESHOLD": 100,  # no node failure alerts while beat is stopped
    "HEALTH_PROBE_SLOW": 5000,
}


def _alerts(alert_type: str, monitor: str) -> list[Message]:
    return [
        m
        for m in Message.objects.filter(payload_type="SystemAlert").order_by("id")
        if m.payload["alert_type"] == alert_type
        and m.payload["metadata"].get("monitor") == monitor
    ]


@pytest.mark.postgres
@pytest.mark.redis
def test_a_stopped_beat_raises_one_alert_within_two_intervals_and_recovers(
    celery_processes: CeleryProcesses,
):
    for name in ("w1@watch", "w2@watch"):  # two nodes look for the silence
        celery_processes.worker(name, **TIMING)
    beat = celery_processes.beat("beat@watch", **TIMING)
    wait_for(
        lambda: Monitor.objects.filter(
            name="opsmessaging-health", status="ok", consecutive_successes__gte=2
        ).exists(),
        30,
        "two health check-ins",
    )
    beat.stop()
    last_ok = Monitor.objects.get(name="opsmessaging-health").last_ok_at
    [alert] = wait_for(
        lambda: _alerts("missed_checkin", "opsmessaging-health"),
        4 * INTERVAL,
        "the dead beat alert",
    )
    raised_after = (alert.timestamp - last_ok).total_seconds()
    assert 2 * INTERVAL <= raised_after <= 2 * INTERVAL + 1.0, raised_after
    assert alert.payload["severity"] == "error"
    assert alert.payload["title"] == (
        "No scheduled health broadcast for two intervals: is Celery beat running?"
    )
    time.sleep(2 * INTERVAL)  # more missed periods, seen by both workers
    assert len(_alerts("missed_checkin", "opsmessaging-health")) == 1
    missed = CheckIn.objects.filter(
        monitor__name="opsmessaging-health", status="missed"
    )
    assert missed.count() >= 2
    assert not _alerts("checkin_recovered", "opsmessaging-health")

    celery_processes.beat("beat@watch", **TIMING)
    [recovery] = wait_for(
        lambda: _alerts("checkin_recovered", "opsmessaging-health"),
        20,
        "the recovery",
    )
    assert recovery.payload["metadata"]["resolves"] == alert.payload["alert_id"]
    time.sleep(INTERVAL)
    assert len(_alerts("missed_checkin", "opsmessaging-health")) == 1
    assert len(_alerts("checkin_recovered", "opsmessaging-health")) == 1


@pytest.mark.postgres
@pytest.mark.redis
def test_a_user_task_failing_three_times_raises_one_alert(
    celery_processes: CeleryProcesses,
):
    celery_processes.worker(
        "w1@watch", env={"DJANGO_SETTINGS_MODULE": "tests.settings_monitored"}
    )
    sender = Celery("sender", broker=celery_processes.broker)
    for _ in range(3):
        sender.send_task("tests.nightly_backup")
    errors = wait_for(
        lambda: (
            rows
            if len(
                rows := list(
                    CheckIn.objects.filter(
                        monitor__name="nightly-backup", status="error"
                    )
                )
            )
            == 3
            else None
        ),
        30,
        "three failed check-ins",
    )
    assert {c.error for c in errors} == {"RuntimeError: backup target unreachable"}
    assert {c.node for c in errors} == {"w1@watch"}
    [alert] = _alerts("missed_checkin", "nightly-backup")
    assert alert.payload["title"] == "nightly-backup failed 1 time(s) in a row"
    monitor = Monitor.objects.get(name="nightly-backup")
    assert (monitor.interval_ms, monitor.margin_ms, monitor.consecutive_failures) == (
        86_400_000,
        600_000,
        3,
    )

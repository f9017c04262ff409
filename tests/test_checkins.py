"""Check-ins: runs recorded with their outcome, Sentry-like thresholds, missed periods."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

import opsmessaging
from opsmessaging import checkins, tasks
from opsmessaging.checkins import MonitorSpec
from opsmessaging.models import CheckIn, Message, Monitor


class Boom(Exception):
    pass


def _alerts(alert_type: str) -> list[dict]:
    return [
        m.payload
        for m in Message.objects.filter(payload_type="SystemAlert").order_by("id")
        if m.payload["alert_type"] == alert_type
    ]


def _backup(fails: list[bool], **options):
    @opsmessaging.monitor("nightly-backup", every=86400, margin=600, **options)
    def backup():
        if fails.pop(0):
            raise Boom("disk full")
        return "done"

    return backup


def _run(function) -> None:
    with contextlib.suppress(Boom):
        function()


@pytest.mark.django_db
def test_a_monitored_run_checks_in_in_progress_then_ok_with_its_duration():
    seen: list[str] = []

    @opsmessaging.monitor("report", every=60)
    def report():
        seen.append(CheckIn.objects.get().status)
        return 7

    assert report() == 7
    checkin = CheckIn.objects.get()
    assert seen == ["in_progress"]
    assert (checkin.monitor.name, checkin.status, checkin.error) == ("report", "ok", "")
    assert checkin.duration_ms is not None and checkin.duration_ms >= 0
    monitor = Monitor.objects.get(name="report")
    assert (monitor.status, monitor.interval_ms, monitor.consecutive_successes) == (
        "ok",
        60_000,
        1,
    )
    assert monitor.next_due_at == checkin.finished_at + timedelta(seconds=60)


@pytest.mark.django_db
def test_a_failing_run_checks_in_error_and_raises_its_exception():
    backup = _backup([True])
    with pytest.raises(Boom):
        backup()
    checkin = CheckIn.objects.get()
    assert (checkin.status, checkin.error) == ("error", "Boom: disk full")


@pytest.mark.django_db
def test_a_task_failing_three_times_raises_one_alert():
    backup = _backup([True, True, True])
    for _ in range(3):
        _run(backup)
    [alert] = _alerts("missed_checkin")
    assert alert["severity"] == "error"
    assert alert["metadata"]["monitor"] == "nightly-backup"
    assert alert["metadata"]["consecutive_failures"] == 1
    assert Monitor.objects.get().consecutive_failures == 3


@pytest.mark.django_db
def test_the_failure_threshold_raises_the_alert_at_the_nth_failure_only():
    backup = _backup([True, True, False, True, True, True], failure_threshold=3)
    for expected in (0, 0, 0, 0, 0, 1):
        _run(backup)
        assert len(_alerts("missed_checkin")) == expected
    assert _alerts("missed_checkin")[0]["metadata"]["consecutive_failures"] == 3


@pytest.mark.django_db
def test_the_recovery_threshold_resolves_after_that_many_successes_once():
    backup = _backup([True, False, False, False], recovery_threshold=2)
    _run(backup)
    _run(backup)
    assert _alerts("checkin_recovered") == []
    _run(backup)
    _run(backup)
    [alert] = _alerts("missed_checkin")
    [recovery] = _alerts("checkin_recovered")
    assert recovery["severity"] == "info"
    assert recovery["metadata"] == {
        "monitor": "nightly-backup",
        "resolves": alert["alert_id"],
    }
    assert Monitor.objects.get().is_alerting is False


@pytest.mark.django_db
def test_a_period_without_a_run_is_missed_once_and_alerted_once():
    spec = MonitorSpec("job", interval_ms=10_000, margin_ms=5_000)
    checkins.run_checked(spec, lambda: "ran")
    due = Monitor.objects.get().next_due_at
    assert checkins.detect_missed(due - timedelta(milliseconds=1)) == []
    after = due + timedelta(seconds=1)
    assert checkins.detect_missed(after) == ["job"]
    assert checkins.detect_missed(after) == []  # another node, the same moment
    assert checkins.detect_missed(after + timedelta(seconds=10)) == ["job"]
    assert [c.status for c in CheckIn.objects.order_by("id")] == [
        "ok",
        "missed",
        "missed",
    ]
    [alert] = _alerts("missed_checkin")
    assert alert["metadata"]["checkin_status"] == "missed"
    monitor = Monitor.objects.get()
    assert (monitor.status, monitor.consecutive_failures) == ("missed", 2)
    assert monitor.next_due_at == due + timedelta(seconds=20)


@pytest.mark.django_db
def test_a_silent_health_broadcast_is_a_dead_beat_alert(settings):
    settings.OPSMESSAGING = {"HEALTH_BROADCAST_INTERVAL": 1000}
    spec = checkins.builtin_specs()[checkins.HEALTH_MONITOR]
    assert (spec.interval_ms, spec.margin_ms) == (1000, 1000)
    checkins.run_checked(spec, lambda: "ran")
    later = timezone.now() + timedelta(seconds=3)
    assert checkins.detect_missed(later) == ["opsmessaging-health"]
    [alert] = _alerts("missed_checkin")
    assert alert["title"] == (
        "No scheduled health broadcast for two intervals: is Celery beat running?"
    )


@pytest.mark.django_db
def test_a_duplicate_periodic_run_leaves_no_check_in():
    spec = MonitorSpec("job", interval_ms=1000)
    assert checkins.run_checked(spec, lambda: "duplicate") == "duplicate"
    assert not CheckIn.objects.exists()


@pytest.mark.django_db
def test_check_ins_off_record_nothing(settings):
    settings.OPSMESSAGING = {"CHECKINS": False}
    assert checkins.run_checked(MonitorSpec("job", interval_ms=1000), lambda: 1) == 1
    assert not Monitor.objects.exists()


@pytest.mark.django_db
def test_the_periodic_tasks_check_in_under_their_beat_entry_names():
    tasks.prune_messages.apply().get()
    tasks.check_cluster.apply().get()
    assert sorted(Monitor.objects.values_list("name", "status")) == [
        ("opsmessaging-cluster", "ok"),
        ("opsmessaging-retention", "ok"),
    ]


def test_a_crontab_monitor_is_due_at_the_next_time_plus_its_margin():
    spec = MonitorSpec("cron", crontab="30 3 * * *", margin_ms=60_000)
    after = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    assert spec.next_due(after) == datetime(2026, 5, 1, 3, 31, tzinfo=UTC)


def test_a_monitor_needs_an_interval_or_a_crontab():
    with pytest.raises(ValueError, match="give an interval or a crontab"):
        MonitorSpec("none")
    with pytest.raises(ValueError, match="needs 5 fields"):
        MonitorSpec("bad", crontab="* *")


def test_celery_crontab_objects_are_accepted():
    from celery.schedules import crontab

    decorated = opsmessaging.monitor("c", crontab=crontab(minute="0", hour="4"))(
        lambda: None
    )
    assert decorated.monitor_spec.crontab == "0 4 * * *"

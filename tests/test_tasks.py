"""Periodic tasks: one run per period whoever sends it, send-time stamping, the tasks."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connections
from django.utils import timezone

from opsmessaging import pubsub, tasks
from opsmessaging.catalogue import diagnostics
from opsmessaging.models import Message, Node, PeriodicRun
from tests.concurrency import run_together


def _measured(job):
    """A ``measure`` that measures nothing and returns ``job``."""
    return lambda: job


def _task(sent: datetime | None) -> SimpleNamespace:
    headers = {} if sent is None else {tasks.SENT_AT_HEADER: sent.timestamp()}
    return SimpleNamespace(request=SimpleNamespace(**headers))


def test_stamp_sent_at_marks_only_opsmessaging_tasks():
    ours: dict[str, object] = {}
    theirs: dict[str, object] = {}
    tasks.stamp_sent_at(sender="opsmessaging.broadcast_health", headers=ours)
    tasks.stamp_sent_at(sender="app.other_task", headers=theirs)
    assert isinstance(ours[tasks.SENT_AT_HEADER], float)
    assert theirs == {}


def test_stamp_sent_at_keeps_a_given_send_time():
    headers = {tasks.SENT_AT_HEADER: 12.5}
    tasks.stamp_sent_at(sender="opsmessaging.broadcast_health", headers=headers)
    assert headers == {tasks.SENT_AT_HEADER: 12.5}


def test_sent_at_reads_the_header_and_defaults_to_now():
    sent = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert tasks.sent_at(_task(sent).request) == sent
    before = timezone.now()
    assert before <= tasks.sent_at(_task(None).request) <= timezone.now()


@pytest.mark.django_db
def test_two_schedulers_out_of_phase_run_each_period_once():
    runs: list[datetime] = []
    base = timezone.now()
    interval = 10_000
    # Beat A sends at 0, 10, 20 s; beat B, started by mistake, at 4, 14, 24 s.
    sends = [base + timedelta(seconds=s) for s in (0, 4, 10, 14, 20, 24)]
    outcomes = [
        tasks.run_periodic(
            _task(sent),
            "health",
            interval,
            _measured(lambda state, sent=sent: runs.append(sent)),
        )
        for sent in sends
    ]
    assert outcomes == ["ran", "duplicate", "ran", "duplicate", "ran", "duplicate"]
    assert runs == [sends[0], sends[2], sends[4]]


@pytest.mark.django_db
def test_a_second_scheduler_nearly_a_period_behind_takes_over_without_doubling():
    base = timezone.now()
    # B sends 9.5 s after A (more than 0.9 of the interval): B runs once in A's place, and
    # from then on A is the duplicate.
    sends = [base + timedelta(seconds=s) for s in (0, 9.5, 10, 19.5, 20, 29.5)]
    outcomes = [
        tasks.run_periodic(_task(sent), "health", 10_000, _measured(lambda s: None))
        for sent in sends
    ]
    assert outcomes == ["ran", "ran", "duplicate", "ran", "duplicate", "ran"]


@pytest.mark.django_db
def test_a_redelivered_message_does_not_run_again():
    sent = timezone.now()
    calls: list[int] = []
    for _ in range(2):
        tasks.run_periodic(
            _task(sent), "metrics", 5_000, _measured(lambda s: calls.append(1))
        )
    assert calls == [1]


@pytest.mark.django_db
def test_a_message_older_than_an_interval_is_dropped():
    sent = timezone.now() - timedelta(seconds=11)
    calls: list[int] = []
    outcome = tasks.run_periodic(
        _task(sent), "health", 10_000, _measured(lambda s: calls.append(1))
    )
    assert (outcome, calls) == ("expired", [])
    assert not PeriodicRun.objects.exists()


@pytest.mark.django_db
def test_the_job_state_is_kept_for_the_next_run(settings):
    settings.OPSMESSAGING = {"NODE_NAME": "w1@h"}
    seen: list[dict] = []

    def job(state):
        seen.append(dict(state))
        return {"runs": state.get("runs", 0) + 1}

    base = timezone.now()
    for offset in (0, 5, 10):
        tasks.run_periodic(
            _task(base + timedelta(seconds=offset)), "metrics", 5_000, _measured(job)
        )
    assert seen == [{}, {"runs": 1}, {"runs": 2}]
    run = PeriodicRun.objects.get(name="metrics")
    assert (run.state, run.node, run.last_sent_at) == (
        {"runs": 3},
        "w1@h",
        base + timedelta(seconds=10),
    )


class JobDied(Exception):
    pass


def _broadcast_then_die(state):
    pubsub.broadcast_diagnostic("trace", "db", {"step": 1})
    raise JobDied


@pytest.mark.django_db
def test_a_run_that_dies_half_way_leaves_no_claim_no_message_and_no_state():
    sent = timezone.now()
    with pytest.raises(JobDied):
        tasks.run_periodic(
            _task(sent), "metrics", 5_000, _measured(_broadcast_then_die)
        )
    assert not Message.objects.exists()
    assert not PeriodicRun.objects.exists()


@pytest.mark.django_db
def test_the_message_of_a_run_that_died_runs_its_period_when_delivered_again():
    sent = timezone.now()
    PeriodicRun.claim("metrics", sent - timedelta(seconds=5), 5_000, "n0@h")
    with pytest.raises(JobDied):
        tasks.run_periodic(
            _task(sent), "metrics", 5_000, _measured(_broadcast_then_die)
        )
    outcome = tasks.run_periodic(
        _task(sent), "metrics", 5_000, _measured(lambda state: {"runs": 1})
    )
    assert outcome == "ran"
    run = PeriodicRun.objects.get(name="metrics")
    assert (run.last_sent_at, run.state) == (sent, {"runs": 1})
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_claimed_period_is_skipped_before_measuring():
    sent = timezone.now()
    measured: list[int] = []

    def measure():
        measured.append(1)
        return lambda state: None

    outcomes = [
        tasks.run_periodic(_task(sent), "health", 5_000, measure) for _ in range(2)
    ]
    assert (outcomes, measured) == (["ran", "duplicate"], [1])


@pytest.mark.django_db
def test_a_run_of_short_transactions_keeps_its_claim_when_it_dies():
    sent = timezone.now()
    with pytest.raises(JobDied):
        tasks.run_periodic(
            _task(sent),
            "retention",
            60_000,
            _measured(_broadcast_then_die),
            atomic=False,
        )
    assert PeriodicRun.objects.get(name="retention").last_sent_at == sent
    assert Message.objects.count() == 1


def test_tasks_acknowledge_their_message_once_done_or_give_it_back():
    declared = [
        tasks.scheduled_health,
        tasks.scheduled_metrics,
        tasks.check_cluster,
        tasks.prune_messages,
    ]
    assert [(t.acks_late, t.reject_on_worker_lost) for t in declared] == [
        (True, True)
    ] * 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_delivery_during_a_run_waits_for_it_and_runs_the_period_if_it_died():
    sent = timezone.now()
    PeriodicRun.claim("health", sent - timedelta(seconds=5), 5_000, "n0@h")
    started, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def dying(state):
        pubsub.broadcast_diagnostic("trace", "db", {"run": "first"})
        started.set()
        release.wait(10)
        raise JobDied

    def first():
        try:
            tasks.run_periodic(_task(sent), "health", 5_000, _measured(dying))
        except JobDied:
            outcomes["first"] = "died"
        finally:
            connections.close_all()

    def replacing(state):
        pubsub.broadcast_diagnostic("trace", "db", {"run": "second"})

    def second():
        started.wait(10)
        outcomes["second"] = tasks.run_periodic(
            _task(sent), "health", 5_000, _measured(replacing)
        )
        connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    started.wait(10)
    time.sleep(0.3)  # the second delivery is now waiting on the claim's row lock
    assert "second" not in outcomes
    release.set()
    for thread in threads:
        thread.join(10)
    assert outcomes == {"first": "died", "second": "ran"}
    assert [m.payload["trace_data"] for m in Message.objects.all()] == [
        {"run": "second"}
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_claims_of_one_period_are_won_once():
    sent = timezone.now()
    PeriodicRun.claim("health", sent - timedelta(seconds=30), 30_000, "n0@h")
    won = run_together(
        8, lambda: PeriodicRun.claim("health", sent, 30_000, "n1@h") is not None
    )
    assert sorted(won) == [False] * 7 + [True]
    assert PeriodicRun.objects.get(name="health").last_sent_at == sent


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_first_claims_are_won_once():
    sent = timezone.now()
    won = run_together(
        6, lambda: PeriodicRun.claim("retention", sent, 60_000, "n@h") is not None
    )
    assert sorted(won) == [False] * 5 + [True]


@pytest.mark.django_db
def test_check_cluster_task_heartbeats_the_worker_and_declares_silent_nodes(settings):
    settings.OPSMESSAGING = {"NODE_NAME": "w1@h"}
    Node.heartbeat("gone@h", role="worker")
    Node.objects.filter(name="gone@h").update(
        last_heartbeat_at=timezone.now() - timedelta(minutes=1)
    )
    assert tasks.check_cluster.apply().get() == ["gone@h"]
    assert Node.objects.get(name="w1@h").role == "worker"
    assert Node.objects.get(name="gone@h").status == "failed"


@pytest.mark.django_db
def test_prune_task_prunes_by_retention_and_records_a_compliance_event(settings):
    settings.OPSMESSAGING = {"RETENTION_DAYS": {"diagnostics": 1}}
    old = timezone.now() - timedelta(days=2)
    pubsub.broadcast_batch(
        [
            diagnostics.debug_trace("db", "trace", {"n": n}, timestamp=old)
            for n in range(3)
        ]
    )
    pubsub.broadcast_diagnostic("trace", "db", {"n": 3})
    assert tasks.prune_messages.apply().get() == "ran"
    kept = Message.objects.filter(category="diagnostics").values_list(
        "sequence", flat=True
    )
    assert list(kept) == [4]
    event = Message.objects.get(payload_type="ComplianceEvent")
    assert (event.category, event.topic) == ("audit", "compliance")
    payload = event.to_wire()["payload"]  # audit payloads are encrypted at rest
    assert payload["event_type"] == "data_deletion"
    assert payload["automated"] is True
    assert payload["action_taken"] == "deleted 3 expired messages"
    [(category, affected)] = payload["affected_data"].items()
    assert (category, affected["deleted"], affected["first_kept_sequence"]) == (
        "diagnostics",
        3,
        4,
    )


@pytest.mark.django_db
def test_prune_task_records_nothing_when_nothing_expired():
    pubsub.broadcast_diagnostic("trace", "db", {"n": 1})
    assert tasks.prune_messages.apply().get() == "ran"
    assert not Message.objects.filter(category="audit").exists()

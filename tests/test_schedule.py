"""The beat schedule: built from settings, loadable by both schedulers, and live on Redis."""

from __future__ import annotations

import json
import re
import statistics
import time
from datetime import datetime, timedelta

import pytest
from celery import Celery
from django.test import override_settings
from django.utils import timezone

from opsmessaging import relay
from opsmessaging.categories import Category
from opsmessaging.models import Message, Node
from opsmessaging.schedule import beat_schedule
from tests import celery_live
from tests.celery_live import CeleryProcesses, wait_for

celery_processes = celery_live.celery_processes

FAST = {
    "HEALTH_BROADCAST_INTERVAL": 1_000,
    "METRICS_BROADCAST_INTERVAL": 2_000,
    "HEARTBEAT_INTERVAL": 3_000,
    "RETENTION_INTERVAL": 60_000,
}


def test_beat_schedule_has_health_metrics_cluster_and_retention_from_settings():
    with override_settings(OPSMESSAGING=FAST):
        schedule = beat_schedule()
    assert schedule == {
        "opsmessaging-health": {
            "task": "opsmessaging.broadcast_health",
            "schedule": timedelta(seconds=1),
            "options": {"expires": 1.0},
        },
        "opsmessaging-metrics": {
            "task": "opsmessaging.broadcast_metrics",
            "schedule": timedelta(seconds=2),
            "options": {"expires": 2.0},
        },
        "opsmessaging-cluster": {
            "task": "opsmessaging.check_cluster",
            "schedule": timedelta(seconds=3),
            "options": {"expires": 3.0},
        },
        "opsmessaging-retention": {
            "task": "opsmessaging.prune_messages",
            "schedule": timedelta(seconds=60),
            "options": {"expires": 60.0},
        },
    }


def test_beat_schedule_defaults_follow_the_original_intervals():
    with override_settings(OPSMESSAGING={}):
        schedule = beat_schedule()
    assert schedule["opsmessaging-health"]["schedule"] == timedelta(seconds=30)
    assert schedule["opsmessaging-metrics"]["schedule"] == timedelta(seconds=60)
    assert schedule["opsmessaging-cluster"]["schedule"] == timedelta(seconds=5)
    assert schedule["opsmessaging-retention"]["schedule"] == timedelta(hours=1)


def test_demo_celery_app_carries_the_schedule_and_the_tasks():
    from project.celery import app

    assert set(beat_schedule()) <= set(app.conf.beat_schedule)
    app.loader.import_default_modules()
    assert {
        "opsmessaging.broadcast_health",
        "opsmessaging.broadcast_metrics",
        "opsmessaging.check_cluster",
        "opsmessaging.prune_messages",
    } <= set(app.tasks)


@pytest.mark.django_db(transaction=True)
def test_database_scheduler_loads_the_schedule_into_its_tables():
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    app = Celery("schedule-test", set_as_current=False)
    with override_settings(OPSMESSAGING=FAST):
        app.conf.beat_schedule = beat_schedule()
    scheduler = DatabaseScheduler(app=app)
    rows = {
        task.name: (task.task, task.interval.every, task.interval.period)
        for task in PeriodicTask.objects.filter(name__startswith="opsmessaging-")
    }
    assert rows == {
        "opsmessaging-health": ("opsmessaging.broadcast_health", 1, "seconds"),
        "opsmessaging-metrics": ("opsmessaging.broadcast_metrics", 2, "seconds"),
        "opsmessaging-cluster": ("opsmessaging.check_cluster", 3, "seconds"),
        "opsmessaging-retention": ("opsmessaging.prune_messages", 60, "seconds"),
    }
    assert scheduler.schedule["opsmessaging-health"].schedule.run_every == timedelta(
        seconds=1
    )


# --- live: a real worker and beat on Redis --------------------------------------------


def _node_health(node: str) -> list[Message]:
    return list(
        Message.objects.filter(payload_type="NodeHealth", node=node).order_by("id")
    )


def _gaps(messages: list[Message]) -> list[float]:
    stamps = [m.timestamp for m in messages]
    return [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]


@pytest.mark.postgres
@pytest.mark.redis
def test_worker_and_beat_broadcast_health_of_every_component_every_interval(
    celery_processes: CeleryProcesses,
):
    celery_processes.worker(
        "w1@live",
        "-B",
        "--scheduler",
        "celery.beat:Scheduler",
        HEALTH_BROADCAST_INTERVAL=1000,
        METRICS_BROADCAST_INTERVAL=60_000,
        HEALTH_PROBE_SLOW=2000,
    )
    runs = wait_for(
        lambda: len(_node_health("w1@live")) >= 4 and _node_health("w1@live"),
        20,
        "four NodeHealth messages from the worker",
    )
    first, *_ = runs
    assert first.category == "health"
    assert first.topic == "node_health"
    assert first.payload["status"] == "healthy"
    assert set(first.payload["checks"]) == {
        "database",
        "cache",
        "channel_layer",
        "celery_broker",
        "celery_workers",
    }
    for check in first.payload["checks"].values():
        assert check["status"] == "healthy"
        assert check["error"] is None
        assert check["duration_ms"] > 0
    assert first.payload["memory_usage"] > 0
    components = Message.objects.filter(
        payload_type="ComponentHealth", node="w1@live", id__lt=first.id
    ).order_by("id")
    by_component = {m.payload["component"]: m.payload for m in components}
    assert set(by_component) == set(first.payload["checks"])
    assert by_component["celery_workers"]["details"]["workers"] == ["w1@live"]
    assert by_component["celery_broker"]["details"]["transport"] == "redis"
    assert by_component["database"]["details"]["vendor"] == "postgresql"
    assert (
        by_component["channel_layer"]["details"]["backend"]
        == "channels_redis.pubsub.RedisPubSubChannelLayer"
    )
    for payload in by_component.values():
        assert payload["status"] == "healthy"
        assert payload["last_check"] is not None
    # Cadence: one run per second of the beat, each stored as a whole batch.
    gaps = _gaps(runs)
    assert all(0.5 <= gap <= 1.6 for gap in gaps), gaps
    assert components.count() == 5
    assert not Message.objects.filter(category="alerts").exists()


@pytest.mark.postgres
@pytest.mark.redis
def test_worker_and_beat_broadcast_metrics_every_interval(
    celery_processes: CeleryProcesses, monkeypatch
):
    # The worker's relay leads, as on a node of its own: the delivery latency it
    # reports is that of the deliveries it makes.
    relay.relay.stop()
    monkeypatch.setattr(relay.relay, "ensure_running", lambda **kwargs: None)
    celery_processes.worker(
        "w1@live",
        "-B",
        "--scheduler",
        "celery.beat:Scheduler",
        HEALTH_BROADCAST_INTERVAL=60_000,
        METRICS_BROADCAST_INTERVAL=1500,
    )

    def store_sizes() -> list[Message]:
        rows = list(
            Message.objects.filter(payload__metric_name="store_size").order_by("id")
        )
        return rows if len(rows) >= 3 else []

    sizes = wait_for(store_sizes, 20, "three metrics runs")
    gaps = _gaps(sizes)
    assert all(1.0 <= gap <= 2.2 for gap in gaps), gaps
    # The first run records a baseline; from the second on, throughput per category.
    throughput = list(
        Message.objects.filter(payload_type="ThroughputMetric").order_by("id")
    )
    assert len(throughput) >= 9
    second_run = [m for m in throughput if m.id < sizes[1].id]
    assert [m.payload["operation"] for m in second_run] == [
        f"messages_stored.{c.value}" for c in Category
    ]
    metrics_rate = next(
        m.payload
        for m in second_run
        if m.payload["operation"] == "messages_stored.metrics"
    )
    # Between the two reads of the sequences, the first run's batch was stored.
    first_run = Message.objects.filter(category="metrics", id__lt=second_run[0].id)
    assert metrics_rate["count"] == first_run.count()
    assert 1000 <= metrics_rate["duration_ms"] <= 2500
    assert metrics_rate["rate_per_sec"] == pytest.approx(
        metrics_rate["count"] / (metrics_rate["duration_ms"] / 1000)
    )
    size = sizes[1].payload
    assert size["unit"] == "messages"
    assert size["tags"]["bytes"] > 0
    assert size["value"] == sum(size["tags"]["per_category"].values())
    resources = {
        m.payload["resource_type"]: m.payload
        for m in Message.objects.filter(
            payload_type="ResourceUsage", id__lt=sizes[1].id
        )
    }
    assert set(resources) == {"cpu", "memory"}
    assert 0 < resources["memory"]["usage_percent"] < 100
    assert resources["memory"]["current_used"] > 0
    # The second run reports this worker's delivery counters and the cluster's lag.
    second = Message.objects.filter(id__gt=sizes[1].id, id__lt=sizes[2].id)
    failed = second.get(payload__metric_name="failed_deliveries")
    assert failed.payload["value"] == 0
    assert set(failed.payload["tags"]["delivery_lag"]) <= set(Category.values)
    assert all(lag >= 0 for lag in failed.payload["tags"]["delivery_lag"].values())
    latency = second.filter(payload_type="LatencyMetric")
    assert sorted(m.payload["percentile"] for m in latency) == [
        "max",
        "p50",
        "p95",
        "p99",
    ]


@pytest.mark.postgres
@pytest.mark.redis
def test_database_scheduler_drives_the_same_broadcasts(
    celery_processes: CeleryProcesses,
):
    from django_celery_beat.models import PeriodicTask

    celery_processes.worker("w1@live", HEALTH_BROADCAST_INTERVAL=1000)
    celery_processes.beat(
        "beat@live",
        "-S",
        "django_celery_beat.schedulers:DatabaseScheduler",
        HEALTH_BROADCAST_INTERVAL=1000,
    )
    runs = wait_for(
        lambda: len(_node_health("w1@live")) >= 3 and _node_health("w1@live"),
        25,
        "three NodeHealth messages through the database scheduler",
    )
    # Every second, not once only and not twice a period; one late run (a loaded machine
    # delays a task, not the schedule) must not fail it, so the median is what counts.
    gaps = _gaps(runs)
    assert 0.7 <= statistics.median(gaps) <= 1.5 and min(gaps) >= 0.3, gaps
    health = PeriodicTask.objects.get(name="opsmessaging-health")
    assert (health.task, health.interval.every) == ("opsmessaging.broadcast_health", 1)
    beat = Node.objects.get(name="beat@live")
    assert beat.role == "beat"


@pytest.mark.postgres
@pytest.mark.redis
def test_two_beats_by_mistake_do_not_double_the_periodic_messages(
    celery_processes: CeleryProcesses,
):
    celery_processes.worker("w1@live", HEALTH_BROADCAST_INTERVAL=1000)
    first = celery_processes.beat("beat1@live", HEALTH_BROADCAST_INTERVAL=1000)
    time.sleep(0.4)  # out of phase with the first
    second = celery_processes.beat("beat2@live", HEALTH_BROADCAST_INTERVAL=1000)
    wait_for(lambda: len(_node_health("w1@live")) >= 1, 20, "the first health run")
    window_start = timezone.now()
    time.sleep(6)
    window_end = timezone.now()
    seconds = (window_end - window_start).total_seconds()
    runs = [
        m for m in _node_health("w1@live") if window_start <= m.timestamp <= window_end
    ]
    sent = [
        len(re.findall(r"Sending due task opsmessaging-health", beat.output()))
        for beat in (first, second)
    ]
    # Both beats really sent every second; the worker ran each period once, not twice.
    assert min(sent) >= 5, sent
    assert seconds - 2 <= len(runs) <= seconds + 2, (len(runs), seconds)
    assert all(gap >= 0.5 for gap in _gaps(runs)), _gaps(runs)


# --- the embedded default: Celery inside the demo server, no external service ---------


def test_demo_server_without_redis_runs_the_schedule_in_process(tmp_path):
    import os
    import sqlite3
    import subprocess
    import sys

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    env.update(
        SQLITE_PATH=str(tmp_path / "demo.sqlite3"),
        DEMO_BACKGROUND_THREADS="1",
        OPSMESSAGING_NODE_NAME="web@embedded",
        OPSMESSAGING_HEALTH_BROADCAST_INTERVAL="1000",
        OPSMESSAGING_METRICS_BROADCAST_INTERVAL="1500",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=celery_live.ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "project.asgi:application",
                "--port",
                "0",
            ],
            cwd=celery_live.ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def stored() -> list[tuple[str, str, str]]:
        with sqlite3.connect(tmp_path / "demo.sqlite3") as db:
            return db.execute(
                "SELECT payload_type, node, timestamp FROM opsmessaging_message "
                "WHERE category IN ('health', 'metrics') ORDER BY id"
            ).fetchall()

    try:
        rows = wait_for(
            lambda: (
                (rows := stored())
                and sum(r[0] == "NodeHealth" for r in rows) >= 3
                and sum(r[0] == "ResourceUsage" for r in rows) >= 4
                and rows
            ),
            20,
            "health and metrics from the embedded worker and beat",
        )
    finally:
        server.terminate()
        server.wait(10)
        print(log.read_text(errors="replace"))
    assert {node for _, node, _ in rows} == {"web@embedded"}
    runs = [datetime.fromisoformat(t) for kind, _, t in rows if kind == "NodeHealth"]
    gaps = [(b - a).total_seconds() for a, b in zip(runs, runs[1:], strict=False)]
    assert all(0.5 <= gap <= 1.6 for gap in gaps), gaps
    with sqlite3.connect(tmp_path / "demo.sqlite3") as db:
        [(payload,)] = db.execute(
            "SELECT payload FROM opsmessaging_message WHERE payload_type = "
            "'ComponentHealth' AND payload LIKE '%celery_workers%' ORDER BY id LIMIT 1"
        ).fetchall()
    workers = json.loads(payload)
    assert workers["status"] == "healthy"
    assert workers["details"]["workers"] == ["embedded.web@embedded"]

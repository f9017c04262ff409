"""Celery capture: failed tasks become ErrorAnalysis; workers and their pool processes
announce their lifecycle. Uses real Celery apps: eager, an embedded worker, and a worker
process on Redis."""

from __future__ import annotations

import signal
import subprocess
import uuid

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.db import connection

from opsmessaging.models import Node
from tests.capture.support import PYTHON_BIN, ROOT, child_env, stored, wait_for

NODE = "web1@testhost"


@pytest.fixture(autouse=True)
def named_node(settings):
    settings.OPSMESSAGING = {"NODE_NAME": NODE, "SYSTEM_NAME": "shop"}


def failing_app(**conf) -> tuple[Celery, object]:
    app = Celery(f"capture-{uuid.uuid4().hex[:8]}", set_as_current=False)
    app.conf.update(broker_url="memory://", result_backend="cache+memory://", **conf)

    @app.task(name=f"{app.main}.divide")
    def divide(a: int, b: int) -> float:
        return a / b

    return app, divide


@pytest.mark.django_db
def test_a_failing_eager_task_produces_an_error_analysis():
    app, divide = failing_app(task_always_eager=True)
    result = divide.delay(1, 0)
    assert result.failed()
    [message] = stored("ErrorAnalysis")
    payload = message["payload"]
    assert payload["error_type"] == "builtins.ZeroDivisionError"
    assert payload["error_message"] == "division by zero"
    assert payload["frequency"] == 1
    assert payload["stack_trace"][-1]["function"] == "divide"
    context = dict(payload["context"])
    assert context.pop("signature") and context.pop("window_ms") == 300_000
    assert context == {
        "source": "celery_task",
        "task": f"{app.main}.divide",
        "task_id": result.id,
        "retries": 0,
        "hostname": context["hostname"],
    }


@pytest.mark.django_db
def test_repeated_task_failures_are_aggregated(settings):
    settings.OPSMESSAGING = {"NODE_NAME": NODE, "ERROR_ALERT_THRESHOLD": 3}
    app, divide = failing_app(task_always_eager=True)
    for _ in range(4):
        divide.delay(1, 0)
    assert [m["payload"]["frequency"] for m in stored("ErrorAnalysis")] == [1, 2, 3, 4]
    [alert] = stored("SystemAlert")
    assert alert["payload"]["metadata"]["task"] == f"{app.main}.divide"


@pytest.mark.django_db
def test_capture_failures_off_ignores_failing_tasks(settings):
    settings.OPSMESSAGING = {"CAPTURE_FAILURES": False}
    app, divide = failing_app(task_always_eager=True)
    assert divide.delay(1, 0).failed()
    assert stored("ErrorAnalysis") == []


@pytest.mark.django_db(transaction=True)
def test_a_task_failing_in_an_embedded_worker_produces_an_error_analysis(monkeypatch):
    # Celery's Django fixup then closes the worker thread's connection after the task,
    # instead of leaving it open past the end of the test.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    app, divide = failing_app()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = divide.delay(3, 0)
        with pytest.raises(ZeroDivisionError):
            result.get(timeout=10)
    [message] = stored("ErrorAnalysis")
    assert message["payload"]["context"]["task_id"] == result.id
    assert message["payload"]["context"]["task"] == f"{app.main}.divide"


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_announces_its_lifecycle_and_failed_tasks():
    from tests.capture.worker_app import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("opsmessaging-capture-tests")
    worker = subprocess.Popen(
        [
            str(PYTHON_BIN / "celery"),
            "-A",
            "tests.capture.worker_app",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--hostname",
            "capture1@testhost",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=child_env(OPSMESSAGING_NODE_NAME="worker1@testhost"),
    )
    try:
        wait_for(lambda: stored("SystemLifecycle", event="started"), timeout=60)
        app.send_task("capture_tests.fail", args=[7])
        [failure] = wait_for(lambda: stored("ErrorAnalysis"), timeout=60)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert [(m["node"], m["payload"]["event"]) for m in stored("SystemLifecycle")] == [
        ("worker1@testhost", event)
        for event in ("starting", "started", "stopping", "stopped")
    ]
    processes = stored("ProcessLifecycle")
    assert [m["payload"]["event"] for m in processes] == ["started", "stopped"]
    assert {m["payload"]["module"] for m in processes} == {"celery.worker"}
    assert processes[0]["payload"]["pid"] == processes[1]["payload"]["pid"]
    assert processes[0]["payload"]["name"] == "ForkPoolWorker-1"
    assert failure["node"] == "worker1@testhost"
    assert failure["payload"]["error_type"] == "builtins.ValueError"
    assert failure["payload"]["error_message"] == "task failed 7"
    assert failure["payload"]["context"]["task"] == "capture_tests.fail"
    assert failure["payload"]["context"]["hostname"] == "capture1@testhost"
    # The pool process is a fork of the worker: its logging handler started its own writer.
    [logged] = [
        m
        for m in stored("LogEntry")
        if "raised unexpected: ValueError('task failed 7')" in m["payload"]["message"]
    ]
    assert logged["payload"]["pid"] == processes[0]["payload"]["pid"]
    assert logged["payload"]["level"] == "error"
    node = Node.objects.get(name="worker1@testhost")
    assert (node.role, node.metadata) == (
        "worker",
        {"celery_hostname": "capture1@testhost"},
    )

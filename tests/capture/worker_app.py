"""The Celery app of the capture tests; a real worker runs it in a child process:
``celery -A tests.capture.worker_app worker`` (broker: ``REDIS_URL``)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("opsmessaging_capture_tests")
app.conf.update(
    broker_url=os.environ.get("REDIS_URL", "memory://"),
    task_default_queue="opsmessaging-capture-tests",
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="capture_tests.fail")
def fail(n: int) -> None:
    raise ValueError(f"task failed {n}")

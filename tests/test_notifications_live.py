"""A real Celery worker delivers a notice to a loopback webhook failing twice."""

from __future__ import annotations

import json

import pytest

from opsmessaging import notifications, pubsub
from opsmessaging.models import Notification
from tests import celery_live
from tests.celery_live import CeleryProcesses, wait_for
from tests.test_notifications import SECRET, Receiver, receiver  # noqa: F401

celery_processes = celery_live.celery_processes


@pytest.mark.postgres
@pytest.mark.redis
def test_a_webhook_failing_twice_gets_exactly_one_signed_delivery(
    celery_processes: CeleryProcesses,
    receiver: str,  # noqa: F811
):
    route = {"name": "hook", "min_severity": "error", "webhook": receiver}
    celery_processes.worker(
        "w1@notify",
        env={
            "DJANGO_SETTINGS_MODULE": "tests.settings_notifications",
            "TEST_NOTIFICATIONS": json.dumps([{**route, "secret": SECRET}]),
        },
        HEARTBEAT_INTERVAL=300,
    )
    Receiver.fail = 2
    pubsub.broadcast_alert("node_failure", "critical", "w9 is gone")
    row = wait_for(
        lambda: Notification.objects.filter(status="sent").first(),
        30,
        "a sent notification",
    )
    assert (row.route, row.kind, row.attempts) == ("hook", "alert", 3)
    codes = [code for _, _, code in Receiver.received]
    assert codes == [500, 500, 200]
    headers, body, _ = Receiver.received[-1]
    stamp = headers[notifications.TIMESTAMP_HEADER]
    assert headers[notifications.SIGNATURE_HEADER] == notifications.signature(
        SECRET, stamp, body
    )
    assert json.loads(body)["title"] == "w9 is gone"

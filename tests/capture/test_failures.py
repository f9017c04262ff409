"""Unhandled request exceptions become ErrorAnalysis diagnostics, counted across processes,
with a SystemAlert past the threshold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.test import Client

from opsmessaging.capture import failures
from opsmessaging.models import Message, OccurrenceWindow
from tests.capture.support import run_concurrently, stored

NODE = "web1@testhost"
pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.capture.urls")]


@pytest.fixture(autouse=True)
def named_node(settings):
    settings.OPSMESSAGING = {"NODE_NAME": NODE, "ERROR_ALERT_THRESHOLD": 3}


@pytest.fixture
def failing_client():
    return Client(raise_request_exception=False)


def boom(client, n: int = 1, path: str = "/boom/"):
    response = client.get(path, {"n": n})
    assert response.status_code == 500
    return response


def test_unhandled_request_exception_stores_an_error_analysis(failing_client):
    boom(failing_client)
    [message] = stored("ErrorAnalysis")
    assert (message["category"], message["topic"], message["tag"]) == (
        "diagnostics",
        "error_analysis",
        "error_analysis",
    )
    payload = message["payload"]
    signature = payload["context"]["signature"]
    assert payload["error_id"] == f"error_{signature[:16]}"
    assert payload["error_type"] == "builtins.RuntimeError"
    assert payload["error_message"] == "boom 1"
    assert payload["frequency"] == 1
    assert payload["first_seen"] == payload["last_seen"]
    assert payload["node"] == NODE
    assert payload["context"] == {
        "source": "request",
        "method": "GET",
        "path": "/boom/",
        "view": "boom",
        "user_id": None,
        "signature": signature,
        "window_ms": 300_000,
    }
    last = payload["stack_trace"][-1]
    assert last["function"] == "boom"
    assert last["file"].endswith("tests/capture/urls.py")
    assert (
        last["code"]
        == "raise RuntimeError(f\"boom {request.GET.get('n', '')}\".strip())"
    )


def test_repeats_are_aggregated_and_reported_at_each_doubling(failing_client, settings):
    settings.OPSMESSAGING = {"ERROR_ALERT_THRESHOLD": 100}
    for n in range(1, 10):
        boom(failing_client, n)  # the message differs; the error is the same
    messages = [m["payload"] for m in stored("ErrorAnalysis")]
    assert [p["frequency"] for p in messages] == [1, 2, 4, 8]
    assert [p["error_message"] for p in messages] == [
        "boom 1",
        "boom 2",
        "boom 4",
        "boom 8",
    ]
    assert len({p["error_id"] for p in messages}) == 1
    assert len({p["first_seen"] for p in messages}) == 1
    assert [p["last_seen"] for p in messages] == sorted(
        p["last_seen"] for p in messages
    )
    [window] = OccurrenceWindow.objects.all()
    assert window.count == 9


def test_past_the_threshold_a_system_alert_is_sent_once_per_window(failing_client):
    for n in range(1, 7):
        boom(failing_client, n)
    assert [m["payload"]["frequency"] for m in stored("ErrorAnalysis")] == [1, 2, 3, 4]
    [alert] = stored("SystemAlert")
    assert (alert["category"], alert["topic"], alert["severity"]) == (
        "alerts",
        "repeated_error",
        "error",
    )
    payload = alert["payload"]
    assert payload["title"] == "builtins.RuntimeError raised 3 times within 300 s"
    assert (payload["alert_type"], payload["category"], payload["requires_ack"]) == (
        "repeated_error",
        "system",
        True,
    )
    assert payload["metadata"]["count"] == 3
    assert payload["metadata"]["threshold"] == 3
    assert payload["metadata"]["error_message"] == "boom 3"
    assert payload["metadata"]["path"] == "/boom/"


def test_a_new_window_counts_from_one_and_can_alert_again(failing_client):
    for n in range(1, 4):
        boom(failing_client, n)
    window = OccurrenceWindow.objects.get()
    OccurrenceWindow.objects.filter(pk=window.pk).update(
        window_started_at=window.window_started_at - timedelta(seconds=301)
    )
    for n in range(4, 7):
        boom(failing_client, n)
    assert [m["payload"]["frequency"] for m in stored("ErrorAnalysis")] == [
        1,
        2,
        3,
        1,
        2,
        3,
    ]
    assert len(stored("SystemAlert")) == 2


def test_errors_raised_in_different_places_are_counted_apart(failing_client):
    boom(failing_client)
    boom(failing_client, path="/other-boom/")
    first, second = (m["payload"] for m in stored("ErrorAnalysis"))
    assert first["error_id"] != second["error_id"]
    assert (first["frequency"], second["frequency"]) == (1, 1)
    assert OccurrenceWindow.objects.count() == 2


def test_a_broken_store_keeps_the_500_and_logs_the_capture_failure(
    failing_client, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise DatabaseError("the store is down")

    monkeypatch.setattr(OccurrenceWindow.objects, "record", broken)
    boom(failing_client)
    assert Message.objects.count() == 0
    [record] = [r for r in caplog.records if r.name == "opsmessaging.capture.guard"]
    assert record.getMessage() == "opsmessaging capture on_request_exception failed"
    assert record.exc_info[1].args == ("the store is down",)


def test_capture_failures_off_stores_nothing(failing_client, settings):
    settings.OPSMESSAGING = {"CAPTURE_FAILURES": False}
    boom(failing_client)
    assert Message.objects.count() == 0
    assert OccurrenceWindow.objects.count() == 0


def test_record_exception_takes_the_traceback_of_the_exception():
    try:
        {}["missing"]
    except KeyError as exc:
        failures.record_exception(exc, context={"source": "test"})
    [message] = stored("ErrorAnalysis")
    payload = message["payload"]
    assert payload["error_type"] == "builtins.KeyError"
    assert payload["error_message"] == "'missing'"
    assert payload["stack_trace"][-1]["function"] == (
        "test_record_exception_takes_the_traceback_of_the_exception"
    )
    assert payload["context"]["source"] == "test"


def test_an_exception_without_a_message_is_named_by_its_type():
    failures.record_exception(RuntimeError(), None)
    [message] = stored("ErrorAnalysis")
    assert message["payload"]["error_message"] == "builtins.RuntimeError"
    assert message["payload"]["stack_trace"] == []


def test_the_signature_ignores_the_message_but_not_the_place():
    frames = [{"file": "a.py", "line": 3, "function": "f", "code": "x"}]
    moved = [{"file": "a.py", "line": 4, "function": "f", "code": "x"}]
    assert failures.error_signature("E", frames) == failures.error_signature(
        "E", frames
    )
    assert failures.error_signature("E", frames) != failures.error_signature("E", moved)
    assert failures.error_signature("E", frames) != failures.error_signature(
        "F", frames
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_repeats_from_concurrent_connections_are_counted_together(settings):
    settings.OPSMESSAGING = {"ERROR_ALERT_THRESHOLD": 5}
    threads = 16
    errors = run_concurrently(
        lambda: boom(Client(raise_request_exception=False)), threads
    )
    assert errors == []
    assert OccurrenceWindow.objects.get().count == threads
    assert sorted(m["payload"]["frequency"] for m in stored("ErrorAnalysis")) == [
        1,
        2,
        4,
        5,
        8,
        16,
    ]
    assert len(stored("SystemAlert")) == 1

"""The logging handler: records become LogEntry messages in the background; it never
loops, blocks or raises when storing fails, and floods are summarised."""

from __future__ import annotations

import inspect
import logging
import os
import subprocess
import sys
import threading

import pytest
from django.db import DatabaseError, connection

from opsmessaging.capture import logging as capture_logging
from opsmessaging.capture.logging import OpsMessagingHandler
from opsmessaging.models import Message
from tests.capture.support import ROOT, child_env, stored, wait_for, without_time

NODE = "web1@testhost"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def named_node(settings):
    settings.OPSMESSAGING = {"NODE_NAME": NODE}


@pytest.fixture
def handler():
    handler = OpsMessagingHandler()
    yield handler
    for logger in (logging.getLogger(), logging.getLogger("tests.app")):
        logger.removeHandler(handler)
    handler.close()


@pytest.fixture
def app_logger(handler):
    logger = logging.getLogger("tests.app")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return logger


@pytest.fixture
def root_handler(handler):
    """The handler on the root logger, where it also sees opsmessaging's own records."""
    logging.getLogger().addHandler(handler)
    return handler


def test_a_logger_call_produces_a_log_entry(app_logger, handler):
    line = inspect.currentframe().f_lineno + 1
    app_logger.warning("disk %s is %d%% full", "sda", 91)
    handler.flush()
    [message] = stored("LogEntry")
    assert (message["category"], message["topic"], message["severity"]) == (
        "logging",
        "application_logs",
        "warning",
    )
    payload = message["payload"]
    assert payload["log_id"].startswith("log_")
    assert without_time(payload, "log_id") == {
        "level": "warn",
        "message": "disk sda is 91% full",
        "module": "test_logging",
        "function": "test_a_logger_call_produces_a_log_entry",
        "line": line,
        "node": NODE,
        "pid": str(os.getpid()),
        "metadata": {"logger": "tests.app", "path": __file__},
    }


def test_the_exception_text_is_kept(app_logger, handler):
    divisor = 0
    try:
        _ = 1 / divisor
    except ZeroDivisionError:
        app_logger.exception("division failed")
    handler.flush()
    [message] = stored("LogEntry")
    assert message["payload"]["level"] == "error"
    exception = message["payload"]["metadata"]["exception"]
    assert exception.startswith("Traceback (most recent call last):")
    assert exception.endswith("ZeroDivisionError: division by zero")


def test_records_below_the_configured_level_are_not_captured(
    app_logger, handler, settings
):
    app_logger.info("just saying")
    settings.OPSMESSAGING = {"LOG_CAPTURE_LEVEL": "ERROR"}
    app_logger.warning("a warning")
    app_logger.error("an error")
    handler.flush()
    assert [m["payload"]["message"] for m in stored("LogEntry")] == ["an error"]


def test_capture_logging_off_stores_nothing(app_logger, handler, settings):
    settings.OPSMESSAGING = {"CAPTURE_LOGGING": False}
    app_logger.error("an error")
    handler.flush()
    assert Message.objects.count() == 0


def test_opsmessaging_own_records_are_never_captured(root_handler):
    logging.getLogger("opsmessaging.publishing").error("Failed to broadcast X")
    logging.getLogger("opsmessaging").critical("anything")
    root_handler.flush()
    assert Message.objects.count() == 0


def test_the_handler_survives_the_store_being_unavailable(
    root_handler, monkeypatch, caplog
):
    real_append = Message.objects.append
    calls = []

    def unavailable(envelope):
        calls.append(envelope.payload_type)
        raise DatabaseError("could not connect to server")

    monkeypatch.setattr(Message.objects, "append", unavailable)
    logging.getLogger("tests.app").error("while the store is down")  # does not raise
    root_handler.flush()
    # One attempt: pubsub's "Failed to broadcast" warning is not captured in turn.
    assert calls == ["LogEntry"]
    assert [
        r.getMessage() for r in caplog.records if r.name == "opsmessaging.publishing"
    ] == [
        "Failed to broadcast LogEntry to logging/application_logs: "
        "DatabaseError: could not connect to server"
    ]
    assert Message.objects.count() == 0
    monkeypatch.setattr(Message.objects, "append", real_append)
    logging.getLogger("tests.app").error("after the store is back")
    root_handler.flush()
    assert [m["payload"]["message"] for m in stored("LogEntry")] == [
        "after the store is back"
    ]


def test_a_record_logged_while_storing_is_not_captured(root_handler, monkeypatch):
    real_append = Message.objects.append
    calls = []

    def chatty(envelope):
        calls.append(envelope.payload_type)
        logging.getLogger("django.db.backends").warning(
            "slow query"
        )  # e.g. a backend log
        return real_append(envelope)

    monkeypatch.setattr(Message.objects, "append", chatty)
    logging.getLogger("tests.app").warning("the only record")
    root_handler.flush()
    assert calls == ["LogEntry"]
    assert [m["payload"]["message"] for m in stored("LogEntry")] == ["the only record"]


def test_an_unexpected_store_error_is_reported_on_stderr_not_raised(
    app_logger, handler, monkeypatch, capsys
):
    real_append = Message.objects.append

    def exploding(envelope):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(Message.objects, "append", exploding)
    app_logger.error("first")
    handler.flush()
    assert "--- Logging error ---" in capsys.readouterr().err
    monkeypatch.setattr(Message.objects, "append", real_append)
    app_logger.error("second")
    handler.flush()
    assert [m["payload"]["message"] for m in stored("LogEntry")] == ["second"]


def test_logging_never_blocks_when_the_store_is_stuck(monkeypatch, settings):
    settings.OPSMESSAGING = {"NODE_NAME": NODE, "LOG_RATE_WINDOW": 1000}
    monkeypatch.setattr(capture_logging, "QUEUE_SIZE", 2)
    handler = OpsMessagingHandler()
    logger = logging.getLogger("tests.stuck")
    logger.addHandler(handler)
    real_append = Message.objects.append
    entered, release = threading.Event(), threading.Event()

    def stuck(envelope):
        entered.set()
        release.wait(timeout=30)
        return real_append(envelope)

    monkeypatch.setattr(Message.objects, "append", stuck)
    try:
        logger.warning("record 0")
        assert entered.wait(timeout=10)
        caller = threading.Thread(
            target=lambda: [logger.warning("record %d", n) for n in range(1, 11)]
        )
        caller.start()
        caller.join(timeout=10)
        assert not caller.is_alive()  # ten records logged while the writer is stuck
        release.set()
        summary = wait_for(lambda: stored("LogSummary"), timeout=15)
        handler.flush()
    finally:
        release.set()
        logger.removeHandler(handler)
        handler.close()
    assert [m["payload"]["message"] for m in stored("LogEntry")] == [
        "record 0",
        "record 1",
        "record 2",
    ]
    assert summary[0]["payload"]["log_counts"] == {"warn": 8}


def test_floods_are_rate_limited_and_summarised(settings):
    settings.OPSMESSAGING = {
        "NODE_NAME": NODE,
        "LOG_RATE_LIMIT": 3,
        "LOG_RATE_WINDOW": 1000,
    }
    handler = OpsMessagingHandler()
    logger = logging.getLogger("tests.flood")
    logger.addHandler(handler)
    try:
        for n in range(10):
            logger.warning("flood %d", n)
        logger.error("error 1")
        logger.critical("critical 1")
        [summary] = wait_for(lambda: stored("LogSummary"), timeout=15)
        handler.flush()
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert [m["payload"]["message"] for m in stored("LogEntry")] == [
        "flood 0",
        "flood 1",
        "flood 2",
    ]
    assert (summary["category"], summary["topic"]) == ("logging", "log_summaries")
    payload = summary["payload"]
    assert payload["log_counts"] == {"warn": 7, "error": 1, "critical": 1}
    assert payload["total_logs"] == 9
    assert payload["error_rate"] == pytest.approx(2 / 9)
    assert payload["nodes_reporting"] == [NODE]
    start, end = payload["time_period"].split("/")
    assert start.endswith("Z") and end.endswith("Z") and start < end


@pytest.mark.postgres
def test_the_handler_recovers_from_a_real_broken_connection(app_logger, handler):
    app_logger.error("before")
    handler.flush()
    with connection.cursor() as cursor:  # kill every other session of this database,
        cursor.execute(  # the writer thread's included
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    app_logger.error("while the connection is dead")  # fails to store, never raises
    handler.flush()
    app_logger.error("after")
    handler.flush()
    assert [m["payload"]["message"] for m in stored("LogEntry")] == ["before", "after"]


def test_the_demo_logging_settings_capture_warnings_of_any_logger():
    """``LOGGING`` in project/settings.py configures the handler by its class path; the
    queued record is stored when the process exits."""
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('billing.invoices').error('invoice %s failed', 42)"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=child_env(OPSMESSAGING_NODE_NAME="child1@testhost"),
        check=True,
        timeout=60,
    )
    [message] = stored("LogEntry")
    assert message["node"] == "child1@testhost"
    assert message["payload"]["message"] == "invoice 42 failed"
    assert message["payload"]["metadata"]["logger"] == "billing.invoices"


def test_djangos_report_of_a_404_is_not_stored_by_default(root_handler):
    logging.getLogger("django.request").warning(
        "Not Found: %s", "/favicon.ico", extra={"status_code": 404}
    )
    logging.getLogger("django.request").error(
        "Internal Server Error: %s", "/boom/", extra={"status_code": 500}
    )
    root_handler.flush()
    assert [m["payload"]["message"] for m in stored("LogEntry")] == [
        "Internal Server Error: /boom/"
    ]


def test_capture_client_errors_stores_djangos_report_of_a_4xx(root_handler, settings):
    settings.OPSMESSAGING = {"NODE_NAME": NODE, "CAPTURE_CLIENT_ERRORS": True}
    logging.getLogger("django.request").warning(
        "Forbidden: %s", "/admin/", extra={"status_code": 403}
    )
    root_handler.flush()
    assert [m["payload"]["message"] for m in stored("LogEntry")] == [
        "Forbidden: /admin/"
    ]

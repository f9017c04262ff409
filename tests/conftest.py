"""Shared fixtures, and the rule that a real-service test never silently skips in CI."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator

import pytest
from django.core.signals import request_started
from django.db import connection, connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from opsmessaging import nodenames, pubsub, relay, store
from opsmessaging.capture import lifecycle
from opsmessaging.capture.logging import OpsMessagingHandler

REQUIRE_SERVICES = os.environ.get("OPSMESSAGING_REQUIRE_SERVICES") == "1"
# Importing project.asgi must not start the demo's heartbeat and embedded Celery threads.
os.environ.setdefault("DEMO_BACKGROUND_THREADS", "0")

# Server threads of live tests must not keep connections open, or the test database
# cannot be dropped at the end of the run.
connections.settings["default"]["CONN_MAX_AGE"] = 0


# Property-based tests: bounded by default so the suite stays fast; OPSMESSAGING_FUZZ=soak
# (for `make soak`) runs many more examples. No example database is written.
hypothesis_settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.register_profile(
    "soak", hypothesis_settings.get_profile("default"), max_examples=1_000
)
hypothesis_settings.load_profile(os.environ.get("OPSMESSAGING_FUZZ", "default"))

#: The real Redis of the services pass (``make test`` sets it when Redis is reachable).
REDIS_URL = os.environ.get("REDIS_URL", "")


def _missing_service(item: pytest.Item) -> str | None:
    if (
        item.get_closest_marker("postgres") is not None
        and connection.vendor != "postgresql"
    ):
        return "needs PostgreSQL: run with DATABASE_URL=postgres://... (make test does)"
    if item.get_closest_marker("redis") is not None and not _redis_available():
        return "needs Redis: run with REDIS_URL=redis://... (make test does)"
    if item.get_closest_marker("browser") is not None and not _browser_available():
        return (
            f"needs Debian's chromium at {CHROMIUM} and playwright "
            "(.ci/run installs them; the tests never download a browser)"
        )
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = _missing_service(item)
    if reason is not None:
        if REQUIRE_SERVICES:
            pytest.fail(
                f"OPSMESSAGING_REQUIRE_SERVICES=1 but this test {reason}", pytrace=False
            )
        pytest.skip(reason)


#: The browser of the browser tests: Debian's package, never a downloaded one.
CHROMIUM = "/usr/bin/chromium"


@functools.cache
def _browser_available() -> bool:
    import importlib.util

    return (
        os.access(CHROMIUM, os.X_OK)
        and importlib.util.find_spec("playwright") is not None
    )


@functools.cache
def _redis_available() -> bool:
    from tests.services import redis_reachable

    return bool(REDIS_URL) and redis_reachable(REDIS_URL)


@pytest.fixture(autouse=True)
def _sequencing_fits_the_test(request: pytest.FixtureRequest, monkeypatch) -> None:
    """Number messages in their append inside a test's transaction that never commits.

    A test wrapped in a rolled-back transaction never commits, so on PostgreSQL the relay
    (which numbers committed messages) could never number its messages: there they are
    numbered as ``SEQUENCING = "inline"`` does. Transactional tests, live servers and
    the tests of the relay run as deployed.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None
        and bool(
            marker.kwargs.get("transaction", marker.args[0] if marker.args else False)
        )
    )
    if not transactional:
        monkeypatch.setattr(store, "relay_sequenced", lambda alias: False)


@pytest.fixture(scope="session", autouse=True)
def _relay_stops_before_the_test_database_goes(django_db_setup) -> Iterator[None]:
    """Stop this process's relay (closing its connection) before the test database is
    dropped: PostgreSQL refuses to drop a database with a session still on it."""
    yield
    relay.relay.stop()


@pytest.fixture(autouse=True)
def _broadcasting_follows_settings() -> Iterator[None]:
    pubsub.reset()
    yield
    pubsub.reset()


@pytest.fixture(autouse=True)
def _no_root_log_capture() -> Iterator[None]:
    """Keep the demo settings' root OpsMessagingHandler out of the tests.

    Its background thread would store the warnings that tests provoke (403s, 404s, failed
    tasks) while other tests count messages; tests/capture/test_logging.py uses its own
    handlers. Anything that runs ``django.setup()`` again (Celery's Django fixup in an
    embedded worker) attaches a fresh one, so this runs around every test.
    """

    def detach() -> None:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if isinstance(h, OpsMessagingHandler)]:
            root.removeHandler(handler)
            handler.close()

    detach()
    yield
    detach()


#: The real ``lifecycle.start_heartbeat``, for the tests of the heartbeat's autostart.
START_HEARTBEAT = lifecycle.start_heartbeat

# The test process is no server: requests made while collecting (schemathesis loads the
# API's schema through WSGI at import) must not start it as a web node, with a heartbeat
# thread that would write under every test. The tests of that start call the receiver.
request_started.disconnect(dispatch_uid="opsmessaging.first_request")


@pytest.fixture(autouse=True)
def _no_heartbeat_autostart(monkeypatch) -> None:
    """Start no heartbeat thread in the test process by itself: a lifespan exchange, a
    live server's first request and ``lifecycle.startup`` would each start one, writing
    to the database under the other tests. The tests of the autostart restore it
    (``START_HEARTBEAT``), and real processes run as deployed."""
    monkeypatch.setattr(lifecycle, "start_heartbeat", lambda role: None)
    monkeypatch.setattr(lifecycle, "_started_pid", os.getpid())
    # Each test starts as a process with no role yet (one test's worker start is not
    # the next one's).
    monkeypatch.setattr(nodenames, "_role", None)
    monkeypatch.setattr(nodenames, "_role_pid", 0)

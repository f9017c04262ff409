"""Shared fixtures, and the rule that a real-service test never silently skips in CI."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from django.db import connection

from opsmessaging import pubsub
from opsmessaging.capture.logging import OpsMessagingHandler

REQUIRE_SERVICES = os.environ.get("OPSMESSAGING_REQUIRE_SERVICES") == "1"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if (
        item.get_closest_marker("postgres") is not None
        and connection.vendor != "postgresql"
    ):
        reason = (
            "needs PostgreSQL: run with DATABASE_URL=postgres://... (make test does)"
        )
        if REQUIRE_SERVICES:
            pytest.fail(
                f"OPSMESSAGING_REQUIRE_SERVICES=1 but this test {reason}", pytrace=False
            )
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _broadcasting_follows_settings() -> Iterator[None]:
    pubsub.reset()
    yield
    pubsub.reset()


@pytest.fixture(autouse=True, scope="session")
def _no_background_log_capture() -> Iterator[None]:
    """Detach the demo settings' root OpsMessagingHandler for the test session.

    Its background thread would store the warnings that tests provoke (403s, 404s) while
    other tests count messages; tests/test_capture_logging.py uses its own handlers.
    """
    root = logging.getLogger()
    detached = [h for h in root.handlers if isinstance(h, OpsMessagingHandler)]
    for handler in detached:
        root.removeHandler(handler)
    yield
    for handler in detached:
        root.addHandler(handler)

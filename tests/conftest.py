"""Shared fixtures, and the rule that a real-service test never silently skips in CI."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.db import connection, connections

from opsmessaging import pubsub

REQUIRE_SERVICES = os.environ.get("OPSMESSAGING_REQUIRE_SERVICES") == "1"

# Server threads of live tests must not keep connections open, or the test database
# cannot be dropped at the end of the run.
connections.settings["default"]["CONN_MAX_AGE"] = 0


#: The real Redis of the services pass (``make test`` sets it when Redis is reachable).
REDIS_URL = os.environ.get("REDIS_URL", "")


def _missing_service(item: pytest.Item) -> str | None:
    if (
        item.get_closest_marker("postgres") is not None
        and connection.vendor != "postgresql"
    ):
        return "needs PostgreSQL: run with DATABASE_URL=postgres://... (make test does)"
    if item.get_closest_marker("redis") is not None and not REDIS_URL:
        return "needs Redis: run with REDIS_URL=redis://... (make test does)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = _missing_service(item)
    if reason is not None:
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

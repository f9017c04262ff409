"""Shared fixtures, and the rule that a real-service test never silently skips in CI."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.db import connection

from opsmessaging import pubsub

REQUIRE_SERVICES = os.environ.get("OPSMESSAGING_REQUIRE_SERVICES") == "1"
# Importing project.asgi must not start the demo's heartbeat and embedded Celery threads.
os.environ.setdefault("DEMO_BACKGROUND_THREADS", "0")


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

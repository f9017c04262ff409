"""Helpers shared by the capture tests: stored payloads, child processes, waiting."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connection

from opsmessaging.models import Message

ROOT = Path(__file__).resolve().parents[2]
PYTHON_BIN = Path(sys.executable).parent


def stored(payload_type: str, **payload: Any) -> list[dict[str, Any]]:
    """Return the wire form of the stored messages of a type, oldest first, optionally
    only those whose payload has the given values."""
    found = [
        m.to_wire()
        for m in Message.objects.filter(payload_type=payload_type).order_by("id")
    ]
    return [
        m for m in found if all(m["payload"].get(k) == v for k, v in payload.items())
    ]


def without_time(payload: dict[str, Any], *names: str) -> dict[str, Any]:
    """Return ``payload`` without ``timestamp`` and the other named (generated) fields."""
    return {k: v for k, v in payload.items() if k not in ("timestamp", *names)}


def child_env(**extra: str) -> dict[str, str]:
    """Return the environment of a child process using this test run's database."""
    env = dict(os.environ)
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        env["DATABASE_URL"] = (
            f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(db["NAME"])
    env["DJANGO_SETTINGS_MODULE"] = "project.settings"
    env.update(extra)
    return env


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout} s")
        time.sleep(0.1)


def run_concurrently(action: Callable[[], Any], threads: int) -> list[BaseException]:
    """Run ``action`` in ``threads`` threads released together (each with its own
    database connection); return what they raised."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            action()
        except BaseException as exc:  # returned to the test
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors

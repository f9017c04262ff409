"""Real Celery worker and beat processes on the test database and the real Redis.

Used by the tests marked ``postgres`` and ``redis``: each process is the demo's
``celery -A project ...`` with its own node name and short intervals, pointed at the
database pytest-django created, so the test reads what the processes really stored.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def redis_url() -> str:
    """Return the Redis URL of the services pass (tests using it are marked ``redis``)."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("needs Redis: run with REDIS_URL=redis://... (make test does)")
    return url


def flush_redis(url: str) -> None:
    """Empty the Redis database of ``url`` (queues left by an earlier test)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def database_url() -> str:
    """Return a URL of the test database (the one pytest-django created)."""
    s = connection.settings_dict
    user = s["USER"] or "postgres"
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/"
        f"{s['NAME']}"
    )


class CeleryProcess:
    """One ``celery -A project`` process, its log kept in a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path):
        self.name = name
        self.args = args
        self.env = env
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryProcess:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "project", *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        """Kill the process at once (no clean shutdown, like a crashed node)."""
        self.stop(signal.SIGKILL)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        self.signal(sig)
        self.wait(timeout)

    def signal(self, sig: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, timeout: float = 15) -> None:
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class CeleryProcesses:
    """Starts worker and beat processes and stops them all at the end of a test."""

    def __init__(self, tmp_path: Path, broker: str):
        self.tmp_path = tmp_path
        self.broker = broker
        self.started: list[CeleryProcess] = []

    def env(
        self, node: str, settings: dict[str, Any], extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": self.broker,
            "OPSMESSAGING_NODE_NAME": node,
        }
        env.pop("CELERY_BROKER_URL", None)
        env.update({f"OPSMESSAGING_{k}": str(v) for k, v in settings.items()})
        env.update(extra or {})
        return env

    def start(
        self,
        node: str,
        *args: str,
        env: dict[str, str] | None = None,
        **settings: Any,
    ) -> CeleryProcess:
        """Start ``celery -A project <args>`` as node ``node`` with OPSMESSAGING settings
        (and the environment variables ``env``)."""
        process = CeleryProcess(
            node,
            list(args),
            self.env(node, settings, env),
            self.tmp_path / f"{node.replace('@', '_')}-{len(self.started)}.log",
        )
        self.started.append(process.start())
        return process

    def worker(
        self,
        node: str,
        *extra: str,
        env: dict[str, str] | None = None,
        **settings: Any,
    ) -> CeleryProcess:
        """Start a worker (threads pool) named after ``node``.

        With ``-B`` in ``extra`` it runs beat too; add ``--scheduler celery.beat:Scheduler``
        so that beat keeps its schedule in memory, not in a file.
        """
        return self.start(
            node,
            "worker",
            "--pool=threads",
            "--concurrency=2",
            "--without-mingle",
            "--without-gossip",
            "-n",
            node,
            "--loglevel=INFO",
            *extra,
            env=env,
            **settings,
        )

    def beat(self, node: str, *extra: str, **settings: Any) -> CeleryProcess:
        """Start a beat with the in-memory scheduler unless ``extra`` names another."""
        scheduler = () if "-S" in extra else ("-S", "celery.beat:Scheduler")
        return self.start(
            node, "beat", "--loglevel=INFO", *scheduler, *extra, **settings
        )

    def stop_all(self) -> None:
        for process in self.started:
            process.signal(signal.SIGTERM)
        for process in self.started:
            process.wait()

    def logs(self) -> str:
        return "\n".join(
            f"----- {p.name} ({' '.join(p.args)})\n{p.output()[-4000:]}"
            for p in self.started
        )


def wait_for(
    probe: Callable[[], T], timeout: float, message: str, interval: float = 0.1
) -> T:
    """Return ``probe()``'s first truthy value, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def celery_processes(
    transactional_db: None, tmp_path: Path
) -> Iterator[CeleryProcesses]:
    """Real Celery processes on the test database and Redis; stopped before the flush."""
    url = redis_url()
    flush_redis(url)
    processes = CeleryProcesses(tmp_path, url)
    try:
        yield processes
    finally:
        processes.stop_all()
        flush_redis(url)
        print(processes.logs())  # shown by pytest when the test fails

"""A real ASGI server (uvicorn) in a thread, and WebSocket client helpers, for tests."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def live_asgi_server() -> Iterator[str]:
    """Serve ``project.asgi.application`` on a free port; yield ``127.0.0.1:<port>``."""
    from project.asgi import application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        application,
        lifespan="off",
        ws="websockets-sansio",
        ws_max_size=1024 * 1024,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def ws_connect(
    address: str, user: User | None = None, **kwargs: Any
) -> ClientConnection:
    headers = kwargs.pop("additional_headers", {})
    if user is not None:
        headers["Cookie"] = session_cookie(user)
    return connect(
        f"ws://{address}/ws/opsmessaging/",
        additional_headers=headers,
        open_timeout=5,
        **kwargs,
    )


def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    ws.send(json.dumps(frame))


def receive(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))  # type: ignore[no-any-return]


def receive_until(
    ws: ClientConnection, kind: str, timeout: float = 5
) -> dict[str, Any]:
    """Return the next frame of type ``kind``, failing on an error frame."""
    while True:
        frame = receive(ws, timeout)
        if frame["type"] == kind:
            return frame
        assert frame["type"] != "error", frame


def subscribe(ws: ClientConnection, **fields: Any) -> dict[str, Any]:
    send(ws, {"action": "subscribe", **fields})
    return receive_until(ws, "subscribed")


def other_process_env() -> dict[str, str]:
    """Environment that points a child ``manage.py`` at this test run's database."""
    import os

    from django.db import connection

    env = dict(os.environ)
    name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = env["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    else:
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(name)
    return env


def run_in_other_process(code: str) -> str:
    """Run Python ``code`` in a new ``manage.py shell`` on the test database; return stdout."""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=other_process_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def answers(address: str) -> bool:
    """Tell whether the server at ``host:port`` answers an HTTP request (any status)."""
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        connection.request("GET", "/api/opsmessaging/compatibility/")
        connection.getresponse().read()
    except OSError:
        return False
    finally:
        connection.close()
    return True


class WebNode:
    """A uvicorn process serving the demo (``project.asgi``) on a free loopback port.

    ``env`` is its whole environment (``DATABASE_URL``, ``REDIS_URL``,
    ``OPSMESSAGING_NODE_NAME``, ...); its output goes to ``log``. The listening socket is
    bound here and handed over (``--fd``), so the port is known before it starts and no
    other process can take it meanwhile.
    """

    def __init__(
        self, name: str, env: dict[str, str], log: Path, workers: int = 1
    ) -> None:
        self.name = name
        self.env = env
        self.log = log
        self.workers = workers
        self.popen: subprocess.Popen[bytes] | None = None
        self.address = ""

    def start(self, timeout: float = 30) -> WebNode:
        """Start the server and return once it answers HTTP."""
        return self.launch().wait_ready(timeout)

    def launch(self) -> WebNode:
        """Start the server process (see ``wait_ready``)."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen(1024)
            self.address = f"127.0.0.1:{sock.getsockname()[1]}"
            with self.log.open("ab") as out:
                self.popen = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "project.asgi:application",
                        "--fd",
                        str(sock.fileno()),
                        "--workers",
                        str(self.workers),
                        "--ws",
                        "websockets-sansio",
                        "--ws-max-size",
                        str(1024 * 1024),
                        "--lifespan",
                        "on",
                        "--log-level",
                        "warning",
                        "--no-access-log",
                    ],
                    cwd=ROOT,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    pass_fds=[sock.fileno()],
                )
        return self

    def wait_ready(self, timeout: float = 30) -> WebNode:
        """Return once the server answers HTTP; fail if it exits or takes too long."""
        assert self.popen is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n{self.output()}")
            time.sleep(0.1)
        return self

    def answers(self) -> bool:
        """Tell whether the server answers an HTTP request (with any status)."""
        return answers(self.address)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL: no clean shutdown, like a crashed node)."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)

    def stop(self, timeout: float = 15) -> None:
        """Stop the server cleanly (SIGTERM), or kill it after ``timeout`` seconds."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

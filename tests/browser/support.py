"""The browser tests' server process, users and page helpers.

The server is ``uvicorn project.asgi:application`` in a process of its own, on the test
database, so it can be killed (SIGKILL) and started again on the same port; messages that
the tests broadcast come from the pytest process, another process than the server's.
"""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Permission, User

from tests.live import other_process_env

ROOT = Path(__file__).resolve().parents[2]
#: Chromium's flags: headless, and nothing that reaches out to the network by itself.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The node name of the server under test.
SERVER_NODE = "web1@browser-test"
PASSWORD = "correct-horse-battery-staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``uvicorn project.asgi:application`` on the test database, in its own process."""

    def __init__(self, log: Path, **env: str) -> None:
        self.port = free_port()
        self.log = log
        self.env = {
            **other_process_env(),
            "DEMO_BACKGROUND_THREADS": "0",
            "OPSMESSAGING_NODE_NAME": SERVER_NODE,
            "DJANGO_DEBUG": "1",  # serves the static files
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, timeout: float = 30) -> None:
        """Start the server (on the same port as before) and wait until it answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "project.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--ws",
                    "websockets-sansio",
                    "--lifespan",
                    "on",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-3000:]}")
            try:
                connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=2
                )
                connection.request("GET", "/opsmessaging/")
                connection.getresponse().read()
                connection.close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not answer: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """Kill the server at once (SIGKILL): no shutdown, its connections just drop."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None


def make_staff(username: str, *permissions: str) -> User:
    """Create an active staff user with ``PASSWORD`` and the given ``app.codename``s."""
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def log_in(
    page: Any, server: ServerProcess, user: User, path: str = "/opsmessaging/"
) -> None:
    """Log in through the admin's login form and wait until the page is live."""
    page.goto(server.url(path))
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    wait_live(page)


def wait_live(page: Any) -> None:
    page.wait_for_selector("#ops-connection[data-state=live]")


def feed_sequences(page: Any, category: str) -> list[int]:
    """The sequences of the feed's rows of ``category``, top to bottom."""
    values = page.eval_on_selector_all(
        f'#ops-feed tr.ops-row[data-category="{category}"]',
        "rows => rows.map(row => Number(row.dataset.sequence))",
    )
    return [int(value) for value in values]


def wait_for_row(page: Any, message_id: str) -> Any:
    return page.wait_for_selector(
        f'#ops-feed tr.ops-row[data-message-id="{message_id}"]'
    )


def page_stats(page: Any) -> dict[str, int]:
    return dict(page.evaluate("window.opsmessagingPage.stats"))

"""Live servers and scripted protocol servers for the client tests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from websockets.sync.server import ServerConnection, serve

from tests.live import ROOT, WebNode, other_process_env


class RestartableNode(WebNode):
    """A uvicorn process that comes back on the same port after ``kill()``."""

    def launch(self) -> RestartableNode:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            port = int(self.address.split(":")[1]) if self.address else 0
            sock.bind(("127.0.0.1", port))
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
                        "--ws",
                        "websockets-sansio",
                        "--lifespan",
                        "off",
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


@contextmanager
def web_node(log: Path, **env: str) -> Iterator[RestartableNode]:
    """A uvicorn process on the test database (store checks every 200 ms)."""
    node = RestartableNode(
        "web",
        {
            **other_process_env(),
            "DEMO_BACKGROUND_THREADS": "0",
            "OPSMESSAGING_WS_POLL_INTERVAL": "200",
            **env,
        },
        log,
    )
    try:
        yield node.start()
    finally:
        node.kill()


Script = Callable[[ServerConnection, int], None]


class ScriptedServer:
    """A WebSocket server speaking the protocol as ``script(ws, connection_number)``
    says, for what a real server cannot be made to do on cue (holes, epochs)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        #: Every frame the clients sent, in order.
        self.received: list[dict[str, Any]] = []
        self.server = serve(self._handle, "127.0.0.1", 0)
        self.url = (
            f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/ws/opsmessaging/"
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        self.script(ws, self.connections)

    def receive(self, ws: ServerConnection) -> dict[str, Any]:
        frame = json.loads(ws.recv(timeout=5))
        self.received.append(frame)
        return frame  # type: ignore[no-any-return]

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(5)


def wire(sequence: int, category: str = "alerts") -> dict[str, Any]:
    """A message's wire form, as a scripted server sends it."""
    return {
        "id": sequence,
        "message_id": f"m{sequence}",
        "category": category,
        "topic": "t",
        "tag": "alert",
        "payload_type": "SystemAlert",
        "version": 1,
        "node": "web1@a",
        "source_node": "web1@a",
        "originating_node": "web1@a",
        "timestamp": "2026-01-02T03:04:05.678Z",
        "severity": "info",
        "sequence": sequence,
        "payload": {"title": f"t{sequence}"},
        "signature_valid": True,
    }


def message(sequence: int, category: str = "alerts") -> str:
    return json.dumps(
        {
            "type": "message",
            "subscription": {"category": category, "topic": None},
            "message": wire(sequence, category),
        }
    )


def subscribed(last: int, since: int | None, **extra: Any) -> str:
    return json.dumps(
        {
            "type": "subscribed",
            "category": "alerts",
            "topic": None,
            "since": since,
            "last_sequence": last,
            **extra,
        }
    )


def take(subscription: Any, count: int, timeout: float = 20) -> list[Any]:
    """The first ``count`` messages of a ``Subscription``; after ``timeout`` seconds
    it is closed, so a test fails with what it had instead of hanging."""
    items: list[Any] = []
    watchdog = threading.Timer(timeout, subscription.close)
    watchdog.start()
    try:
        for item in subscription:
            items.append(item)
            if len(items) == count:
                break
    finally:
        watchdog.cancel()
    return items


class CuttableProxy:
    """A TCP proxy to ``target`` whose connections ``cut()`` drops at once, without a
    close frame (what a network failure looks like to both ends)."""

    def __init__(self, target: str) -> None:
        host, port = target.split(":")
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        sockets, self.sockets = self.sockets, []
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()

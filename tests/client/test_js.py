"""client.js under ``node --test`` (tests/js/client.test.mjs) against a live server, with
a proxy whose connections the script cuts through a control URL."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from tests.client.support import CuttableProxy
from tests.live import ROOT, live_asgi_server

pytestmark = pytest.mark.django_db(transaction=True)
NODE = shutil.which("node")


def node_command() -> list[str]:
    assert NODE is not None
    major = int(
        subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True)
        .stdout.lstrip("v")
        .split(".")[0]
    )
    # Node 22 has a global WebSocket; 20 needs the flag.
    flags = ["--experimental-websocket"] if major < 22 else []
    return [NODE, *flags, "--test", "tests/js/client.test.mjs"]


def cut_server(proxy: CuttableProxy) -> http.server.ThreadingHTTPServer:
    class Cut(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            proxy.cut()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Cut)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.skipif(NODE is None, reason="needs node (>= 20) on PATH")
def test_client_js_passes_its_node_tests_against_a_live_server():
    admin = User.objects.create_superuser("admin", password="pw")
    token = Token.objects.create(user=admin).key
    with live_asgi_server() as address:
        proxy = CuttableProxy(address)
        cut = cut_server(proxy)
        try:
            done = subprocess.run(
                node_command(),
                cwd=ROOT,
                env={
                    **os.environ,
                    "OPSMESSAGING_URL": f"http://{address}",
                    "OPSMESSAGING_PROXY": f"ws://{proxy.address}/ws/opsmessaging/",
                    "OPSMESSAGING_CUT": f"http://127.0.0.1:{cut.server_address[1]}/",
                    "OPSMESSAGING_TOKEN": token,
                },
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            cut.shutdown()
            proxy.close()
    summary = [line for line in done.stdout.splitlines() if line.startswith("# ")]
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# pass 12" in summary, summary
    assert "# skipped 0" in summary, summary

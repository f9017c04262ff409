"""Fan-out benchmark: WebSocket deliveries per second at p99 <= 100 ms, ours against raw.

    python bench/fanout.py [--quick] [--json PATH] [--steps PATH] [--repeat N] [--clients N]
    python bench/fanout.py profile --mode ours --start-rate 30 --seconds 10 --profile PATH

Against real PostgreSQL (``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/opsmessaging_bench_fanout``: created and emptied) and
Redis (``BENCH_REDIS_URL``, default ``redis://127.0.0.1:6379/7``: emptied), with
channels_redis's pub/sub layer as in the demo, it starts one uvicorn process the way
``make run`` does and a separate client process holding ``--clients`` (100) WebSocket
connections, then measures:

- ``raw_channels_deliveries_per_s_p99_100ms``: a bare Channels consumer
  (``bench/raw_asgi.py``) that forwards a pre-built JSON text from a ``group_send``; this
  process publishes with a plain ``group_send`` at stepped rates. A step passes when every
  client got every message and the p99 of publish -> receive latency is <= 100 ms; the
  figure is the delivery rate (messages/s x clients) of the highest passing step.
- ``fanout_deliveries_per_s_p99_100ms``: the same through our endpoint (``project.asgi``,
  DRF token auth, each client subscribed to one category), publishing with
  ``pubsub.broadcast_alert`` (validated, stored, fanned out after commit);
  ``fanout_ratio_vs_raw_channels`` is the median of the ratios of ``--repeat`` runs.
- ``fanout_lost_after_resume``: at twice our sustainable rate for 30 s (quick: 8 s), the
  deliveries that never reached a client which follows ``behind``/``resume`` frames by
  subscribing again with ``since=last_sequence`` (reconnecting likewise after a close).
- ``web_rss_mb_100_clients`` and ``slow_client_rss_growth_mb``: the server's RSS with the
  clients subscribed, and its growth while one client stops reading for 10,000 messages
  (its own subscription, to another category, so the rest stay idle).

The publish time travels in the payload (``bench_sent``, epoch seconds); the server's
CPU time per delivery (from ``/proc``) is reported with each rate. The ``profile`` role
runs one step while ``py-spy record`` samples the server (collapsed stacks to PATH). A client role runs on
its own too: ``python bench/fanout.py clients ...`` (commands on stdin, see ``Clients``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/opsmessaging_bench_fanout"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"
#: The category the clients subscribe to, and the one of the slow client.
CATEGORY = "alerts"
SLOW_CATEGORY = "logging"
#: The latency bound of a sustained rate.
P99_LIMIT_MS = 100.0
SENT = "bench_sent"
STEP = "bench_step"
#: The step number of messages that are not part of a rate step.
NO_STEP = -1

_SENT_RE = re.compile(rf'"{SENT}":([0-9.e+-]+)')
_STEP_RE = re.compile(rf'"{STEP}":(-?[0-9]+)')
_SEQUENCE_RE = re.compile(r'"sequence":([0-9]+)')


# --- pure helpers (smoke-tested) -----------------------------------------------------------


def parse_delivery(text: str) -> tuple[int, float, int] | None:
    """Return (sequence, publish time, step) of a message frame's text, else None.

    The frame is searched as text, not parsed: the client process must stay cheaper than
    the server it measures. The first ``"sequence"`` of a frame is the message's (the
    payload comes after it in the wire form).
    """
    sent = _SENT_RE.search(text)
    if sent is None:
        return None
    sequence = _SEQUENCE_RE.search(text)
    step = _STEP_RE.search(text)
    return (
        int(sequence.group(1)) if sequence else 0,
        float(sent.group(1)),
        int(step.group(1)) if step else NO_STEP,
    )


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Return the ``fraction`` percentile of sorted ``ordered`` (nearest rank), or None."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def step_passes(
    expected: int, received: int, p99_ms: float | None, limit: float = P99_LIMIT_MS
) -> bool:
    """A step is sustained when every delivery arrived and the p99 is within ``limit``."""
    return (
        expected > 0 and received >= expected and p99_ms is not None and p99_ms <= limit
    )


def next_rates(passed: float | None, failed: float | None, start: float) -> float:
    """The next message rate to try: x1.3 until a failure, then the geometric middle."""
    if passed is None and failed is None:
        return start
    if failed is None:
        assert passed is not None
        return passed * 1.3
    if passed is None:
        return failed / 1.6
    return (passed * failed) ** 0.5


def missing_sequences(seen: Iterable[int], first: int, last: int) -> int:
    """How many of ``first`` .. ``last`` (inclusive) are not in ``seen``."""
    have = set(seen)
    return sum(1 for s in range(first, last + 1) if s not in have)


# --- the client process ---------------------------------------------------------------------


class Client:
    """One WebSocket client: counts deliveries, follows behind/resume frames."""

    def __init__(self, clients: Clients, index: int) -> None:
        self.clients = clients
        self.index = index
        self.last = 0  # the highest sequence received in CATEGORY
        self.seen: set[int] = set()
        self.ws: Any = None
        self.ready = asyncio.Event()
        self.behind = self.resumed = self.reconnects = 0
        self.errors: list[str] = []

    async def run(self) -> None:
        import websockets

        first = True
        while True:
            try:
                async with websockets.connect(
                    self.clients.url,
                    additional_headers=self.clients.headers,
                    max_size=2**22,
                    max_queue=16,
                    open_timeout=60,
                    ping_interval=None,
                ) as ws:
                    self.ws = ws
                    if self.clients.mode == "ours":
                        await self.subscribe(CATEGORY, None if first else self.last)
                    else:
                        self.ready.set()
                    first = False
                    async for text in ws:
                        self.handle(text)
            except (OSError, websockets.ConnectionClosed) as exc:
                self.errors.append(repr(exc)[:200])
            self.reconnects += 1
            await asyncio.sleep(0.25)

    async def subscribe(self, category: str, since: int | None) -> None:
        frame: dict[str, Any] = {"action": "subscribe", "category": category}
        if since is not None:
            frame["since"] = since
        await self.ws.send(json.dumps(frame))

    async def resubscribe(self, since: int) -> None:
        import websockets

        # Closed meanwhile (4503 follows a resume): run() reconnects and resubscribes.
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.subscribe(CATEGORY, since)

    def handle(self, text: str) -> None:
        if text.startswith('{"type":"message"'):
            found = parse_delivery(text)
            if found is None:
                return  # not a benchmark message (e.g. a lifecycle message)
            sequence, sent, step = found
            self.clients.record(step, (time.time() - sent) * 1000)
            self.seen.add(sequence)
            self.last = max(self.last, sequence)
            return
        frame = json.loads(text)
        kind = frame.get("type")
        if kind == "subscribed":
            self.ready.set()
        elif kind in ("behind", "resume"):
            if kind == "behind":
                self.behind += 1
            else:
                self.resumed += 1
            asyncio.ensure_future(self.resubscribe(frame["last_sequence"]))
        elif kind == "error":
            self.errors.append(text[:200])


class Clients:
    """``--count`` clients in one process, driven by commands on stdin (one JSON line each
    on stdout): ``stats STEP``, ``track`` (forget the sequences seen), ``lost FIRST LAST``,
    ``slow`` (one more connection subscribes to SLOW_CATEGORY and stops reading),
    ``fast`` (it reads again), ``cpu``."""

    def __init__(self, url: str, token: str, count: int, mode: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Token {token}"} if token else {}
        self.mode = mode
        self.latencies: dict[int, list[float]] = {}
        self.slow: Any = None
        self.clients = [Client(self, i) for i in range(count)]

    def record(self, step: int, latency_ms: float) -> None:
        self.latencies.setdefault(step, []).append(latency_ms)

    def stats(self, step: int) -> dict[str, Any]:
        ordered = sorted(self.latencies.get(step, []))
        return {
            "received": len(ordered),
            "p50": percentile(ordered, 0.5),
            "p99": percentile(ordered, 0.99),
            "max": ordered[-1] if ordered else None,
        }

    async def command(self, line: str) -> Any:
        words = line.split()
        if words[0] == "stats":
            return self.stats(int(words[1]))
        if words[0] == "track":
            for client in self.clients:
                client.seen.clear()
            return {"ok": True}
        if words[0] == "lost":
            first, last = int(words[1]), int(words[2])
            per_client = [missing_sequences(c.seen, first, last) for c in self.clients]
            return {
                "missing": sum(per_client),
                "clients_missing": sum(1 for m in per_client if m),
                "behind": sum(c.behind for c in self.clients),
                "resume": sum(c.resumed for c in self.clients),
                "reconnects": sum(c.reconnects for c in self.clients),
                "errors": [e for c in self.clients for e in c.errors][:5],
            }
        if words[0] == "slow":
            self.slow = await self._slow_client()
            return {"ok": True}
        if words[0] == "fast":
            return await self._read_slow_client()
        if words[0] == "cpu":
            return {"cpu_s": cpu_seconds(os.getpid())}
        return {"error": f"unknown command {line!r}"}

    async def _slow_client(self) -> Any:
        """One more connection, subscribed to SLOW_CATEGORY, that stops reading.

        Without compression: deflate shrinks these alike messages so much that the
        kernel's socket buffers would take all 10,000 and the server never waits.
        """
        import websockets

        ws = await websockets.connect(
            self.url,
            additional_headers=self.headers,
            compression=None,
            max_size=2**22,
            max_queue=16,
            ping_interval=None,
        )
        await ws.send(json.dumps({"action": "subscribe", "category": SLOW_CATEGORY}))
        while json.loads(await ws.recv())["type"] != "subscribed":
            pass
        return ws  # not read from now on: its queue, then the socket, fill up

    async def _read_slow_client(self) -> dict[str, Any]:
        """Read the slow client's frames for a while; count them and its behind frames."""
        frames = behind = 0
        with contextlib.suppress(TimeoutError):
            while True:
                text = await asyncio.wait_for(self.slow.recv(), 2)
                frames += 1
                behind += text.startswith('{"type":"behind"')
        await self.slow.close()
        return {"frames": frames, "behind": behind}

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str] = asyncio.Queue()

        def read_stdin() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, "")

        threading.Thread(target=read_stdin, daemon=True).start()
        tasks = [asyncio.create_task(c.run()) for c in self.clients]
        await asyncio.wait_for(
            asyncio.gather(*(c.ready.wait() for c in self.clients)), 120
        )
        print(json.dumps({"ready": True}), flush=True)
        while line := await lines.get():
            print(json.dumps(await self.command(line)), flush=True)
        for task in tasks:
            task.cancel()


# --- the server and its measurements --------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class Server:
    """A uvicorn process serving ``app`` as ``make run`` does, on a free loopback port."""

    def __init__(self, app: str, env: dict[str, str], log: Path, lifespan: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen(1024)
            self.address = f"127.0.0.1:{sock.getsockname()[1]}"
            with log.open("ab") as out:
                self.popen = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        app,
                        "--fd",
                        str(sock.fileno()),
                        "--ws",
                        "websockets-sansio",
                        "--ws-max-size",
                        str(1024 * 1024),
                        "--lifespan",
                        lifespan,
                        "--log-level",
                        "warning",
                        "--no-access-log",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    pass_fds=[sock.fileno()],
                )
        self.log = log
        deadline = time.monotonic() + 60
        from tests.live import answers

        while not answers(self.address):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


class ClientProcess:
    """The ``clients`` role in a child process, spoken to line by line."""

    def __init__(
        self, address: str, path: str, token: str, count: int, mode: str, env: dict
    ) -> None:
        self.popen = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "clients",
                f"--url=ws://{address}{path}",
                f"--token={token}",
                f"--count={count}",
                f"--mode={mode}",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self._reply()
        if not ready.get("ready"):
            raise RuntimeError(f"clients did not start: {ready}")

    def _reply(self) -> dict[str, Any]:
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError("the client process exited")
        return json.loads(line)  # type: ignore[no-any-return]

    def ask(self, command: str) -> dict[str, Any]:
        assert self.popen.stdin is not None
        self.popen.stdin.write(command + "\n")
        self.popen.stdin.flush()
        return self._reply()

    def stop(self) -> None:
        if self.popen.stdin is not None:
            self.popen.stdin.close()
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


# --- publishing -----------------------------------------------------------------------------


def pace(
    rate: float, duration: float, send: Callable[[int], None]
) -> tuple[int, float]:
    """Call ``send(i)`` ``rate`` times a second for ``duration`` s; return (sent, elapsed)."""
    start = time.time()
    sent = 0
    while True:
        due = start + sent / rate
        if due >= start + duration:
            break
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        send(sent)
        sent += 1
    return sent, time.time() - start


def ours_sender(step: int) -> Callable[[int], None]:
    from opsmessaging import pubsub

    def send(index: int) -> None:
        result = pubsub.broadcast_alert(
            "bench",
            "info",
            "fan-out benchmark message",
            {SENT: time.time(), STEP: step, "index": index},
        )
        if not result.ok:
            raise RuntimeError(f"broadcast failed: {result.status} {result.error}")

    return send


def raw_frame(sequence: int, sent: float, step: int) -> str:
    """A frame shaped like ours (the same fields and size), rendered by the publisher."""
    identifier = f"bench_{sequence:012d}"
    wire = {
        "id": sequence,
        "message_id": identifier,
        "category": CATEGORY,
        "topic": "bench",
        "tag": "ALERT",
        "payload_type": "SystemAlert",
        "version": 1,
        "node": "bench@loopback",
        "source_node": "bench@loopback",
        "originating_node": "bench@loopback",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(sent)),
        "severity": "info",
        "sequence": sequence,
        "payload": {
            "alert_id": identifier,
            "severity": "info",
            "category": "system",
            "title": "bench",
            "description": "fan-out benchmark message",
            "source": "bench",
            "node": "bench@loopback",
            "metadata": {SENT: sent, STEP: step, "index": sequence},
            "requires_ack": False,
        },
        "signature_valid": None,
    }
    frame = {
        "type": "message",
        "subscription": {"category": CATEGORY, "topic": None},
        "message": wire,
    }
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def raw_sender(step: int, counter: list[int]) -> Callable[[int], None]:
    from bench.raw_asgi import GROUP
    from opsmessaging import fanout

    layer = fanout.get_layer()

    def send(index: int) -> None:
        counter[0] += 1
        text = raw_frame(counter[0], time.time(), step)
        fanout.runner.run(
            layer.group_send(GROUP, {"type": "raw.message", "text": text}), 5
        )

    return send


# --- the orchestrator -----------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, env: dict[str, str], work: Path):
        self.args = args
        self.env = env
        self.work = work
        self.step = 0
        self.raw_counter = [0]

    def serve(self, mode: str) -> tuple[Server, ClientProcess]:
        if mode == "ours":
            server = Server(
                "project.asgi:application", self.env, self.work / "ours.log", "on"
            )
            path = "/ws/opsmessaging/"
        else:
            server = Server(
                "bench.raw_asgi:application", self.env, self.work / "raw.log", "off"
            )
            path = "/ws/raw/"
        clients = ClientProcess(
            server.address, path, self.args.token, self.args.clients, mode, self.env
        )
        return server, clients

    def run_step(
        self, mode: str, server: Server, clients: ClientProcess, rate: float
    ) -> dict[str, Any]:
        self.step += 1
        step = self.step
        send = (
            ours_sender(step) if mode == "ours" else raw_sender(step, self.raw_counter)
        )
        cpu_before = cpu_seconds(server.pid)
        client_cpu_before = clients.ask("cpu")["cpu_s"]
        sent, elapsed = pace(rate, self.args.step_seconds, send)
        expected = sent * self.args.clients
        # Wait for the stragglers: anything later than the limit fails the step anyway.
        deadline = time.time() + P99_LIMIT_MS / 1000 + 1.0
        while True:
            stats = clients.ask(f"stats {step}")
            if stats["received"] >= expected or time.time() > deadline:
                break
            time.sleep(0.1)
        cpu = cpu_seconds(server.pid) - cpu_before
        client_cpu = clients.ask("cpu")["cpu_s"] - client_cpu_before
        if stats["received"] < expected:
            self.drain(clients, step, expected)
        passed = step_passes(expected, stats["received"], stats["p99"])
        result = {
            "mode": mode,
            "rate": round(rate, 1),
            "sent": sent,
            "deliveries_per_s": round(expected / elapsed, 1),
            "received": stats["received"],
            "expected": expected,
            "p50_ms": _round(stats["p50"]),
            "p99_ms": _round(stats["p99"]),
            "max_ms": _round(stats["max"]),
            "server_cpu_us_per_delivery": round(cpu * 1e6 / max(expected, 1), 1),
            "server_cpu_share": round(cpu / elapsed, 2),
            "client_cpu_share": round(client_cpu / elapsed, 2),
            "passed": passed,
        }
        print(
            f"  {mode:4} {rate:7.1f} msg/s -> {result['deliveries_per_s']:9,.0f} "
            f"deliveries/s  p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms  "
            f"received {stats['received']}/{expected}  server "
            f"{result['server_cpu_us_per_delivery']} us/delivery "
            f"({result['server_cpu_share']:.0%} CPU), clients "
            f"{result['client_cpu_share']:.0%}  {'ok' if passed else 'FAIL'}",
            flush=True,
        )
        return result

    def drain(self, clients: ClientProcess, step: int, expected: int) -> None:
        """Let a failed step's backlog out before the next step starts."""
        deadline = time.time() + 30
        last = -1
        while time.time() < deadline:
            received = clients.ask(f"stats {step}")["received"]
            if received >= expected or received == last:
                break
            last = received
            time.sleep(1)
        time.sleep(0.5)

    def search(
        self, mode: str, server: Server, clients: ClientProcess, start: float
    ) -> dict[str, Any]:
        """The highest message rate that passes, and every step tried."""
        passed: dict[str, Any] | None = None
        failed: dict[str, Any] | None = None
        steps = []
        for _ in range(self.args.max_steps):
            rate = next_rates(
                passed and passed["rate"], failed and failed["rate"], start
            )
            if passed and failed and failed["rate"] / passed["rate"] < 1.08:
                break
            result = self.run_step(mode, server, clients, rate)
            steps.append(result)
            if not result["passed"]:
                # One stall of the shared machine fails a step's p99: a rate fails
                # only when it fails twice.
                time.sleep(0.3)
                result = self.run_step(mode, server, clients, rate)
                steps.append(result)
            if result["passed"]:
                passed = result
            else:
                failed = result
            time.sleep(0.3)
        return {"best": passed, "steps": steps}

    def measure(self, mode: str, start: float) -> dict[str, Any]:
        server, clients = self.serve(mode)
        try:
            # Warm up (imports, first queries, allocator), not measured.
            self.step += 1
            send = (
                ours_sender(NO_STEP)
                if mode == "ours"
                else raw_sender(NO_STEP, self.raw_counter)
            )
            pace(start / 2, 1.0, send)
            time.sleep(1)
            rss = rss_mb(server.pid)
            extras = mode == "ours" and self.args.extras
            slow = self.slow_client(server, clients) if extras else None
            found = self.search(mode, server, clients, start)
            found["rss_mb"] = rss
            found["rss_after_steps_mb"] = rss_mb(server.pid)
            if extras:
                found["slow"] = slow
                found["lost"] = self.lost_after_resume(server, clients, found["best"])
                self.args.extras = False  # once per run
        finally:
            clients.stop()
            server.stop()
        return found

    def lost_after_resume(
        self, server: Server, clients: ClientProcess, best: dict[str, Any] | None
    ) -> dict[str, Any]:
        from opsmessaging.retention import last_sequence

        rate = 2 * (best["rate"] if best else 10)
        first = last_sequence(CATEGORY) + 1
        clients.ask("track")
        print(
            f"  ours {rate:7.1f} msg/s for {self.args.overload_seconds:g} s "
            "(twice the sustained rate): counting lost deliveries",
            flush=True,
        )
        sent, elapsed = pace(rate, self.args.overload_seconds, ours_sender(NO_STEP))
        last = last_sequence(CATEGORY)
        published = time.time()
        deadline = published + max(60, 3 * self.args.overload_seconds)
        while True:
            lost = clients.ask(f"lost {first} {last}")
            if not lost["missing"] or time.time() > deadline:
                break
            time.sleep(1)
        lost.update(
            rate=rate,
            sent=sent,
            achieved_rate=round(sent / elapsed, 1),
            settle_s=round(time.time() - published, 1),
            first=first,
            last=last,
        )
        print(
            f"  lost {lost['missing']} of {(last - first + 1) * self.args.clients} "
            f"deliveries; behind {lost['behind']}, resume {lost['resume']}, reconnects "
            f"{lost['reconnects']}",
            flush=True,
        )
        return lost

    def slow_client(self, server: Server, clients: ClientProcess) -> dict[str, Any]:
        from opsmessaging import pubsub

        clients.ask("slow")
        time.sleep(0.5)
        before = rss_mb(server.pid)
        peak = before
        total = 10_000
        per_batch = 100
        started = time.time()
        for batch in range(total // per_batch):
            result = pubsub.broadcast_batch(
                [
                    ("log_entry", "info", "slow client benchmark", "bench")
                    for _ in range(per_batch)
                ]
            )
            if result.errors:
                raise RuntimeError(f"batch failed: {result}")
            peak = max(peak, rss_mb(server.pid))
            # About 2,000 messages/s: a steady stream, not one burst.
            pause = started + (batch + 1) * per_batch / 2000 - time.time()
            if pause > 0:
                time.sleep(pause)
        for _ in range(30):
            time.sleep(0.1)
            peak = max(peak, rss_mb(server.pid))
        after = rss_mb(server.pid)
        read = clients.ask("fast")
        behind = read["behind"]
        print(
            f"  slow client: RSS {before:.1f} MB -> peak {peak:.1f} MB, "
            f"{after:.1f} MB after {total:,} messages; told it fell behind: {behind}",
            flush=True,
        )
        return {
            "before_mb": before,
            "peak_mb": peak,
            "after_mb": after,
            "behind": behind,
            "frames_read_after": read["frames"],
        }


def profile(args: argparse.Namespace) -> None:
    """Publish at ``--start-rate`` to ``--mode``'s server while py-spy records it."""
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    env = _environment(database_url, redis_url)
    os.environ.update(
        {k: env[k] for k in ("REDIS_URL", "CHANNEL_LAYER_PREFIX", "DJANGO_DEBUG")}
    )
    from bench import database

    database.setup(database_url)
    args.token = _token()
    work = Path(tempfile.mkdtemp(prefix="opsmessaging-bench-profile-"))
    bench = Bench(args, env, work)
    server, clients = bench.serve(args.mode)
    spy_bin = Path(sys.executable).parent / "py-spy"
    try:
        spy = subprocess.Popen(
            [
                str(spy_bin),
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(int(args.step_seconds)),
                "--format",
                "raw",
                "--output",
                args.profile,
                "--nonblocking",
            ]
        )
        bench.run_step(args.mode, server, clients, args.start_rate)
        spy.wait(60)
    finally:
        clients.stop()
        server.stop()
    print(f"py-spy profile (collapsed stacks) in {args.profile}")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _environment(database_url: str, redis_url: str) -> dict[str, str]:
    from bench.database import server_environment

    return {
        **server_environment(database_url, redis_url, "bench-fanout", 10),
        "OPSMESSAGING_NODE_NAME": "bench-fanout@loopback",
    }


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    env = _environment(database_url, redis_url)
    os.environ.update(
        {k: env[k] for k in ("REDIS_URL", "CHANNEL_LAYER_PREFIX", "DJANGO_DEBUG")}
    )
    os.environ["OPSMESSAGING_NODE_NAME"] = "bench-publisher@loopback"
    from bench import database

    database.setup(database_url)
    from django.db import connection

    database.reset(connection)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    args.token = _token()
    work = Path(tempfile.mkdtemp(prefix="opsmessaging-bench-fanout-"))
    print(
        f"fan-out: {args.clients} WebSocket clients, steps of {args.step_seconds:g} s, "
        f"{args.repeat} run(s); logs in {work}",
        flush=True,
    )
    bench = Bench(args, env, work)
    runs = []
    start = {"raw": args.start_rate, "ours": args.start_rate}
    for index in range(args.repeat):
        print(f"run {index + 1} of {args.repeat}", flush=True)
        run = {}
        for mode in ("raw", "ours"):
            run[mode] = bench.measure(mode, start[mode])
            if run[mode]["best"]:
                # The next run starts just under this one's result: fewer steps.
                start[mode] = run[mode]["best"]["rate"] / 1.15
        runs.append(run)
    return _results(args, runs)


def _best_rate(found: dict[str, Any]) -> float:
    best = found["best"]
    return float(best["deliveries_per_s"]) if best else 0.0


def _results(args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
    from bench.run import figure

    ratios = [
        _best_rate(r["ours"]) / _best_rate(r["raw"]) if _best_rate(r["raw"]) else 0.0
        for r in runs
    ]
    median_index = sorted(range(len(runs)), key=lambda i: ratios[i])[len(runs) // 2]
    median = runs[median_index]
    ours, raw = median["ours"], median["raw"]
    ours_rate, raw_rate = _best_rate(ours), _best_rate(raw)
    ratio = round(ratios[median_index], 3)

    def cpu(found: dict[str, Any]) -> str:
        best = found["best"] or {}
        return (
            f"{best.get('server_cpu_us_per_delivery')} us server CPU per delivery, "
            f"p99 {best.get('p99_ms')} ms at {best.get('rate')} msg/s x {args.clients}"
        )

    extras = next(r["ours"] for r in runs if "lost" in r["ours"])
    lost, slow = extras["lost"], extras["slow"]
    growth = round(slow["peak_mb"] - slow["before_mb"], 1)
    results = {
        "raw_channels_deliveries_per_s_p99_100ms": figure(
            raw_rate,
            "deliveries/s",
            detail=f"bare Channels consumer, {cpu(raw)}; runs: "
            + ", ".join(f"{_best_rate(r['raw']):,.0f}" for r in runs),
        ),
        "fanout_deliveries_per_s_p99_100ms": figure(
            ours_rate,
            "deliveries/s",
            baseline=("raw_channels_deliveries_per_s_p99_100ms", raw_rate),
            detail=f"{cpu(ours)}; runs: "
            + ", ".join(f"{_best_rate(r['ours']):,.0f}" for r in runs),
        ),
        "fanout_ratio_vs_raw_channels": figure(
            ratio,
            "ratio",
            baseline=("raw_channels_deliveries_per_s_p99_100ms", raw_rate),
            target=">= 0.8",
            detail="median of "
            + ", ".join(f"{r:.3f}" for r in ratios)
            + f" ({args.repeat} run(s), raw and ours alternately)",
        ),
        "fanout_lost_after_resume": figure(
            lost["missing"],
            "deliveries",
            target="== 0",
            detail=f"{lost['sent']} messages at {lost['achieved_rate']}/s (target "
            f"{lost['rate']}/s) for {args.overload_seconds:g} s to {args.clients} clients; "
            f"behind {lost['behind']}, resume {lost['resume']}, reconnects "
            f"{lost['reconnects']}, clients missing some {lost['clients_missing']}",
        ),
        "web_rss_mb_100_clients": figure(
            round(ours["rss_mb"], 1),
            "MB",
            baseline=("raw_channels_web_rss_mb", round(raw["rss_mb"], 1)),
            detail=f"{args.clients} clients subscribed, after a warm-up; "
            f"{ours['rss_after_steps_mb']:.1f} MB after the rate steps (their "
            f"backlogs), raw Channels {raw['rss_after_steps_mb']:.1f} MB",
        ),
        "slow_client_rss_growth_mb": figure(
            growth,
            "MB",
            target="<= 50",
            detail=f"one client stopped reading for 10,000 messages (its own category; "
            f"the other {args.clients - 1} subscribed, idle): {slow['before_mb']:.1f}"
            f" -> peak {slow['peak_mb']:.1f} MB ({slow['after_mb']:.1f} MB after); told "
            f"it fell behind {slow['behind']} time(s), {slow['frames_read_after']} frames "
            "waited for it",
        ),
    }
    results["_runs"] = runs  # type: ignore[assignment]
    return results


def _token() -> str:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user, _ = User.objects.get_or_create(
        username="bench-fanout", defaults={"is_superuser": True, "is_staff": True}
    )
    token, _ = Token.objects.get_or_create(user=user)
    return str(token.key)


def render(results: dict[str, Any]) -> str:
    lines = [f"{'figure':42} {'value':>12} {'unit':13} {'target':8} met"]
    for name, entry in results.items():
        if name.startswith("_"):
            continue
        value = entry["value"]
        shown = (
            f"{value:,.3f}" if isinstance(value, float) and value < 10 else f"{value:,}"
        )
        met = {True: "yes", False: "NO", None: ""}[entry["met"]]
        lines.append(
            f"{name:42} {shown:>12} {entry['unit']:13} {entry['target'] or '':8} {met}"
        )
        if entry["detail"]:
            lines.append(f"    {entry['detail']}")
    return "\n".join(lines)


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", nargs="?", default="orchestrate")
    parser.add_argument("--quick", action="store_true", help="short steps, one run")
    parser.add_argument("--json", metavar="PATH", help="write the figures here")
    parser.add_argument("--steps", metavar="PATH", help="write every step here")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--repeat", type=int, help="runs (default 3, quick 1)")
    parser.add_argument("--start-rate", type=float, default=40, help="messages/s")
    # The clients role.
    parser.add_argument("--url")
    parser.add_argument("--token", default="")
    parser.add_argument("--count", type=int)
    parser.add_argument("--mode", choices=("ours", "raw"))
    # The profile role: py-spy on the server of --mode at --start-rate for --seconds.
    parser.add_argument("--profile", metavar="PATH", help="py-spy output (profile)")
    parser.add_argument(
        "--seconds", type=float, help="step length (default 4, quick 2)"
    )
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.step_seconds = args.seconds or (2.0 if args.quick else 4.0)
    args.max_steps = 7 if args.quick else 9
    args.overload_seconds = 8.0 if args.quick else 30.0
    args.extras = True
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    if args.role == "clients":
        asyncio.run(Clients(args.url, args.token, args.count, args.mode).main())
        return 0
    if args.role == "profile":
        sys.path.insert(0, str(ROOT))
        profile(args)
        return 0
    # Stopped (SIGTERM): stop the server and clients too, through the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = orchestrate(args)
    print(render(results))
    runs = results.pop("_runs")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.steps:
        Path(args.steps).write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

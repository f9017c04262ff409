"""Load soak: broadcasts, WebSocket subscribers and API readers at once, on loopback.

    python bench/soak.py                 # or: make soak (2 minutes at the full rates)
    python bench/soak.py --duration 20 --rate 100 --subscribers 20 --readers 4

Starts the demo under a real uvicorn server (channels_redis's pub/sub layer) against
PostgreSQL (``SOAK_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/opsmessaging_soak``, a database of its own that it
creates and empties) and Redis (``SOAK_REDIS_URL``, default ``redis://127.0.0.1:6379/14``,
emptied), then runs at once, for ``--duration`` seconds:

- loader processes broadcasting ``--rate`` messages/s in all through ``opsmessaging.pubsub``,
  spread evenly over the nine categories;
- ``--subscribers`` WebSocket clients, each subscribed to one category from its first
  message (``since=0``), following ``behind`` and ``resume`` frames by subscribing again
  from their last sequence, and reconnecting (with a backoff) when the server closes;
- ``--readers`` API clients, each reading ``--read-rate`` history pages a second (the
  newest page, a category's page, a category caught up with ``after``).

When the loaders stop, the subscribers run on until each has its category's last sequence.
The checks: every acknowledged broadcast is stored and numbered exactly once (by
``message_id``; the relay numbers it after commit); every subscriber ends with every sequence of its category exactly once
(the same ``message_id`` as the store); no API answer is a 5xx. It prints the figures
(broadcast rate, publish-to-client latency percentiles, API latency) and exits with 1 when
a check fails. Each role also runs alone: ``python bench/soak.py loader|subscribers|readers``
(used by the orchestrator).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/opsmessaging_soak"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
API = "/api/opsmessaging/"
#: The payload key carrying the loader's send time (epoch seconds).
SENT = "soak_sent"
CATEGORIES = (
    "system",
    "health",
    "metrics",
    "alerts",
    "audit",
    "diagnostics",
    "lifecycle",
    "logging",
    "security",
)


def percentiles(samples: Iterable[float]) -> dict[str, float | int | None]:
    """Return count, p50, p90, p99, p99.9 and max of ``samples`` (milliseconds)."""
    ordered = sorted(samples)
    if not ordered:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "p999": None}

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)

    return {
        "count": len(ordered),
        "p50": at(0.5),
        "p90": at(0.9),
        "p99": at(0.99),
        "p999": at(0.999),
        "max": round(ordered[-1], 2),
    }


def digest(pairs: Iterable[tuple[int, str]]) -> str:
    """A digest of (sequence, message_id) pairs in sequence order."""
    hashed = hashlib.sha256()
    for sequence, message_id in sorted(pairs):
        hashed.update(f"{sequence}:{message_id}\n".encode())
    return hashed.hexdigest()


def write_json(path: Path, data: Any) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data))
    partial.rename(path)  # readers never see half a file


def wait_for_file(path: Path, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until ``process`` creates ``path``; fail if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{path.name} did not appear within {timeout:g} s")
        time.sleep(0.05)


# --- loader: broadcasts at a steady rate ------------------------------------------------


def _broadcasters() -> dict[str, Callable[[dict[str, Any]], Any]]:
    """One broadcast per category, each carrying ``extra`` in a free-form field."""
    from opsmessaging import pubsub
    from opsmessaging.catalogue import metrics

    return {
        "system": lambda extra: pubsub.broadcast_system_config("soak", extra),
        "health": lambda extra: pubsub.broadcast_health_update(
            "soak", "healthy", extra
        ),
        "metrics": lambda extra: pubsub.broadcast(
            metrics.performance_metric("soak", 1.0, "ms", tags=extra)
        ),
        "alerts": lambda extra: pubsub.broadcast_alert(
            "soak", "info", "soak message", extra
        ),
        "audit": lambda extra: pubsub.broadcast_audit_event(
            "soak", "soak-user", "soak-resource", "update", extra
        ),
        "diagnostics": lambda extra: pubsub.broadcast_diagnostic("soak", "soak", extra),
        "lifecycle": lambda extra: pubsub.broadcast_lifecycle_event(
            "started", "soak", extra
        ),
        "logging": lambda extra: pubsub.broadcast_log_entry(
            "info", "soak message", "soak", metadata=extra
        ),
        "security": lambda extra: pubsub.broadcast_security_event(
            "auth_event",
            user_id="soak",
            event_type="login_success",
            auth_method="token",
            metadata=extra,
        ),
    }


def run_loader(args: argparse.Namespace) -> None:
    """Broadcast messages ``offset``, ``offset + stride``, ... at ``rate`` per second."""
    import django

    django.setup()
    from opsmessaging import fanout

    broadcasters = _broadcasters()
    acks: list[tuple[str, str]] = []
    failures: Counter[str] = Counter()
    call_ms: list[float] = []
    sent = 0
    end = args.start + args.duration
    while True:
        due = args.start + sent / args.rate
        if due >= end:
            break
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        index = args.offset + sent * args.stride
        category = CATEGORIES[index % len(CATEGORIES)]
        started = time.time()
        result = broadcasters[category]({SENT: started, "index": index})
        call_ms.append((time.time() - started) * 1000)
        sent += 1
        if result.ok:
            # The sequence comes after commit (the relay numbers it): checked in the store.
            acks.append((category, result.message.message_id))
        else:
            failures[f"{result.status}: {result.error}"] += 1
    write_json(
        Path(args.out),
        {
            "sent": sent,
            "elapsed": time.time() - args.start,
            "acks": acks,
            "failures": dict(failures),
            "call_ms": percentiles(call_ms),
            "fanout": fanout.delivery_stats(),
        },
    )


# --- subscribers: WebSocket clients that must end with every sequence -----------------


def _sent_time(payload: Any, depth: int = 0) -> float | None:
    """Find the loader's send time in a payload (it sits in a free-form field)."""
    if not isinstance(payload, Mapping) or depth > 3:
        return None
    if isinstance(payload.get(SENT), float):
        return payload[SENT]
    for value in payload.values():
        found = _sent_time(value, depth + 1)
        if found is not None:
            return found
    return None


class Subscriber:
    """One WebSocket client subscribed to one category from its first message."""

    def __init__(self, category: str) -> None:
        self.category = category
        self.received: dict[int, str] = {}
        #: Every sequence from 1 to this one has been received.
        self.contiguous = 0
        self.duplicates = 0
        self.behind = 0
        self.resumes = 0
        #: Close codes of the connections the server closed (the client reconnected).
        self.closes: list[int | None] = []
        self.errors: list[Any] = []
        self.latencies_ms: list[float] = []
        self.subscribed = asyncio.Event()

    def complete(self, final: Mapping[str, int] | None) -> bool:
        return final is not None and self.contiguous >= final.get(self.category, 0)

    async def run(
        self, url: str, token: str, final: Callable[[], Mapping[str, int] | None]
    ) -> None:
        import websockets

        # As the README tells clients to: after a close (4503: the channel layer failed,
        # or any drop), reconnect with a backoff and subscribe again from the last
        # sequence received; after a ``behind`` or ``resume`` frame, subscribe again.
        backoff = 0.2
        while not self.complete(final()):
            try:
                async with websockets.connect(
                    url,
                    additional_headers={"Authorization": f"Token {token}"},
                    max_size=2**22,
                    open_timeout=30,
                    ping_interval=None,
                ) as ws:
                    await self.subscribe(ws, self.contiguous)
                    while not self.complete(final()):
                        try:
                            frame = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                        except TimeoutError:
                            continue
                        self.handle(frame)
                        if frame["type"] in ("behind", "resume"):
                            await self.subscribe(ws, self.contiguous)
                    return
            except websockets.ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else None)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def subscribe(self, ws: Any, since: int) -> None:
        frame = {"action": "subscribe", "category": self.category, "since": since}
        await ws.send(json.dumps(frame))

    def handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "message":
            message = frame["message"]
            sequence = message["sequence"]
            if sequence in self.received:
                self.duplicates += 1
            self.received[sequence] = message["message_id"]
            while self.contiguous + 1 in self.received:
                self.contiguous += 1
            sent = _sent_time(message["payload"])
            if sent is not None:
                self.latencies_ms.append((time.time() - sent) * 1000)
        elif kind == "subscribed":
            self.subscribed.set()
        elif kind == "behind":
            self.behind += 1
        elif kind == "resume":
            self.resumes += 1
        elif kind == "error":
            self.errors.append(frame)

    def report(self, final: Mapping[str, int] | None) -> dict[str, Any]:
        last = (final or {}).get(self.category, 0)
        missing = [s for s in range(1, last + 1) if s not in self.received]
        return {
            "category": self.category,
            "received": len(self.received),
            "duplicates": self.duplicates,
            "behind": self.behind,
            "resumes": self.resumes,
            "closes": self.closes[:10],
            "reconnects": len(self.closes),
            "errors": self.errors[:5],
            "missing": len(missing),
            "first_missing": missing[:10],
            "digest": digest(
                (s, m) for s, m in self.received.items() if 1 <= s <= last
            ),
        }


async def _subscribers(args: argparse.Namespace) -> dict[str, Any]:
    final_path = Path(args.final)
    state: dict[str, Mapping[str, int] | None] = {"final": None}

    def final() -> Mapping[str, int] | None:
        if state["final"] is None and final_path.exists():
            state["final"] = json.loads(final_path.read_text())
        return state["final"]

    clients = [Subscriber(CATEGORIES[i % len(CATEGORIES)]) for i in range(args.count)]
    url = f"ws://{args.address}/ws/opsmessaging/"
    tasks = [
        asyncio.create_task(client.run(url, args.token, final)) for client in clients
    ]
    await asyncio.wait_for(asyncio.gather(*(c.subscribed.wait() for c in clients)), 60)
    Path(args.ready).touch()
    done, pending = await asyncio.wait(tasks, timeout=args.timeout)
    for task in pending:
        task.cancel()
    failed = [repr(t.exception()) for t in done if t.exception() is not None]
    return {
        "clients": [client.report(final()) for client in clients],
        "unfinished": len(pending),
        "crashed": failed[:5],
        "latency_ms": percentiles(
            latency for client in clients for latency in client.latencies_ms
        ),
        "frames": sum(len(c.latencies_ms) for c in clients),
    }


def run_subscribers(args: argparse.Namespace) -> None:
    write_json(Path(args.out), asyncio.run(_subscribers(args)))


# --- readers: API clients reading the history -----------------------------------------


def _read(
    address: str, token: str, rate: float, stop: Path, index: int, out: list[Any]
) -> None:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    after: dict[str, int] = {}
    started = time.time()
    done = 0
    while not stop.exists():
        category = CATEGORIES[(index + done) % len(CATEGORIES)]
        query = [
            "limit=50",
            f"category={category}&limit=50",
            f"category={category}&order=oldest&after={after.get(category, 0)}&limit=100",
        ][done % 3]
        began = time.perf_counter()
        try:
            connection.request(
                "GET",
                f"{API}messages/?{query}",
                headers={"Authorization": f"Token {token}"},
            )
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors[type(exc).__name__] += 1
            connection.close()
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
        else:
            latencies.append((time.perf_counter() - began) * 1000)
            statuses[response.status] += 1
            if response.status == 200 and "after=" in query:
                results = json.loads(body)["results"]
                if results:
                    after[category] = results[-1]["sequence"]
        done += 1
        pause = started + done / rate - time.time()
        if pause > 0:
            time.sleep(pause)
    out.append({"statuses": statuses, "latencies": latencies, "errors": errors})


def run_readers(args: argparse.Namespace) -> None:
    results: list[Any] = []
    threads = [
        threading.Thread(
            target=_read,
            args=(args.address, args.token, args.rate, Path(args.stop), i, results),
        )
        for i in range(args.count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses: Counter[int] = sum((r["statuses"] for r in results), Counter())
    errors: Counter[str] = sum((r["errors"] for r in results), Counter())
    write_json(
        Path(args.out),
        {
            "requests": sum(statuses.values()),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "errors": dict(errors),
            "latency_ms": percentiles(
                latency for r in results for latency in r["latencies"]
            ),
        },
    )


# --- the orchestrator ---------------------------------------------------------------


def _store(connection: Any) -> dict[str, dict[int, str]]:
    """Every stored (sequence, message_id) of each category."""
    from opsmessaging.models import Message

    stored: dict[str, dict[int, str]] = {c: {} for c in CATEGORIES}
    rows = Message.objects.values_list("category", "sequence", "message_id")
    for category, sequence, message_id in rows.iterator(chunk_size=10_000):
        if sequence is not None:  # not numbered yet: counted as not stored
            stored[category][sequence] = message_id
    return stored


def _wait_until_numbered() -> None:
    """Wait (at most 60 s) until the relay has numbered every stored message."""
    from opsmessaging import relay

    if not relay.wait_until_numbered(60):
        print("some messages are still not numbered after 60 s")


def _last_sequences() -> dict[str, int]:
    from opsmessaging.models import CategorySequence

    last = dict(CategorySequence.objects.values_list("category", "last_sequence"))
    return {c: int(last.get(c, 0)) for c in CATEGORIES}


def _token() -> str:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user, _ = User.objects.get_or_create(
        username="soak", defaults={"is_superuser": True, "is_staff": True}
    )
    token, _ = Token.objects.get_or_create(user=user)
    return str(token.key)


def _role(role: str, *options: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), role, *options],
        cwd=ROOT,
        env=dict(env),
    )


def _check(report: dict[str, Any]) -> list[str]:
    """Return the failed checks of a soak ``report``."""
    problems = []
    loaders = report["loaders"]
    if loaders["failures"]:
        problems.append(f"broadcasts not acknowledged: {loaders['failures']}")
    store = report["store"]
    if store["acknowledged_not_stored"]:
        problems.append(
            f"{store['acknowledged_not_stored']} acknowledged broadcasts not stored "
            "with a sequence"
        )
    if store["gaps"]:
        problems.append(f"stored sequences with gaps: {store['gaps']}")
    subscribers = report["subscribers"]
    incomplete = [
        c
        for c in subscribers["clients"]
        if c["missing"] or c["duplicates"] or not c["matches_store"] or c["errors"]
    ]
    if incomplete or subscribers["unfinished"] or subscribers["crashed"]:
        problems.append(
            f"{len(incomplete)} subscribers without every sequence exactly once, "
            f"{subscribers['unfinished']} unfinished, crashed: {subscribers['crashed']}; "
            f"first: {incomplete[:1]}"
        )
    readers = report["readers"]
    server_errors = sum(v for k, v in readers["statuses"].items() if k >= "500")
    if server_errors or readers["errors"]:
        problems.append(
            f"API: {server_errors} answers 5xx, connection errors {readers['errors']}"
        )
    return problems


def orchestrate(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT))
    from bench import database

    database_url = os.environ.get("SOAK_DATABASE_URL", DEFAULT_DATABASE)
    redis_url = os.environ.get("SOAK_REDIS_URL", DEFAULT_REDIS)
    os.environ["REDIS_URL"] = redis_url
    database.setup(database_url)
    from django.db import connection

    database.reset(connection)
    import redis

    from tests.live import WebNode

    redis.Redis.from_url(redis_url).flushdb()
    token = _token()
    connection.close()
    work = Path(args.work or tempfile.mkdtemp(prefix="opsmessaging-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    env = database.server_environment(database_url, redis_url, "soak", args.pool_size)
    web = WebNode(
        "soak-web",
        {**env, "OPSMESSAGING_NODE_NAME": "soak-web@loopback"},
        work / "web.log",
        workers=args.web_workers,
    ).start()
    print(f"uvicorn on {web.address} ({args.web_workers} worker(s)); work in {work}")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        subscribers = _role(
            "subscribers",
            f"--address={web.address}",
            f"--token={token}",
            f"--count={args.subscribers}",
            f"--final={work / 'final.json'}",
            f"--ready={work / 'ready'}",
            f"--out={work / 'subscribers.json'}",
            f"--timeout={args.duration + args.settle}",
            env=env,
        )
        processes.append(subscribers)
        wait_for_file(work / "ready", subscribers, 90)
        start = time.time() + 1
        loaders = [
            _role(
                "loader",
                f"--rate={args.rate / args.loaders}",
                f"--duration={args.duration}",
                f"--start={start}",
                f"--offset={i}",
                f"--stride={args.loaders}",
                f"--out={work / f'loader{i}.json'}",
                env={**env, "OPSMESSAGING_NODE_NAME": f"soak-loader{i}@loopback"},
            )
            for i in range(args.loaders)
        ]
        processes += loaders
        processes.append(
            _role(
                "readers",
                f"--address={web.address}",
                f"--token={token}",
                f"--count={args.readers}",
                f"--rate={args.read_rate}",
                f"--stop={work / 'stop'}",
                f"--out={work / 'readers.json'}",
                env=env,
            )
        )
        print(
            f"running {args.duration:g} s: {args.rate:g} broadcasts/s from "
            f"{args.loaders} loaders, {args.subscribers} subscribers, {args.readers} "
            f"readers at {args.read_rate:g} requests/s each"
        )
        for loader in loaders:
            loader.wait()
        (work / "stop").touch()
        time.sleep(0.5)  # the web node's own messages of the last moment
        _wait_until_numbered()
        write_json(work / "final.json", _last_sequences())
        print("loaders done; waiting for every subscriber to have every sequence")
        for process in processes:
            process.wait(args.duration + args.settle + 60)
        report = _report(work, args)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        web.stop()
    report["web_log_errors"] = web.output().count("Traceback")
    print(_render(report))
    problems = _check(report)
    for problem in problems:
        print(f"FAILED: {problem}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 1 if problems else 0


def _report(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    loaders = [
        json.loads((work / f"loader{i}.json").read_text()) for i in range(args.loaders)
    ]
    subscribers = json.loads((work / "subscribers.json").read_text())
    readers = json.loads((work / "readers.json").read_text())
    final = json.loads((work / "final.json").read_text())
    stored = _store(connection)
    acks = [ack for loader in loaders for ack in loader["acks"]]
    numbered = {c: set(ids.values()) for c, ids in stored.items()}
    not_stored = sum(m not in numbered[c] for c, m in acks)
    gaps = {
        c: sorted(set(range(1, max(stored[c]) + 1)) - set(stored[c]))[:10]
        for c in CATEGORIES
        if stored[c] and sorted(stored[c]) != list(range(1, max(stored[c]) + 1))
    }
    store_digests = {
        c: digest((s, m) for s, m in stored[c].items() if s <= final[c])
        for c in CATEGORIES
    }
    for client in subscribers["clients"]:
        client["matches_store"] = client["digest"] == store_digests[client["category"]]
    failures: Counter[str] = Counter()
    for loader in loaders:
        failures.update(loader["failures"])
    elapsed = max(loader["elapsed"] for loader in loaders)
    return {
        "settings": vars(args),
        "loaders": {
            "sent": sum(loader["sent"] for loader in loaders),
            "acknowledged": len(acks),
            "rate_per_s": round(len(acks) / elapsed, 1),
            "failures": dict(failures),
            "call_ms": [loader["call_ms"] for loader in loaders],
            "fanout_failed": sum(loader["fanout"]["failed"] for loader in loaders),
        },
        "store": {
            "messages": sum(len(v) for v in stored.values()),
            "last_sequences": final,
            "acknowledged_not_stored": not_stored,
            "gaps": gaps,
        },
        "subscribers": subscribers,
        "readers": readers,
    }


def _render(report: dict[str, Any]) -> str:
    loaders, subs, readers = report["loaders"], report["subscribers"], report["readers"]
    clients = subs["clients"]
    latency, api = subs["latency_ms"], readers["latency_ms"]
    calls = loaders["call_ms"][0]
    lines = [
        f"broadcasts: {loaders['acknowledged']:,} acknowledged of {loaders['sent']:,} "
        f"({loaders['rate_per_s']:,}/s), failures {loaders['failures'] or 0}, fan-out "
        f"failures {loaders['fanout_failed']}; call p50 {calls['p50']} ms, p99 "
        f"{calls['p99']} ms (first loader)",
        f"store: {report['store']['messages']:,} messages, acknowledged but not stored: "
        f"{report['store']['acknowledged_not_stored']}, gaps: {report['store']['gaps']}",
        f"subscribers: {len(clients)}, complete {sum(not c['missing'] for c in clients)}, "
        f"duplicates {sum(c['duplicates'] for c in clients)}, matching the store "
        f"{sum(c['matches_store'] for c in clients)}, behind {sum(c['behind'] for c in clients)}"
        f", resume frames {sum(c['resumes'] for c in clients)}, reconnects "
        f"{sum(c['reconnects'] for c in clients)}, frames {subs['frames']:,}",
        f"publish -> subscriber latency ms: p50 {latency['p50']}, p90 {latency['p90']}, "
        f"p99 {latency['p99']}, p99.9 {latency['p999']}, max {latency.get('max')}",
        f"API readers: {readers['requests']:,} requests, statuses {readers['statuses']}, "
        f"errors {readers['errors'] or 0}; latency ms p50 {api['p50']}, p90 {api['p90']}, "
        f"p99 {api['p99']}, max {api.get('max')}",
        f"tracebacks in the server log: {report['web_log_errors']}",
    ]
    return "\n".join(lines)


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    roles = parser.add_subparsers(dest="role")
    parser.add_argument("--duration", type=float, default=120, help="seconds of load")
    parser.add_argument("--rate", type=float, default=500, help="broadcasts/s in all")
    parser.add_argument("--loaders", type=int, default=2, help="broadcasting processes")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--read-rate", type=float, default=5, help="requests/s each")
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn workers")
    parser.add_argument(
        "--pool-size", type=int, default=10, help="PostgreSQL pool of each process"
    )
    parser.add_argument(
        "--settle", type=float, default=120, help="seconds allowed to catch up"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the report here")
    parser.add_argument(
        "--work", metavar="DIR", help="for the logs and results (default: a new one)"
    )
    loader = roles.add_parser("loader")
    for name, kind in [
        ("rate", float),
        ("duration", float),
        ("start", float),
        ("offset", int),
        ("stride", int),
        ("out", str),
    ]:
        loader.add_argument(f"--{name}", type=kind, required=True)
    subscribers = roles.add_parser("subscribers")
    for name, kind in [
        ("address", str),
        ("token", str),
        ("count", int),
        ("final", str),
        ("ready", str),
        ("out", str),
        ("timeout", float),
    ]:
        subscribers.add_argument(f"--{name}", type=kind, required=True)
    readers = roles.add_parser("readers")
    for name, kind in [
        ("address", str),
        ("token", str),
        ("count", int),
        ("rate", float),
        ("stop", str),
        ("out", str),
    ]:
        readers.add_argument(f"--{name}", type=kind, required=True)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    if args.role == "loader":
        run_loader(args)
    elif args.role == "subscribers":
        run_subscribers(args)
    elif args.role == "readers":
        run_readers(args)
    else:
        return orchestrate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

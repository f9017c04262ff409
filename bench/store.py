"""Store benchmark: the broadcast API against raw psycopg and against django-eventstream.

    python bench/store.py [--quick] [--json PATH] [--profile single|batch]

On PostgreSQL (``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/opsmessaging_bench_store``; created and emptied, never
one you use) with the demo's channel layer on Redis (``BENCH_REDIS_URL``, default
``redis://127.0.0.1:6379/9``), so every broadcast is validated, signed, stored with its
sequence and fanned out after commit, as in production. One process, one thread:

- ``broadcast_single``: ``pubsub.broadcast_health_update`` (a ~290-byte payload), autocommit,
  against ``raw_insert``: a psycopg autocommit INSERT of the same row (same columns and
  values, its sequence and jsonb payload) into the same table;
- ``broadcast_batch``: ``pubsub.broadcast_batch`` of 100 such events, against
  ``raw_executemany``: psycopg ``executemany`` of 100 rows per transaction;
- ``eventstream``: the same payload through django-eventstream's ``send_event``, persisted
  with its ``DjangoModelStorage`` and published to Redis (``bench/store_settings.py``).

Runs are interleaved (raw, ours, peer, raw, ours, peer, ...) on an emptied table each time,
and each figure is the median of its runs, so the noise of a shared machine hits all alike.
CPU figures are this process's CPU time per message (the server's is not counted).
``--profile`` runs one workload under cProfile and prints where its time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/opsmessaging_bench_store"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
BATCH = 100

#: The broadcast of every run: ``broadcast_health_update(*ARGS)``, ~290 bytes of payload.
COMPONENT, STATUS = "store_worker", "healthy"
DETAILS = {
    "store_id": "main_store",
    "queue_depth": 12,
    "write_latency_ms": 3.4,
    "open_connections": 8,
    "last_compaction_at": "2026-11-27T10:00:00Z",
}

TARGETS = {
    "broadcast_single_ratio_vs_raw_insert": 0.4,
    "broadcast_batch_ratio_vs_raw_executemany": 0.4,
    "broadcast_single_ratio_vs_eventstream": 4.0,
}


@dataclass(frozen=True)
class Run:
    """One timed run: how many messages, in how long, with how much of this process's CPU."""

    messages: int
    seconds: float
    cpu_seconds: float

    @property
    def per_s(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.messages * 1e6


def timed(messages: int, work: Callable[[], None]) -> Run:
    """Run ``work`` (which handles ``messages`` messages) and time it."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return Run(messages, time.perf_counter() - wall, time.process_time() - cpu)


def median_run(runs: list[Run]) -> Run:
    """The run of median rate (the upper median of an even count)."""
    ordered = sorted(runs, key=lambda r: r.per_s)
    return ordered[len(ordered) // 2]


def paired_ratio(ours: list[Run], theirs: list[Run]) -> float:
    """The median of the per-round ratios: each round's two runs ran close in time, so
    the machine's drift cancels out of their ratio."""
    return statistics.median(
        a.per_s / b.per_s for a, b in zip(ours, theirs, strict=True)
    )


def figure(
    value: float,
    unit: str,
    baseline: tuple[str, float] | None = None,
    target: float | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """One figure of the JSON report (``bench.run.figure``), rounded; ``target`` a minimum."""
    from bench.run import figure as contract_figure

    return contract_figure(
        round(value, 3),
        unit,
        None if baseline is None else (baseline[0], round(baseline[1], 3)),
        None if target is None else f">= {target:g}",
        detail,
    )


def report(results: dict[str, list[Run]]) -> dict[str, dict[str, Any]]:
    """Turn the runs of each workload into the figures of the JSON report."""
    m = {name: median_run(runs) for name, runs in results.items()}

    def rate_detail(name: str) -> str:
        rates = ", ".join(f"{r.per_s:.0f}" for r in results[name])
        return f"median of {len(results[name])} runs ({rates}); {m[name].cpu_us:.0f} µs CPU/message"

    figures = {
        "raw_insert_per_s": figure(
            m["raw_insert"].per_s, "msg/s", detail=rate_detail("raw_insert")
        ),
        "broadcast_single_per_s": figure(
            m["broadcast_single"].per_s,
            "msg/s",
            ("raw_insert_per_s", m["raw_insert"].per_s),
            detail=rate_detail("broadcast_single"),
        ),
        "raw_executemany_per_s": figure(
            m["raw_executemany"].per_s,
            "msg/s",
            detail=rate_detail("raw_executemany"),
        ),
        "broadcast_batch_per_s": figure(
            m["broadcast_batch"].per_s,
            "msg/s",
            ("raw_executemany_per_s", m["raw_executemany"].per_s),
            detail=rate_detail("broadcast_batch"),
        ),
        "eventstream_per_s": figure(
            m["eventstream"].per_s,
            "msg/s",
            ("raw_insert_per_s", m["raw_insert"].per_s),
            detail=rate_detail("eventstream"),
        ),
    }
    for name, ours, theirs, baseline in (
        (
            "broadcast_single_ratio_vs_raw_insert",
            "broadcast_single",
            "raw_insert",
            "raw_insert_per_s",
        ),
        (
            "broadcast_batch_ratio_vs_raw_executemany",
            "broadcast_batch",
            "raw_executemany",
            "raw_executemany_per_s",
        ),
        (
            "broadcast_single_ratio_vs_eventstream",
            "broadcast_single",
            "eventstream",
            "eventstream_per_s",
        ),
    ):
        rounds = ", ".join(
            f"{a.per_s / b.per_s:.2f}"
            for a, b in zip(results[ours], results[theirs], strict=True)
        )
        detail = f"median of the per-round ratios ({rounds})"
        alone = {
            "broadcast_single": "single_store_only",
            "broadcast_batch": "batch_store_only",
        }
        if ours in alone:
            share = 1 - m[ours].per_s / m[alone[ours]].per_s
            detail += (
                f"; without its fan-out {m[alone[ours]].per_s:.0f} msg/s: the fan-out "
                f"(channel layer) takes {share:.0%} of each broadcast"
            )
        figures[name] = figure(
            paired_ratio(results[ours], results[theirs]),
            "x",
            (baseline, m[theirs].per_s),
            TARGETS[name],
            detail,
        )
    for name, baseline in (
        ("single_store_only", "raw_insert"),
        ("batch_store_only", "raw_executemany"),
    ):
        figures[f"{name}_ratio"] = figure(
            paired_ratio(results[name], results[baseline]),
            "x",
            (f"{baseline}_per_s", m[baseline].per_s),
            detail=f"informational: the broadcast without its fan-out ({rate_detail(name)})",
        )
    for name in ("broadcast_single", "broadcast_batch"):
        figures[f"{name}_cpu_us_per_message"] = figure(
            m[name].cpu_us, "µs", detail="this process's CPU time (median-rate run)"
        )
    return figures


def print_table(figures: dict[str, dict[str, Any]]) -> None:
    width = max(len(name) for name in figures)
    print(f"{'figure':<{width}}  {'value':>10}  {'unit':<5}  {'target':<7}  met")
    for name, f in figures.items():
        met = {True: "yes", False: "NO", None: ""}[f["met"]]
        print(
            f"{name:<{width}}  {f['value']:>10.2f}  {f['unit']:<5}  "
            f"{f['target'] or '':<7}  {met}"
        )


# --- the workloads (Django is set up) ----------------------------------------------------


class Workloads:
    """The five workloads on one database, each run on an emptied store."""

    def __init__(self, url: str) -> None:
        import psycopg
        from django.db import connection

        from opsmessaging import builders, pubsub
        from opsmessaging.models import Message
        from opsmessaging.store import COLUMNS

        self.connection = connection
        self.pubsub = pubsub
        self.raw = psycopg.connect(
            url.replace("postgres://", "postgresql://", 1), autocommit=True
        )
        # The row the broadcast stores, as the raw baseline writes it.
        envelope = builders.health_update(COMPONENT, STATUS, DETAILS)
        message = Message.from_envelope(envelope, 0)
        self.row = {column: getattr(message, column) for column in COLUMNS}
        self.payload_json = json.dumps(
            message.payload, separators=(",", ":"), ensure_ascii=False
        )
        self.payload_bytes = len(self.payload_json.encode())
        columns = [*COLUMNS, "sequence", "payload"]
        self.insert = (
            f"INSERT INTO {Message._meta.db_table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(['%s'] * len(COLUMNS))}, %s, %s::jsonb)"
        )

    def empty(self) -> None:
        from bench import database

        database.reset(self.connection)
        with self.connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE django_eventstream_event, django_eventstream_eventcounter"
            )

    def _raw_params(self, n: int) -> list[Any]:
        row = {**self.row, "message_id": f"raw_{n}"}
        return [*(row[c] for c in row), n, self.payload_json]

    def raw_insert(self, count: int) -> Run:
        def work() -> None:
            with self.raw.cursor() as cursor:
                for n in range(1, count + 1):
                    cursor.execute(self.insert, self._raw_params(n))

        return timed(count, work)

    def raw_executemany(self, batches: int) -> Run:
        def work() -> None:
            with self.raw.cursor() as cursor:
                for b in range(batches):
                    rows = [
                        self._raw_params(b * BATCH + i) for i in range(1, BATCH + 1)
                    ]
                    with self.raw.transaction():
                        cursor.executemany(self.insert, rows)

        return timed(batches * BATCH, work)

    def broadcast_single(self, count: int) -> Run:
        broadcast = self.pubsub.broadcast_health_update

        def work() -> None:
            for _ in range(count):
                result = broadcast(COMPONENT, STATUS, DETAILS)
                if not result.ok:
                    raise RuntimeError(f"broadcast failed: {result.error}")

        return timed(count, work)

    def store_only(self, run: Callable[[int], Run], count: int) -> Run:
        """``run`` with the fan-out replaced by nothing: what the store alone costs."""
        from opsmessaging import fanout

        deliver = fanout.deliver
        fanout.deliver = lambda messages: None  # type: ignore[assignment]
        try:
            return run(count)
        finally:
            fanout.deliver = deliver  # type: ignore[assignment]

    def single_store_only(self, count: int) -> Run:
        return self.store_only(self.broadcast_single, count)

    def batch_store_only(self, batches: int) -> Run:
        return self.store_only(self.broadcast_batch, batches)

    def broadcast_batch(self, batches: int) -> Run:
        events = [("health_update", COMPONENT, STATUS, DETAILS)] * BATCH
        broadcast_batch = self.pubsub.broadcast_batch

        def work() -> None:
            for _ in range(batches):
                result = broadcast_batch(events)
                if result.success != BATCH:
                    raise RuntimeError(f"batch failed: {result.results[0].error}")

        return timed(batches * BATCH, work)

    def eventstream(self, count: int) -> Run:
        from django_eventstream import send_event

        payload = json.loads(self.payload_json)
        channel = self.row["topic"]

        def work() -> None:
            for _ in range(count):
                send_event(channel, "message", payload)

        return timed(count, work)


def check_eventstream_persists(workloads: Workloads) -> None:
    """Make sure the peer really stores: one event, one row, counter advanced."""
    from django_eventstream.models import Event, EventCounter

    workloads.empty()
    workloads.eventstream(3)
    stored = Event.objects.filter(channel=workloads.row["topic"]).exclude(eid=0)
    if stored.count() != 3 or EventCounter.objects.get().value != 3:
        raise RuntimeError("django-eventstream did not persist its events")


def profile(workloads: Workloads, which: str, count: int) -> None:
    workloads.empty()
    run = workloads.broadcast_single if which == "single" else workloads.broadcast_batch
    run(10)
    profiler = cProfile.Profile()
    profiler.enable()
    done = run(count if which == "single" else max(1, count // BATCH))
    profiler.disable()
    print(
        f"{which}: {done.per_s:.0f} msg/s, {done.cpu_us:.0f} µs CPU/message (profiled)"
    )
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(45)
    stats.sort_stats("tottime").print_stats(30)


def ensure_requirements() -> None:
    """Install ``bench/requirements.txt`` (django-eventstream) if it is missing."""
    import importlib.util
    import subprocess

    if importlib.util.find_spec("django_eventstream") is None:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ]
            + ["-r", str(ROOT / "bench" / "requirements.txt")],
            check=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--profile", choices=("single", "batch"))
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3 / 5)")
    args = parser.parse_args()
    ensure_requirements()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    os.environ.pop("CHANNEL_LAYER_PREFIX", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.store_settings"
    os.environ.setdefault("OPSMESSAGING_SPOOL_DIR", "")
    sys.path.insert(0, str(ROOT))
    from bench import database

    database.setup(url)
    workloads = Workloads(url)
    singles = 600 if args.quick else 3000
    batches = 20 if args.quick else 100
    rounds = args.rounds or (3 if args.quick else 5)
    if args.profile:
        profile(workloads, args.profile, singles)
        return
    check_eventstream_persists(workloads)
    plan: list[tuple[str, Callable[[int], Run], int]] = [
        ("raw_insert", workloads.raw_insert, singles),
        ("broadcast_single", workloads.broadcast_single, singles),
        ("single_store_only", workloads.single_store_only, singles),
        ("eventstream", workloads.eventstream, singles // 3),
        ("raw_executemany", workloads.raw_executemany, batches),
        ("broadcast_batch", workloads.broadcast_batch, batches),
        ("batch_store_only", workloads.batch_store_only, batches),
    ]
    for (
        _name,
        run,
        _count,
    ) in plan:  # warm up: connections, prepared statements, imports
        workloads.empty()
        run(3)
    results: dict[str, list[Run]] = {name: [] for name, _, _ in plan}
    for round_ in range(rounds):
        for name, run, count in plan if round_ % 2 == 0 else plan[::-1]:
            workloads.empty()
            results[name].append(run(count))
            print(
                f"round {round_ + 1}: {name:<17} {results[name][-1].per_s:8.0f} msg/s",
                file=sys.stderr,
            )
    workloads.empty()
    figures = report(results)
    print(f"(payload {workloads.payload_bytes} bytes; {rounds} interleaved rounds)")
    print_table(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

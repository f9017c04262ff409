"""Writers benchmark: broadcasts from several processes at once, and a held transaction.

    python bench/writers.py [--quick] [--json PATH] [--rounds N] [--writers 1,2,4,8,16]

On PostgreSQL (``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/opsmessaging_bench_writers``; created and emptied, never
one you use) with the demo's channel layer on Redis (``BENCH_REDIS_URL``, default
``redis://127.0.0.1:6379/12``), so every broadcast is validated, signed, stored and fanned
out as in production:

- ``writers``: W writer processes (W = 1, 2, 4, 8, 16) each call
  ``pubsub.broadcast_health_update`` in a loop for 5 s (2 s with ``--quick``), against W
  processes doing psycopg autocommit single-row INSERTs of the same row (the columns of
  ``opsmessaging.store.COLUMNS`` with the values a broadcast stored, its sequence and jsonb
  payload) into ``bench_writers_raw``, a table of the message table's shape (``LIKE ...
  INCLUDING ALL``: its columns, defaults, indexes and constraints). Once on one category,
  and once spread over the nine: each broadcasting writer cycles through one ``broadcast_*``
  function per category, each raw writer through the nine rows they stored. A run's
  processes start together at a set time, and only acknowledged broadcasts
  (``result.ok``) count.
- after each broadcast run, what was stored is checked: as many rows as acknowledged; once
  every row has a ``sequence`` (where the store assigns them after the append, waiting up to
  30 s), each category's sequences are exactly 1..N, no gap, no duplicate.
- ``held``: process A broadcasts one health message inside ``transaction.atomic()`` and keeps
  the transaction open 3 s; meanwhile process B broadcasts health messages in a loop and
  records each call's latency (its p99 and maximum).

Runs are interleaved (raw, ours, ours, raw, ...) on emptied tables, and each ratio is the
median of the per-round ratios, so the noise of a shared machine hits both alike. The worker
processes are started once and serve every run; a run's writers connect before its start
time, so connecting is not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/opsmessaging_bench_writers"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
WRITERS = (1, 2, 4, 8, 16)
#: The W of the headline figures.
HEADLINE_WRITERS = 8
RAW_TABLE = "bench_writers_raw"
#: How long a run's stored rows may take to all get a sequence.
SEQUENCE_WAIT = 30.0
#: Time given to a run's writers to connect before they start together (s, + per writer).
START_MARGIN, START_MARGIN_PER_WRITER = 0.3, 0.05

#: The broadcast of the one-category runs: ``broadcast_health_update(*HEALTH)``.
COMPONENT, STATUS = "store_worker", "healthy"
DETAILS = {
    "store_id": "main_store",
    "queue_depth": 12,
    "write_latency_ms": 3.4,
    "open_connections": 8,
    "last_compaction_at": "2026-11-27T10:00:00Z",
}
HEALTH = ("health", "broadcast_health_update", (COMPONENT, STATUS, DETAILS), {})

#: One broadcast per category, in the categories' order: (category, ``pubsub`` function,
#: arguments, keyword arguments).
SPREAD: tuple[tuple[str, str, tuple[Any, ...], dict[str, Any]], ...] = (
    ("system", "broadcast_system_lifecycle", ("started", "store_worker", "1.4.2"), {}),
    HEALTH,
    (
        "metrics",
        "broadcast_metrics",
        ("persistence", {"operations_count": 1200, "unit": "operations"}),
        {},
    ),
    (
        "security",
        "broadcast_security_event",
        ("auth_event",),
        {
            "user_id": "operator",
            "event_type": "login_success",
            "auth_method": "password",
        },
    ),
    (
        "audit",
        "broadcast_audit_event",
        ("data_changes", "operator", "store:main_store", "update", {"field": "mode"}),
        {},
    ),
    (
        "alerts",
        "broadcast_alert",
        ("store_latency", "warning", "write latency above 3 ms", {"p99_ms": 3.4}),
        {},
    ),
    (
        "diagnostics",
        "broadcast_diagnostic",
        ("trace", COMPONENT, {"step": "compaction", "duration_ms": 41}),
        {},
    ),
    (
        "lifecycle",
        "broadcast_lifecycle_event",
        ("started", COMPONENT, {"pid": 4242, "module": "store"}),
        {},
    ),
    ("logging", "broadcast_log_entry", ("info", "compaction finished", "store"), {}),
)

#: The two workloads of a writers run, in the order of an even round.
KINDS = ("raw", "broadcast")
#: The two scenarios: every writer on one category, or cycling through the nine.
SCENARIOS = {"one": "one category (health)", "spread": "nine categories"}

TARGETS = {
    "broadcast_writers_ratio_vs_raw_insert": ">= 0.5",
    "broadcast_writers_spread_ratio_vs_raw_insert": ">= 0.5",
    "broadcast_writers_min_ratio_vs_raw_insert": ">= 0.5",
    "writers_sequences_contiguous": "== 1",
    "writers_acknowledged_not_stored": "== 0",
    "held_transaction_other_writer_p99_ms": "<= 50",
}


# --- pure helpers (smoke-tested) -----------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """What one writer process did in a run: acknowledged and failed calls, when it
    started and finished (``time.time()``), and its CPU time."""

    acknowledged: int
    failed: int
    started: float
    finished: float
    cpu_seconds: float


@dataclass(frozen=True)
class Run:
    """One timed run of W writers: acknowledged messages, in how long, and their CPU."""

    writers: int
    messages: int
    failed: int
    seconds: float
    cpu_seconds: float
    late_s: float = 0.0

    @property
    def per_s(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / max(1, self.messages) * 1e6


def combine(tallies: Sequence[Tally], start_at: float) -> Run:
    """The run of the writers of ``tallies``, timed from the common start to the last one's
    end; ``late_s`` is how late the latest writer started."""
    return Run(
        writers=len(tallies),
        messages=sum(t.acknowledged for t in tallies),
        failed=sum(t.failed for t in tallies),
        seconds=max(t.finished for t in tallies) - start_at,
        cpu_seconds=sum(t.cpu_seconds for t in tallies),
        late_s=max(0.0, max(t.started for t in tallies) - start_at),
    )


def paired_ratio(ours: Sequence[Run], theirs: Sequence[Run]) -> float:
    """The median of the per-round ratios (each round's two runs ran close in time)."""
    return statistics.median(
        a.per_s / b.per_s for a, b in zip(ours, theirs, strict=True)
    )


def median_rate(runs: Sequence[Run]) -> float:
    return statistics.median(r.per_s for r in runs)


def plan(writers: Sequence[int], rounds: int) -> list[tuple[int, str, str, int]]:
    """The runs in order: (round, scenario, kind, W). Each round does every W and scenario,
    raw and broadcast back to back, in reverse order on odd rounds."""
    one_round = [
        (scenario, kind, w) for w in writers for scenario in SCENARIOS for kind in KINDS
    ]
    return [
        (round_, scenario, kind, w)
        for round_ in range(rounds)
        for scenario, kind, w in (one_round if round_ % 2 == 0 else one_round[::-1])
    ]


def raw_sequence(call: int, writer: int, writers: int, categories: int) -> int:
    """The sequence of a raw writer's ``call``-th INSERT: unique per category across the
    ``writers`` writers, each cycling through ``categories`` rows."""
    return (call // categories) * writers + writer + 1


def contiguity(per_category: Iterable[Mapping[str, Any]]) -> list[str]:
    """What is wrong with the sequences of each category's rows, from their ``rows``,
    ``numbered`` (distinct non-null sequences), ``low`` and ``high``: empty when every
    category holds exactly 1..N."""
    problems = []
    for c in per_category:
        rows, numbered = c["rows"], c["numbered"]
        if numbered < rows:
            problems.append(
                f"{c['category']}: {rows - numbered} of {rows} rows without a distinct "
                "sequence"
            )
        elif (c["low"], c["high"]) != (1, rows):
            problems.append(
                f"{c['category']}: sequences {c['low']}..{c['high']} for {rows} rows"
            )
    return problems


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` percentile of sorted ``ordered`` (nearest rank), as the fan-out
    benchmark reports them."""
    # Imported here: run as a script, this module is loaded before the bench package is
    # importable (main() puts the repository on sys.path).
    from bench.fanout import percentile as nearest_rank

    return nearest_rank(ordered, fraction)


def figure(
    value: float,
    unit: str,
    baseline: tuple[str, float] | None = None,
    target: str | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """One figure of the JSON report (``bench.run.figure``), rounded."""
    # Imported here: see percentile().
    from bench.run import figure as contract_figure

    return contract_figure(
        round(value, 3),
        unit,
        None if baseline is None else (baseline[0], round(baseline[1], 3)),
        target,
        detail,
    )


@dataclass(frozen=True)
class Check:
    """What one broadcast run stored: acknowledged against stored rows, sequence problems."""

    acknowledged: int
    stored: int
    problems: tuple[str, ...]
    waited_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and self.stored >= self.acknowledged


def report(
    results: Mapping[tuple[str, int], Mapping[str, Sequence[Run]]],
    held: Sequence[Sequence[float]],
    checks: Sequence[Check],
) -> dict[str, Any]:
    """The figures of the JSON report, and its ``_writers`` section (every W).

    ``results`` maps (scenario, W) to the runs of each kind; ``held`` holds each held
    transaction run's latencies of the other writer (ms); ``checks`` what each broadcast run
    stored.
    """
    table: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in SCENARIOS}
    ratios: dict[tuple[str, int], float] = {}
    for (scenario, w), runs in sorted(results.items()):
        ratio = ratios[scenario, w] = paired_ratio(runs["broadcast"], runs["raw"])
        table[scenario][str(w)] = {
            "raw_insert_per_s": round(median_rate(runs["raw"]), 1),
            "broadcast_per_s": round(median_rate(runs["broadcast"]), 1),
            "ratio": round(ratio, 3),
            "round_ratios": [
                round(a.per_s / b.per_s, 3)
                for a, b in zip(runs["broadcast"], runs["raw"], strict=True)
            ],
            "broadcast_failed": sum(r.failed for r in runs["broadcast"]),
            "broadcast_cpu_us_per_message": round(
                statistics.median(r.cpu_us for r in runs["broadcast"]), 1
            ),
        }

    def across(scenario: str) -> str:
        return ", ".join(
            f"W={w} {row['ratio']:.2f}" for w, row in table[scenario].items()
        )

    figures: dict[str, Any] = {}
    w = HEADLINE_WRITERS
    if ("one", w) in results:
        one = results["one", w]
        raw_rate = median_rate(one["raw"])
        figures[f"raw_insert_writers_per_s_w{w}"] = figure(
            raw_rate,
            "msg/s",
            detail=f"{w} processes of psycopg autocommit INSERTs, one category",
        )
        figures[f"broadcast_writers_per_s_w{w}"] = figure(
            median_rate(one["broadcast"]),
            "msg/s",
            (f"raw_insert_writers_per_s_w{w}", raw_rate),
            detail=f"{w} processes of broadcast_health_update, acknowledged only",
        )
        figures["broadcast_writers_ratio_vs_raw_insert"] = figure(
            ratios["one", w],
            "x",
            (f"raw_insert_writers_per_s_w{w}", raw_rate),
            TARGETS["broadcast_writers_ratio_vs_raw_insert"],
            f"W={w}, one category; median of the per-round ratios; all W: {across('one')}",
        )
    if ("spread", w) in results:
        spread = results["spread", w]
        figures["broadcast_writers_spread_ratio_vs_raw_insert"] = figure(
            ratios["spread", w],
            "x",
            (f"raw_insert_writers_spread_per_s_w{w}", median_rate(spread["raw"])),
            TARGETS["broadcast_writers_spread_ratio_vs_raw_insert"],
            f"W={w}, nine categories; all W: {across('spread')}",
        )
    if ratios:
        (worst_scenario, worst_w), worst = min(ratios.items(), key=lambda kv: kv[1])
        figures["broadcast_writers_min_ratio_vs_raw_insert"] = figure(
            worst,
            "x",
            target=TARGETS["broadcast_writers_min_ratio_vs_raw_insert"],
            detail=f"the worst W and scenario: W={worst_w}, {SCENARIOS[worst_scenario]}",
        )
    if checks:
        problems = [p for c in checks for p in c.problems]
        missing = sum(max(0, c.acknowledged - c.stored) for c in checks)
        waited = max(c.waited_s for c in checks)
        figures["writers_sequences_contiguous"] = figure(
            1 if not problems else 0,
            "bool",
            target=TARGETS["writers_sequences_contiguous"],
            detail=(
                f"{len(checks)} broadcast runs checked; longest wait for sequences "
                f"{waited:.1f} s"
                + ("" if not problems else "; " + "; ".join(problems[:5]))
            ),
        )
        figures["writers_acknowledged_not_stored"] = figure(
            missing,
            "messages",
            target=TARGETS["writers_acknowledged_not_stored"],
            detail=f"{sum(c.acknowledged for c in checks)} acknowledged, "
            f"{sum(c.stored for c in checks)} stored",
        )
    held_section: dict[str, Any] = {}
    if held:
        pooled = sorted(ms for run in held for ms in run)
        p99, worst_ms = percentile(pooled, 0.99), max(pooled, default=0.0)
        per_run = ", ".join(f"{percentile(sorted(run), 0.99) or 0:.0f}" for run in held)
        figures["held_transaction_other_writer_p99_ms"] = figure(
            p99 or 0.0,
            "ms",
            target=TARGETS["held_transaction_other_writer_p99_ms"],
            detail=f"{len(pooled)} broadcasts by B in {len(held)} runs while A held its "
            f"transaction; p99 per run: {per_run} ms",
        )
        figures["held_transaction_other_writer_max_ms"] = figure(
            worst_ms, "ms", detail="the slowest of B's broadcasts"
        )
        held_section = {
            "broadcasts": len(pooled),
            "p50_ms": round(percentile(pooled, 0.5) or 0.0, 2),
            "p99_ms": round(p99 or 0.0, 2),
            "max_ms": round(worst_ms, 2),
        }
    figures["_writers"] = {
        "one_category": table["one"],
        "nine_categories": table["spread"],
        "held_transaction": held_section,
    }
    return figures


# --- the worker processes ------------------------------------------------------------------


def wait_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


class Writer:
    """The commands a worker process runs (Django is set up)."""

    def __init__(self, index: int, pipe: Any) -> None:
        from opsmessaging import pubsub

        self.index = index
        self.pipe = pipe
        self.url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
        self.calls = [
            (getattr(pubsub, function), args, kwargs)
            for _, function, args, kwargs in SPREAD
        ]
        self.health = self.calls[SPREAD.index(HEALTH)]

    def broadcasts(self, spread: bool, start_at: float, duration: float) -> Tally:
        """Broadcast from ``start_at`` for ``duration`` s; count the acknowledged calls."""
        from django.db import connection

        calls = self.calls if spread else [self.health]
        # Each writer starts on another category, as independent nodes would.
        calls = calls[self.index % len(calls) :] + calls[: self.index % len(calls)]
        connection.ensure_connection()
        acknowledged = failed = n = 0
        cpu = time.process_time()
        wait_until(start_at)
        started, end = time.time(), start_at + duration
        while time.time() < end:
            function, args, kwargs = calls[n % len(calls)]
            n += 1
            if function(*args, **kwargs).ok:
                acknowledged += 1
            else:
                failed += 1
        finished = time.time()
        cpu = time.process_time() - cpu
        connection.close()
        return Tally(acknowledged, failed, started, finished, cpu)

    def inserts(
        self,
        rows: Sequence[Sequence[Any]],
        insert: str,
        writers: int,
        start_at: float,
        duration: float,
    ) -> Tally:
        """INSERT ``rows`` in turn (message id, then the other values) in autocommit, one
        row per statement, from ``start_at`` for ``duration`` s."""
        import psycopg

        rows = [*rows[self.index % len(rows) :], *rows[: self.index % len(rows)]]
        with psycopg.connect(self.url, autocommit=True) as raw, raw.cursor() as cursor:
            n = 0
            cpu = time.process_time()
            wait_until(start_at)
            started, end = time.time(), start_at + duration
            while time.time() < end:
                message_id, *values = rows[n % len(rows)]
                sequence = raw_sequence(n, self.index, writers, len(rows))
                cursor.execute(
                    insert, [f"{message_id}-{self.index}-{n}", *values, sequence]
                )
                n += 1
            finished = time.time()
            cpu = time.process_time() - cpu
        return Tally(n, 0, started, finished, cpu)

    def hold(self, seconds: float) -> float:
        """Broadcast one health message in a transaction held open ``seconds``; report
        when it is held (an extra answer), then commit; return how long it was held."""
        from django.db import transaction

        function, args, kwargs = self.health
        with transaction.atomic():
            result = function(*args, **kwargs)
            if not result.ok:
                raise RuntimeError(
                    f"broadcast in the transaction failed: {result.error}"
                )
            held_at = time.time()
            self.pipe.send(("ok", held_at))
            time.sleep(seconds)
        return time.time() - held_at

    def latencies(self, until: float) -> tuple[list[float], int, int]:
        """Broadcast health messages until ``until``; each call's latency (ms), and the
        acknowledged and failed counts."""
        from django.db import connection

        function, args, kwargs = self.health
        connection.ensure_connection()
        samples: list[float] = []
        acknowledged = failed = 0
        while time.time() < until:
            began = time.perf_counter()
            ok = function(*args, **kwargs).ok
            samples.append((time.perf_counter() - began) * 1000)
            acknowledged, failed = acknowledged + ok, failed + (not ok)
        connection.close()
        return samples, acknowledged, failed


def serve(index: int, pipe: Any) -> None:
    """A worker process: set Django up, then answer the pipe's commands until ``None``."""
    import django

    django.setup()
    writer = Writer(index, pipe)
    pipe.send(("ok", os.getpid()))
    while (command := pipe.recv()) is not None:
        name, arguments = command
        try:
            pipe.send(("ok", getattr(writer, name)(**arguments)))
        except Exception:  # reported to the parent, which stops the benchmark
            pipe.send(("error", traceback.format_exc()))


class Workers:
    """``count`` worker processes, started once (spawned: no connection is inherited)."""

    def __init__(self, count: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.pipes = []
        self.processes = []
        for index in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=serve, args=(index, child), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)
        for index in range(count):
            self.receive(index)

    def send(self, index: int, name: str, **arguments: Any) -> None:
        self.pipes[index].send((name, arguments))

    def receive(self, index: int) -> Any:
        status, value = self.pipes[index].recv()
        if status != "ok":
            raise RuntimeError(f"worker {index} failed:\n{value}")
        return value

    def call(self, indices: Iterable[int], name: str, **arguments: Any) -> list[Any]:
        """Send the same command to several workers at once, then collect their answers."""
        indices = list(indices)
        for index in indices:
            self.send(index, name, **arguments)
        return [self.receive(index) for index in indices]

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for process in self.processes:
            process.join(timeout=10)


# --- the benchmark (Django is set up) ------------------------------------------------------


class Bench:
    """The raw table, the rows it is written with, and the runs."""

    def __init__(self, workers: Workers) -> None:
        from django.db import connection

        from opsmessaging.models import Message

        self.connection = connection
        self.workers = workers
        self.table = Message._meta.db_table
        with connection.cursor() as cursor:
            # Recreated on every run, so it follows the message table's current shape.
            cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
            cursor.execute(
                f"CREATE TABLE {RAW_TABLE} (LIKE {self.table} INCLUDING ALL)"
            )
        self.rows, self.insert = self._raw_rows()

    def _raw_rows(self) -> tuple[dict[str, list[list[Any]]], str]:
        """Broadcast one message of each category, and keep what was stored as the raw
        writers' rows: the one-category rows (health) and the nine."""
        from opsmessaging import pubsub
        from opsmessaging.models import Message
        from opsmessaging.store import COLUMNS

        self.empty()
        for category, function, args, kwargs in SPREAD:
            result = getattr(pubsub, function)(*args, **kwargs)
            if not result.ok:
                raise RuntimeError(f"{function} failed: {result.error}")
            if result.message is not None and result.message.category != category:
                raise RuntimeError(
                    f"{function} stored a {result.message.category} message"
                )
        fields = [c for c in COLUMNS if c != "message_id"]
        stored = {
            row["category"]: [
                f"raw-{row['category']}",
                *(
                    bytes(row[c]) if isinstance(row[c], memoryview) else row[c]
                    for c in fields
                ),
                None
                if row["payload"] is None
                else json.dumps(row["payload"], separators=(",", ":")),
            ]
            for row in Message.objects.values(*fields, "payload")
        }
        if sorted(stored) != sorted(c for c, *_ in SPREAD):
            raise RuntimeError(f"expected one row per category, got {sorted(stored)}")
        self.empty()
        columns = ["message_id", *fields, "payload", "sequence"]
        insert = (
            f"INSERT INTO {RAW_TABLE} ({', '.join(columns)}) "
            f"VALUES ({', '.join(['%s'] * (len(columns) - 2))}, %s::jsonb, %s)"
        )
        rows = {
            "one": [stored["health"]],
            "spread": [stored[c] for c, *_ in SPREAD],
        }
        return rows, insert

    def empty(self) -> None:
        from bench import database

        database.reset(self.connection)
        with self.connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {RAW_TABLE} RESTART IDENTITY")

    def run(self, scenario: str, kind: str, w: int, duration: float) -> Run:
        self.empty()
        start_at = time.time() + START_MARGIN + START_MARGIN_PER_WRITER * w
        if kind == "raw":
            tallies = self.workers.call(
                range(w),
                "inserts",
                rows=self.rows[scenario],
                insert=self.insert,
                writers=w,
                start_at=start_at,
                duration=duration,
            )
        else:
            tallies = self.workers.call(
                range(w),
                "broadcasts",
                spread=scenario == "spread",
                start_at=start_at,
                duration=duration,
            )
        return combine(tallies, start_at)

    def held(self, hold: float) -> tuple[list[float], int]:
        """A holds a transaction after a broadcast while B broadcasts: B's latencies (ms)
        and how many messages were acknowledged in all."""
        self.empty()
        self.workers.send(0, "hold", seconds=hold)
        held_at = self.workers.receive(0)
        self.workers.send(1, "latencies", until=held_at + hold)
        samples, acknowledged, failed = self.workers.receive(1)
        self.workers.receive(0)  # committed
        if failed:
            print(f"held: {failed} of B's broadcasts failed", file=sys.stderr)
        return samples, acknowledged + 1

    def check(self, acknowledged: int, timeout: float = SEQUENCE_WAIT) -> Check:
        """Count the stored rows; wait (at most ``timeout`` s) until each has a sequence;
        check each category's sequences are 1..N."""
        from django.db.models import Count, Max, Min

        from opsmessaging.models import Message

        began = time.monotonic()
        while (
            Message.objects.filter(sequence__isnull=True).exists()
            and time.monotonic() - began < timeout
        ):
            time.sleep(0.1)
        waited = time.monotonic() - began
        per_category = (
            Message.objects.order_by("category")
            .values("category")
            .annotate(
                rows=Count("id"),
                numbered=Count("sequence", distinct=True),
                low=Min("sequence"),
                high=Max("sequence"),
            )
        )
        per_category = list(per_category)
        problems = contiguity(per_category)
        stored = sum(c["rows"] for c in per_category)
        if stored < acknowledged:
            problems.append(f"{acknowledged} acknowledged, {stored} stored")
        return Check(acknowledged, stored, tuple(problems), waited)


def print_table(figures: Mapping[str, Any]) -> None:
    sections = figures["_writers"]
    for key, title in (("one_category", "one"), ("nine_categories", "spread")):
        print(f"\n{SCENARIOS[title]}:")
        print(f"{'W':>3}  {'raw msg/s':>10}  {'ours msg/s':>10}  {'ratio':>6}")
        for w, row in sections[key].items():
            print(
                f"{w:>3}  {row['raw_insert_per_s']:>10.0f}  "
                f"{row['broadcast_per_s']:>10.0f}  {row['ratio']:>6.3f}"
            )
    print()
    names = [name for name in figures if not name.startswith("_")]
    width = max(len(name) for name in names)
    for name in names:
        f = figures[name]
        met = {True: "yes", False: "NO", None: ""}[f["met"]]
        print(
            f"{name:<{width}}  {f['value']:>10.3f}  {f['unit']:<8}  "
            f"{f['target'] or '':<7}  {met}"
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, one round")
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 1 / 3)")
    parser.add_argument(
        "--duration", type=float, help="seconds of each writers run (default 2 / 5)"
    )
    parser.add_argument(
        "--hold", type=float, default=3.0, help="seconds A holds its transaction"
    )
    parser.add_argument(
        "--writers",
        type=_writer_counts,
        default=WRITERS,
        help="comma-separated W values (default 1,2,4,8,16)",
    )
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration = args.duration or (2.0 if args.quick else 5.0)
    return args


def _writer_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(sorted({int(part) for part in text.split(",")}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("writer counts must be at least 1")
    return counts


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    # Pub/sub channels are server-wide: this run's own prefix reaches no one else's.
    os.environ["CHANNEL_LAYER_PREFIX"] = f"opsmessaging-writers{os.getpid()}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    # DEBUG keeps every query in memory: no production process runs that way.
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["DEMO_BACKGROUND_THREADS"] = "0"
    os.environ.pop("DATABASE_POOL_SIZE", None)
    os.environ.setdefault("OPSMESSAGING_SPOOL_DIR", "")
    sys.path.insert(0, str(ROOT))
    from bench import database

    database.setup(url)  # also sets DATABASE_URL, which the workers inherit
    workers = Workers(max(max(args.writers), 2))
    try:
        bench = Bench(workers)
        for scenario in SCENARIOS:  # warm up every worker: imports, the channel layer
            for kind in KINDS:
                bench.run(scenario, kind, max(args.writers), 0.2)
        results: dict[tuple[str, int], dict[str, list[Run]]] = {
            (s, w): {k: [] for k in KINDS} for s in SCENARIOS for w in args.writers
        }
        checks: list[Check] = []
        for round_, scenario, kind, w in plan(args.writers, args.rounds):
            run = bench.run(scenario, kind, w, args.duration)
            results[scenario, w][kind].append(run)
            note = ""
            if kind == "broadcast":
                checks.append(bench.check(run.messages))
                note = "" if checks[-1].ok else "  " + "; ".join(checks[-1].problems)
            if run.late_s > 0.05:
                note += f"  (a writer started {run.late_s * 1000:.0f} ms late)"
            print(
                f"round {round_ + 1}: {scenario:<6} {kind:<9} W={w:<2} "
                f"{run.per_s:8.0f} msg/s{note}",
                file=sys.stderr,
            )
        held: list[list[float]] = []
        for round_ in range(args.rounds):
            samples, acknowledged = bench.held(args.hold)
            held.append(samples)
            checks.append(bench.check(acknowledged))
            print(
                f"round {round_ + 1}: held      {len(samples)} broadcasts by B, "
                f"slowest {max(samples, default=0):.0f} ms",
                file=sys.stderr,
            )
        bench.empty()
    finally:
        workers.close()
    figures = report(results, held, checks)
    print(
        f"({args.rounds} interleaved rounds of {args.duration:g} s; "
        f"transaction held {args.hold:g} s)"
    )
    print_table(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Every benchmark in one run, each figure beside the raw baseline measured in the same run.

    python bench/run.py            # or: make bench        (about 15 minutes)
    python bench/run.py --quick    # or: make bench-quick  (under 5 minutes)

Runs ``bench/store.py`` (broadcasts against raw psycopg INSERTs and django-eventstream),
``bench/fanout.py`` (WebSocket fan-out against a bare Channels consumer, resume, memory),
``bench/history.py`` (the API's history at 10,000 and 1,000,000 messages) and
``bench/writers.py`` (W broadcasting processes against W processes of raw INSERTs, and a
transaction held open while another process broadcasts), each in its
own process against the real PostgreSQL (``BENCH_DATABASE_URL``) and Redis
(``BENCH_REDIS_URL``), prints one table and writes ``bench/results.json``.

Absolute numbers drift on a shared machine; the ratios are what the targets are about,
since a figure and its baseline are measured in the same run, interleaved where they can be.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/opsmessaging_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
RESULTS = ROOT / "bench" / "results.json"

#: The parts, in the order they run: (name, script, extra arguments in quick mode).
PARTS: list[tuple[str, str, list[str]]] = [
    ("store", "bench/store.py", ["--quick"]),
    ("fanout", "bench/fanout.py", ["--quick"]),
    ("history", "bench/history.py", ["--quick"]),
    ("writers", "bench/writers.py", ["--quick"]),
]

#: Every figure the issue asks for; a part that does not report one fails the run.
REQUIRED = [
    "broadcast_single_per_s",
    "broadcast_single_ratio_vs_raw_insert",
    "broadcast_batch_per_s",
    "broadcast_batch_ratio_vs_raw_executemany",
    "broadcast_single_ratio_vs_eventstream",
    "fanout_deliveries_per_s_p99_100ms",
    "fanout_ratio_vs_raw_channels",
    "fanout_lost_after_resume",
    "history_first_page_p95_ms_1m",
    "history_p95_ratio_1m_vs_10k",
    "web_rss_mb_100_clients",
    "slow_client_rss_growth_mb",
    "broadcast_writers_ratio_vs_raw_insert",
    "writers_sequences_contiguous",
    "held_transaction_other_writer_p99_ms",
]


def figure(
    value: float,
    unit: str,
    baseline: tuple[str, float] | None = None,
    target: str | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """One figure of ``results.json``; ``met`` is worked out from ``target``."""
    return {
        "value": value,
        "unit": unit,
        "baseline": None
        if baseline is None
        else {"name": baseline[0], "value": baseline[1]},
        "target": target,
        "met": meets(value, target),
        "detail": detail,
    }


def meets(value: float, target: str | None) -> bool | None:
    """Whether ``value`` meets a target written ``">= 0.4"``, ``"<= 50"`` or ``"== 0"``."""
    if target is None:
        return None
    operator, _, bound = target.partition(" ")
    limit = float(bound)
    checks = {">=": value >= limit, "<=": value <= limit, "==": value == limit}
    if operator not in checks:
        raise ValueError(f"unknown target {target!r}")
    return checks[operator]


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def table(figures: dict[str, dict[str, Any]]) -> str:
    """The figures as a plain-text table (also pasted into the README)."""
    rows = [("figure", "value", "baseline (same run)", "target", "met")]
    for name, item in figures.items():
        baseline = item.get("baseline")
        met = item.get("met")
        rows.append(
            (
                name,
                f"{_number(item['value'])} {item['unit']}".strip(),
                ""
                if not baseline
                else f"{baseline['name']} = {_number(baseline['value'])}",
                item.get("target") or "",
                {True: "yes", False: "NO", None: ""}[met],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown(figures: dict[str, dict[str, Any]]) -> str:
    """The figures as a Markdown table, for the README's Performance section."""
    lines = [
        "| figure | value | baseline (same run) | target | met |",
        "|---|---:|---|---|---|",
    ]
    for name, item in figures.items():
        baseline = item.get("baseline")
        lines.append(
            f"| `{name}` | {_number(item['value'])} {item['unit']} | "
            + (
                ""
                if not baseline
                else f"`{baseline['name']}` {_number(baseline['value'])}"
            )
            + f" | {item.get('target') or ''} | "
            + {True: "yes", False: "**no**", None: ""}[item.get("met")]
            + " |"
        )
    return "\n".join(lines)


def _machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "load_average": None if load is None else [round(x, 2) for x in load],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_part(
    name: str, script: str, args: list[str], env: dict[str, str]
) -> tuple[dict[str, Any], float]:
    """Run one benchmark script; return its figures and how long it took (s)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.json"
        started = time.monotonic()
        print(f"\n=== {name}: {script} {' '.join(args)}", flush=True)
        completed = subprocess.run(
            [sys.executable, str(ROOT / script), *args, "--json", str(out)],
            cwd=ROOT,
            env=env,
            check=False,
        )
        took = time.monotonic() - started
        if completed.returncode != 0 or not out.exists():
            raise SystemExit(
                f"{script} failed (exit status {completed.returncode}); "
                "see its output above"
            )
        return json.loads(out.read_text()), took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the under-5-minute run")
    parser.add_argument(
        "--only",
        metavar="PART",
        action="append",
        choices=[name for name, _, _ in PARTS],
        help="run only this part (repeatable); results.json is then left alone",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the results file as the README's Markdown table; run nothing",
    )
    options = parser.parse_args(argv)
    if options.markdown:
        print(markdown(json.loads(options.out.read_text())["figures"]))
        return 0

    env = dict(os.environ)
    env.setdefault("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    sys.path.insert(0, str(ROOT))
    from tests.services import postgres_reachable, redis_reachable

    if not postgres_reachable(env["BENCH_DATABASE_URL"]):
        raise SystemExit(f"PostgreSQL is unreachable at {env['BENCH_DATABASE_URL']}")
    if not redis_reachable(env["BENCH_REDIS_URL"]):
        raise SystemExit(f"Redis is unreachable at {env['BENCH_REDIS_URL']}")

    machine = _machine()
    started = datetime.now(UTC)
    figures: dict[str, dict[str, Any]] = {}
    extra: dict[str, Any] = {}
    durations: dict[str, float] = {}
    for name, script, quick_args in PARTS:
        if options.only and name not in options.only:
            continue
        result, took = run_part(name, script, quick_args if options.quick else [], env)
        durations[name] = round(took, 1)
        for key, value in result.items():
            # A part may add non-figure sections (per-scenario tables) under "_name".
            if key.startswith("_"):
                extra[key.lstrip("_")] = value
            else:
                figures[key] = value

    ordered = {k: figures[k] for k in REQUIRED if k in figures}
    ordered.update({k: v for k, v in figures.items() if k not in ordered})
    print("\n" + table(ordered))
    missing = [k for k in REQUIRED if k not in figures]
    if options.only:
        return 0
    report = {
        "generated_at": started.isoformat(timespec="seconds"),
        "command": "make bench-quick" if options.quick else "make bench",
        "mode": "quick" if options.quick else "full",
        "machine": {**machine, "load_average_after": _machine()["load_average"]},
        "durations_s": durations,
        "figures": ordered,
        **extra,
    }
    options.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {options.out.relative_to(ROOT)}; {sum(durations.values()):.0f} s")
    if missing:
        print(f"missing figures: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The writers benchmark's pure parts (``bench/writers.py``): no database, no timing."""

from __future__ import annotations

import pytest

from bench import writers as bench
from bench.run import PARTS, REQUIRED
from opsmessaging import pubsub
from opsmessaging.categories import Category


def test_the_spread_broadcasts_once_per_category_through_the_public_api():
    assert [category for category, *_ in bench.SPREAD] == [c.value for c in Category]
    for _, function, _, _ in bench.SPREAD:
        assert function in pubsub.__all__
    assert bench.HEALTH in bench.SPREAD


def test_a_run_counts_acknowledged_messages_from_the_common_start_to_the_last_end():
    start = 1000.0
    run = bench.combine(
        [
            bench.Tally(300, 2, 1000.01, 1002.0, 0.5),
            bench.Tally(100, 0, 1000.2, 1002.5, 0.3),
        ],
        start,
    )
    assert (run.writers, run.messages, run.failed) == (2, 400, 2)
    assert run.seconds == 2.5 and run.per_s == 160
    assert run.late_s == pytest.approx(0.2)
    assert run.cpu_us == pytest.approx(2000)


def test_the_plan_interleaves_raw_and_broadcast_and_reverses_odd_rounds():
    runs = bench.plan([1, 8], rounds=2)
    assert runs[:4] == [
        (0, "one", "raw", 1),
        (0, "one", "broadcast", 1),
        (0, "spread", "raw", 1),
        (0, "spread", "broadcast", 1),
    ]
    assert runs[7] == (0, "spread", "broadcast", 8)
    assert runs[8] == (1, "spread", "broadcast", 8)
    assert runs[-1] == (1, "one", "raw", 1)
    assert len(runs) == 16


def test_raw_sequences_never_collide_within_a_category():
    writers, categories, calls = 4, 9, 50
    seen: dict[int, list[int]] = {}
    for writer in range(writers):
        for call in range(calls):
            category = (call + writer) % categories
            seen.setdefault(category, []).append(
                bench.raw_sequence(call, writer, writers, categories)
            )
    for sequences in seen.values():
        assert len(sequences) == len(set(sequences))
    assert bench.raw_sequence(0, 0, 1, 1) == 1
    assert bench.raw_sequence(5, 0, 1, 1) == 6


def test_contiguity_finds_gaps_duplicates_and_unsequenced_rows():
    def row(category, rows, numbered, low, high):
        return {
            "category": category,
            "rows": rows,
            "numbered": numbered,
            "low": low,
            "high": high,
        }

    assert bench.contiguity([row("health", 3, 3, 1, 3), row("audit", 1, 1, 1, 1)]) == []
    assert bench.contiguity([row("health", 3, 3, 1, 4)]) == [
        "health: sequences 1..4 for 3 rows"
    ]
    assert bench.contiguity([row("health", 3, 2, 1, 2)]) == [
        "health: 1 of 3 rows without a distinct sequence"
    ]
    assert bench.contiguity([row("alerts", 2, 0, None, None)]) == [
        "alerts: 2 of 2 rows without a distinct sequence"
    ]


def _runs(rate, n=1):
    return [bench.Run(writers=1, messages=rate, failed=0, seconds=1, cpu_seconds=0)] * n


def test_report_has_the_headline_every_w_and_the_held_transaction():
    results = {
        ("one", 1): {"raw": _runs(1000), "broadcast": _runs(600)},
        ("one", 8): {"raw": _runs(4000), "broadcast": _runs(1000)},
        ("spread", 1): {"raw": _runs(1000), "broadcast": _runs(700)},
        ("spread", 8): {"raw": _runs(4000), "broadcast": _runs(2400)},
    }
    held = [[1.0] * 98 + [3000.0, 3000.0]]
    checks = [bench.Check(600, 600, ()), bench.Check(5, 4, ("health: x",))]
    figures = bench.report(results, held, checks)
    headline = figures["broadcast_writers_ratio_vs_raw_insert"]
    assert (headline["value"], headline["target"], headline["met"]) == (
        0.25,
        ">= 0.5",
        False,
    )
    assert headline["baseline"] == {
        "name": "raw_insert_writers_per_s_w8",
        "value": 4000,
    }
    assert "W=1 0.60, W=8 0.25" in headline["detail"]
    assert figures["broadcast_writers_spread_ratio_vs_raw_insert"]["value"] == 0.6
    worst = figures["broadcast_writers_min_ratio_vs_raw_insert"]
    assert worst["value"] == 0.25 and "W=8, one category" in worst["detail"]
    assert figures["writers_sequences_contiguous"]["value"] == 0
    assert figures["writers_sequences_contiguous"]["met"] is False
    assert figures["writers_acknowledged_not_stored"]["value"] == 1
    p99 = figures["held_transaction_other_writer_p99_ms"]
    assert (p99["value"], p99["met"]) == (3000.0, False)
    assert figures["held_transaction_other_writer_max_ms"]["value"] == 3000.0
    section = figures["_writers"]
    assert section["one_category"]["8"]["ratio"] == 0.25
    assert section["nine_categories"]["1"]["broadcast_per_s"] == 700
    assert section["held_transaction"]["broadcasts"] == 100


def test_report_with_contiguous_sequences_and_a_fast_other_writer_meets_those_targets():
    results = {("one", 8): {"raw": _runs(4000, 3), "broadcast": _runs(2400, 3)}}
    figures = bench.report(results, [[4.0] * 100], [bench.Check(10, 10, ())])
    assert figures["broadcast_writers_ratio_vs_raw_insert"]["met"] is True
    assert figures["writers_sequences_contiguous"]["met"] is True
    assert figures["writers_acknowledged_not_stored"]["met"] is True
    assert figures["held_transaction_other_writer_p99_ms"]["met"] is True


def test_arguments_quick_and_full_defaults_and_writer_counts():
    quick = bench.parse_args(["--quick"])
    assert (quick.rounds, quick.duration, quick.hold, quick.writers) == (
        1,
        2.0,
        3.0,
        (1, 2, 4, 8, 16),
    )
    full = bench.parse_args(["--writers", "8,2,2", "--rounds", "5"])
    assert (full.rounds, full.duration, full.writers) == (5, 5.0, (2, 8))
    with pytest.raises(SystemExit):
        bench.parse_args(["--writers", "0,2"])


def test_the_runner_runs_the_writers_part_and_requires_its_figures():
    assert ("writers", "bench/writers.py", ["--quick"]) in PARTS
    assert {
        "broadcast_writers_ratio_vs_raw_insert",
        "writers_sequences_contiguous",
        "held_transaction_other_writer_p99_ms",
    } <= set(REQUIRED)

"""The store benchmark's pure helpers (``bench/store.py``): no database, no timing."""

from __future__ import annotations

import pytest

from bench.store import Run, figure, median_run, paired_ratio, report


def test_run_rates_and_cpu_per_message():
    run = Run(messages=500, seconds=0.25, cpu_seconds=0.1)
    assert run.per_s == 2000
    assert run.cpu_us == pytest.approx(200)


def test_median_run_is_the_run_of_median_rate():
    runs = [Run(100, 1, 0), Run(100, 4, 0), Run(100, 2, 0)]
    assert median_run(runs) is runs[2]
    assert median_run(runs[:2]) is runs[0]  # the upper median of two


def test_paired_ratio_is_the_median_of_per_round_ratios():
    ours = [Run(100, 1, 0), Run(100, 2, 0), Run(100, 1, 0)]  # 100, 50, 100 /s
    theirs = [Run(100, 0.5, 0), Run(100, 0.5, 0), Run(100, 0.25, 0)]  # 200, 200, 400 /s
    assert paired_ratio(ours, theirs) == 0.25


def test_figure_with_a_target_says_whether_it_is_met():
    assert figure(0.4567, "x", ("raw_insert_per_s", 3000.12345), 0.4, "d") == {
        "value": 0.457,
        "unit": "x",
        "baseline": {"name": "raw_insert_per_s", "value": 3000.123},
        "target": ">= 0.4",
        "met": True,
        "detail": "d",
    }
    assert figure(0.39, "x", target=0.4)["met"] is False
    assert figure(12.0, "msg/s")["met"] is None


def test_report_has_every_figure_with_its_baseline():
    names = (
        "raw_insert",
        "broadcast_single",
        "single_store_only",
        "eventstream",
        "raw_executemany",
        "broadcast_batch",
        "batch_store_only",
    )
    rates = dict(zip(names, (1000, 500, 800, 100, 10000, 5000, 6000), strict=True))
    figures = report({name: [Run(rate, 1, 0.5)] for name, rate in rates.items()})
    assert figures["broadcast_single_ratio_vs_raw_insert"]["value"] == 0.5
    assert figures["broadcast_single_ratio_vs_raw_insert"]["met"] is True
    assert figures["broadcast_single_ratio_vs_raw_insert"]["baseline"] == {
        "name": "raw_insert_per_s",
        "value": 1000,
    }
    assert figures["broadcast_batch_ratio_vs_raw_executemany"]["value"] == 0.5
    assert figures["broadcast_single_ratio_vs_eventstream"]["value"] == 5
    assert figures["broadcast_single_per_s"]["baseline"]["name"] == "raw_insert_per_s"
    assert figures["single_store_only_ratio"]["value"] == 0.8
    assert set(figures) == {
        "raw_insert_per_s",
        "broadcast_single_per_s",
        "raw_executemany_per_s",
        "broadcast_batch_per_s",
        "eventstream_per_s",
        "broadcast_single_ratio_vs_raw_insert",
        "broadcast_batch_ratio_vs_raw_executemany",
        "broadcast_single_ratio_vs_eventstream",
        "single_store_only_ratio",
        "batch_store_only_ratio",
        "broadcast_single_cpu_us_per_message",
        "broadcast_batch_cpu_us_per_message",
    }

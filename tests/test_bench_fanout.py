"""The fan-out benchmark's pure helpers (bench/fanout.py); the benchmark itself is not run."""

from __future__ import annotations

import json

import pytest

from bench import fanout as bench


def test_a_delivery_is_read_from_the_frame_text_without_parsing_it():
    text = bench.raw_frame(42, 1700000000.25, 3)
    assert bench.parse_delivery(text) == (42, 1700000000.25, 3)
    frame = json.loads(text)
    assert (frame["type"], frame["message"]["sequence"]) == ("message", 42)
    assert frame["message"]["payload"]["metadata"][bench.SENT] == 1700000000.25


def test_a_frame_without_a_publish_time_is_not_a_delivery():
    assert bench.parse_delivery('{"type":"message","message":{"sequence":1}}') is None


def test_percentile_is_the_nearest_rank():
    ordered = [float(i) for i in range(1, 101)]
    assert (bench.percentile(ordered, 0.5), bench.percentile(ordered, 0.99)) == (
        51.0,
        100.0,
    )
    assert bench.percentile([], 0.99) is None


@pytest.mark.parametrize(
    ("expected", "received", "p99", "passes"),
    [
        (1000, 1000, 100.0, True),
        (1000, 1000, 100.1, False),
        (1000, 999, 10.0, False),
        (0, 0, None, False),
    ],
)
def test_a_step_passes_with_every_delivery_within_the_limit(
    expected, received, p99, passes
):
    assert bench.step_passes(expected, received, p99) is passes


def test_rates_rise_until_a_failure_then_bisect():
    assert bench.next_rates(None, None, 40) == 40
    assert bench.next_rates(40, None, 40) == pytest.approx(52)
    assert bench.next_rates(None, 40, 40) == pytest.approx(25)
    assert bench.next_rates(100, 144, 40) == pytest.approx(120)


def test_missing_sequences_counts_the_range_inclusively():
    assert bench.missing_sequences({2, 3, 5}, 1, 6) == 3

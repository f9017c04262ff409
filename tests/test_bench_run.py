"""The benchmark runner's pure parts: targets, tables and the history headline.

The benchmarks themselves are never run by the test suite (``make bench``).
"""

from __future__ import annotations

import pytest

from bench.history import headline
from bench.run import REQUIRED, figure, markdown, meets, table


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        (0.4, ">= 0.4", True),
        (0.39, ">= 0.4", False),
        (50, "<= 50", True),
        (50.1, "<= 50", False),
        (0, "== 0", True),
        (1, "== 0", False),
        (3.0, None, None),
    ],
)
def test_a_target_is_met_or_not(value, target, expected):
    assert meets(value, target) is expected


def test_an_unknown_target_operator_is_refused():
    with pytest.raises(ValueError, match="unknown target"):
        meets(1, "> 0")


def test_a_figure_carries_its_baseline_and_whether_it_met_its_target():
    item = figure(0.61, "x", ("raw_insert_per_s", 4400.0), ">= 0.4", "median of 3")
    assert item == {
        "value": 0.61,
        "unit": "x",
        "baseline": {"name": "raw_insert_per_s", "value": 4400.0},
        "target": ">= 0.4",
        "met": True,
        "detail": "median of 3",
    }


def test_the_tables_show_every_figure_its_baseline_and_a_missed_target():
    figures = {
        "broadcast_single_ratio_vs_raw_insert": figure(
            0.3, "x", ("raw_insert_per_s", 4400.0), ">= 0.4"
        ),
        "fanout_lost_after_resume": figure(0, "messages", None, "== 0"),
    }
    text = table(figures)
    assert "raw_insert_per_s = 4,400" in text
    assert "NO" in text.splitlines()[2] and "yes" in text.splitlines()[3]
    md = markdown(figures).splitlines()
    assert md[2] == (
        "| `broadcast_single_ratio_vs_raw_insert` | 0.300 x | "
        "`raw_insert_per_s` 4,400 | >= 0.4 | **no** |"
    )
    assert md[3] == "| `fanout_lost_after_resume` | 0 messages |  | == 0 | yes |"


def test_the_history_headline_is_the_worst_filtered_first_page():
    def at(p95_small, p95_large):
        return {
            "small": {"p50_ms": 1.0, "p95_ms": p95_small},
            "large": {"p50_ms": 1.0, "p95_ms": p95_large},
        }

    report = {
        "all messages | page 1": at(1.0, 9.0),  # unfiltered: not a headline
        "category=alerts | page 1": at(2.0, 2.2),
        "until (the oldest 5,000) | page 1": at(3.0, 4.8),
        "node=x | page 100": at(1.0, 5.0),  # not a first page
    }
    figures = headline(report, 10_000, 1_000_000)
    assert figures["history_first_page_p95_ms_1m"]["value"] == 4.8
    assert figures["history_first_page_p95_ms_1m"]["baseline"] == {
        "name": "history_first_page_p95_ms_10k",
        "value": 3.0,
    }
    ratio = figures["history_p95_ratio_1m_vs_10k"]
    assert ratio["value"] == 1.6 and ratio["met"] is False
    assert "until (the oldest 5,000)" in ratio["detail"]
    assert set(REQUIRED) >= {
        "history_first_page_p95_ms_1m",
        "history_p95_ratio_1m_vs_10k",
    }

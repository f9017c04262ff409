"""Tests of opsmessaging.catalogue.logs: log summaries' totals and counts, log entries."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from opsmessaging.catalogue import Payload, logs


@pytest.mark.parametrize(
    ("log_counts", "total"),
    [
        ({"info": 7, "error": 3}, 10),
        ({}, 0),
        ({"debug": 1, "warn": 2, "critical": 4}, 7),
    ],
)
def test_log_summary_total_logs_is_the_sum_of_log_counts(
    log_counts: dict[str, int], total: int
) -> None:
    assert logs.log_summary("1h", log_counts)["total_logs"] == total


def test_log_summary_error_rate_defaults_to_the_float_zero() -> None:
    error_rate = logs.log_summary("1h", {})["error_rate"]
    assert error_rate == 0.0
    assert isinstance(error_rate, float)


def test_log_entry_pid_defaults_to_this_process() -> None:
    assert logs.log_entry("info", "started", "app")["pid"] == str(os.getpid())


def test_log_summary_nodes_reporting_defaults_to_this_node_only(this_node: str) -> None:
    assert logs.log_summary("1h", {"info": 1})["nodes_reporting"] == [this_node]


def test_log_summary_negative_count_is_rejected_naming_its_level(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: logs.log_summary("1h", {"info": 2, "error": -1}))
    assert errors == {"log_counts.error": ["must be at least 0, got -1"]}


def test_log_summary_non_integer_count_is_rejected_naming_its_level(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: logs.log_summary("1h", {"info": "3"}))  # type: ignore[dict-item]
    assert list(errors) == ["log_counts.info"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: logs.log_entry("verbose", "m", "mod"), "level"),
        (lambda: logs.log_entry("warning", "m", "mod"), "level"),
    ],
    ids=["log-verbose", "log-warning"],
)
def test_value_outside_the_reference_list_is_rejected(
    call: Callable[[], Payload],
    field: str,
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    assert list(errors_of(call)) == [field]

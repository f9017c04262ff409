"""Tests of opsmessaging.catalogue.metrics: derived rates and the bounds of its fields."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opsmessaging.catalogue import Payload, metrics


@pytest.mark.parametrize(
    ("count", "duration_ms"),
    [(30, 1500), (0, 1000), (5, 250), (7, 3), (1, 0.5)],
)
def test_throughput_rate_is_count_per_second(count: int, duration_ms: float) -> None:
    payload = metrics.throughput_metric("event_processing", count, duration_ms)
    assert payload["rate_per_sec"] == count / (duration_ms / 1000)


def test_throughput_rate_of_30_in_1500_ms_is_20_per_second() -> None:
    payload = metrics.throughput_metric("event_processing", 30, 1500)
    assert payload["rate_per_sec"] == 20.0


def test_throughput_rate_cannot_be_given_a_contradicting_value() -> None:
    payload = metrics.throughput_metric("event_processing", 30, 1500, rate_per_sec=999)
    assert payload["rate_per_sec"] == 20.0


@pytest.mark.parametrize("duration_ms", [0, 0.0, -5])
def test_throughput_duration_must_be_positive(
    duration_ms: float, errors_of: Callable[..., dict[str, list[str]]]
) -> None:
    errors = errors_of(lambda: metrics.throughput_metric("op", 10, duration_ms))
    assert list(errors) == ["duration_ms"]


def test_throughput_negative_count_is_rejected(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: metrics.throughput_metric("op", -1, 1000))
    assert list(errors) == ["count"]


@pytest.mark.parametrize("percent", [101, 100.5, -1])
def test_resource_usage_percent_outside_0_to_100_is_rejected(
    percent: float, errors_of: Callable[..., dict[str, list[str]]]
) -> None:
    errors = errors_of(lambda: metrics.resource_usage("cpu", percent, 8, 4))
    assert list(errors) == ["usage_percent"]


@pytest.mark.parametrize("percent", [0, 100, 55.5])
def test_resource_usage_percent_within_0_to_100_is_accepted(percent: float) -> None:
    assert metrics.resource_usage("cpu", percent, 8, 4)["usage_percent"] == percent


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: metrics.latency_metric("op", 1.0, "p42", 10), "percentile"),
        (lambda: metrics.resource_usage("gpu", 10, 100, 10), "resource_type"),
        (lambda: metrics.metric_alert("cpu", 9, 8, "max", "info"), "severity"),
    ],
    ids=["latency-p42", "resource-gpu", "metric-alert-info"],
)
def test_value_outside_the_reference_list_is_rejected(
    call: Callable[[], Payload],
    field: str,
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    assert list(errors_of(call)) == [field]

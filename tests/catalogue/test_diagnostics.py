"""Tests of opsmessaging.catalogue.diagnostics: first and last seen, default severity."""

from __future__ import annotations

from datetime import UTC, datetime

from opsmessaging.catalogue import diagnostics
from opsmessaging.severity import Severity


def test_error_analysis_first_and_last_seen_share_the_payload_timestamp(
    ticking_clock: None,
) -> None:
    payload = diagnostics.error_analysis("timeout", "request timed out")
    assert payload["first_seen"] == payload["last_seen"] == payload["timestamp"]


def test_explicit_first_seen_is_kept_apart_from_the_timestamp() -> None:
    first_seen = datetime(2024, 1, 1, tzinfo=UTC)
    payload = diagnostics.error_analysis(
        "timeout", "request timed out", first_seen=first_seen, frequency=4
    )
    assert payload["first_seen"] == first_seen
    assert payload["last_seen"] == payload["timestamp"] != first_seen
    assert payload["frequency"] == 4


def test_default_performance_analysis_severity_is_warning() -> None:
    payload = diagnostics.performance_analysis("store", "bottleneck", {})
    assert payload.type.severity_of(payload.data) is Severity.WARNING

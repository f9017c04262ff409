"""Tests of opsmessaging.catalogue.alerts: acknowledgement, alert ids and attempts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opsmessaging.catalogue import Payload, alerts


@pytest.mark.parametrize(
    ("severity", "requires_ack"),
    [("info", False), ("warning", False), ("error", True), ("critical", True)],
)
def test_system_alert_requires_ack_exactly_for_error_and_critical(
    severity: str, requires_ack: bool
) -> None:
    payload = alerts.system_alert(severity, "system", "title", None, "ExESDB")
    assert payload["requires_ack"] is requires_ack


def test_system_alert_explicit_requires_ack_wins() -> None:
    payload = alerts.system_alert(
        "info", "system", "title", None, "ExESDB", requires_ack=True
    )
    assert payload["requires_ack"] is True


def test_system_alert_id_is_16_lowercase_hex_characters_without_prefix() -> None:
    alert_id = alerts.system_alert("info", "system", "t", None, "ExESDB")["alert_id"]
    assert len(alert_id) == 16
    assert set(alert_id) <= set("0123456789abcdef")


def test_alert_ack_timestamp_defaults_to_the_payload_timestamp(
    ticking_clock: None,
) -> None:
    payload = alerts.alert_ack("0123456789abcdef", "oncall")
    assert payload["ack_timestamp"] == payload["timestamp"]


def test_notification_attempts_below_one_is_rejected(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(
        lambda: alerts.notification_status("a1", "sms", "+1", "sent", attempts=0)
    )
    assert list(errors) == ["attempts"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: alerts.system_alert("urgent", "system", "t", None, "s"), "severity"),
        (lambda: alerts.system_alert("warn", "system", "t", None, "s"), "severity"),
        (lambda: alerts.system_alert("info", "database", "t", None, "s"), "category"),
    ],
    ids=["alert-urgent", "alert-warn", "alert-category-database"],
)
def test_value_outside_the_reference_list_is_rejected(
    call: Callable[[], Payload],
    field: str,
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    assert list(errors_of(call)) == [field]

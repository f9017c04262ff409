"""Tests of opsmessaging.catalogue.system: the rules of its own constructors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opsmessaging.catalogue import Payload, system


def test_feature_toggle_keeps_false_as_a_present_value() -> None:
    payload = system.feature_toggle("dark_mode", False, None, "admin")
    assert payload["enabled"] is False
    assert payload["previous_state"] is None


def test_system_config_with_nothing_reports_both_missing_fields(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: system.system_config(None, None))  # type: ignore[arg-type]
    assert set(errors) == {"component", "changes"}


def test_system_lifecycle_with_nothing_reports_every_missing_field(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: system.system_lifecycle(None, None, None))  # type: ignore[arg-type]
    assert set(errors) == {"event", "system_name", "version"}


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: system.system_lifecycle("exploded", "sys", "1.0"), "event"),
        (lambda: system.system_lifecycle("STARTED", "sys", "1.0"), "event"),
    ],
    ids=["lifecycle-exploded", "lifecycle-uppercase"],
)
def test_value_outside_the_reference_list_is_rejected(
    call: Callable[[], Payload],
    field: str,
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    assert list(errors_of(call)) == [field]

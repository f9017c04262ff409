"""System checks of the exporters' and the event stream's settings."""

from __future__ import annotations

import pytest
from django.test import override_settings

from opsmessaging.checks import check_settings


def _errors(value: dict[str, object]) -> list[tuple[str, str]]:
    with override_settings(OPSMESSAGING=value):
        return [(m.id or "", m.msg) for m in check_settings()]


@pytest.mark.parametrize("token", ["short", 12345, b"0123456789abcdef0123"])
def test_bad_metrics_token_is_reported_without_its_value(token: object) -> None:
    errors = _errors({"METRICS_TOKEN": token})
    assert [check_id for check_id, _ in errors] == ["opsmessaging.E701"]
    assert repr(token) not in errors[0][1]


def test_long_metrics_token_is_clean() -> None:
    assert _errors({"METRICS_TOKEN": "x" * 16}) == []


@pytest.mark.parametrize(
    "name",
    ["SSE_POLL_INTERVAL", "SSE_HEARTBEAT_INTERVAL", "SSE_RETRY", "SSE_MAX_DURATION"],
)
@pytest.mark.parametrize("value", [0, -1, "1000", True])
def test_bad_stream_interval_is_reported(name: str, value: object) -> None:
    assert [check_id for check_id, _ in _errors({name: value})] == ["opsmessaging.E702"]

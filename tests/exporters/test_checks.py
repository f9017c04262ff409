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


@pytest.mark.parametrize(
    ("value", "check_id"),
    [
        ({"OTLP_LOGS_ENDPOINT": "collector:4318"}, "opsmessaging.E703"),
        ({"OTLP_LOGS_ENDPOINT": "ftp://collector/v1/logs"}, "opsmessaging.E703"),
        ({"OTLP_LOGS_ENDPOINT": 4318}, "opsmessaging.E703"),
        ({"OTLP_HEADERS": {"authorization": 1}}, "opsmessaging.E704"),
        ({"OTLP_HEADERS": "authorization=x"}, "opsmessaging.E704"),
        ({"OTLP_CATEGORIES": ["alerts", "nope"]}, "opsmessaging.E705"),
        ({"OTLP_CATEGORIES": []}, "opsmessaging.E705"),
        ({"OTLP_CATEGORIES": "alerts"}, "opsmessaging.E705"),
        ({"OTLP_BATCH_SIZE": 0}, "opsmessaging.E706"),
        ({"OTLP_EXPORT_INTERVAL": "30s"}, "opsmessaging.E706"),
        ({"OTLP_TIMEOUT": -1}, "opsmessaging.E706"),
    ],
)
def test_bad_otlp_settings_are_reported(
    value: dict[str, object], check_id: str
) -> None:
    assert [found for found, _ in _errors(value)] == [check_id]


def test_good_otlp_settings_are_clean() -> None:
    assert (
        _errors(
            {
                "OTLP_LOGS_ENDPOINT": "https://collector:4318/v1/logs",
                "OTLP_HEADERS": {"authorization": "Bearer t"},
                "OTLP_CATEGORIES": ["alerts", "audit"],
                "OTLP_BATCH_SIZE": 100,
            }
        )
        == []
    )

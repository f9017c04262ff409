"""The typed accessors of the capture settings."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from opsmessaging.conf import DEFAULTS, conf, log_level_number


def test_capture_defaults_are_on_where_cheap():
    assert [
        (name, getattr(conf, name)) for name in DEFAULTS if name.startswith("CAPTURE_")
    ] == [
        ("CAPTURE_AUTH", True),
        ("CAPTURE_ACCESS_VIOLATIONS", True),
        ("CAPTURE_ADMIN", True),
        ("CAPTURE_DATA_CHANGES", True),
        ("CAPTURE_LOGGING", True),
        ("CAPTURE_CLIENT_ERRORS", False),
        ("CAPTURE_LIFECYCLE", True),
        ("CAPTURE_CONFIG_CHANGES", True),
        ("CAPTURE_FAILURES", True),
    ]


@override_settings(OPSMESSAGING={"CAPTURE_AUTH": "yes"})
def test_a_switch_is_on_only_when_true():
    assert conf.CAPTURE_AUTH is False


@pytest.mark.parametrize(
    ("value", "number"),
    [("WARNING", 30), ("error", 40), (15, 15), (0, 0), ("LOUD", 30), (-1, 30)],
)
def test_log_capture_level_is_a_number(value, number):
    with override_settings(OPSMESSAGING={"LOG_CAPTURE_LEVEL": value}):
        level = conf.LOG_CAPTURE_LEVEL
    assert level == number


def test_log_level_number():
    assert log_level_number("critical") == logging.CRITICAL
    assert log_level_number(True) is None
    assert log_level_number(None) is None


@override_settings(OPSMESSAGING={"NODE_NAME": "web1@host", "LOG_RATE_LIMIT": 7})
def test_effective_settings_hold_every_key():
    effective = conf.effective()
    assert list(effective) == list(DEFAULTS)
    assert effective["NODE_NAME"] == "web1@host"
    assert effective["LOG_RATE_LIMIT"] == 7
    assert effective["SYSTEM_NAME"] == "django"


def test_open_alerts_scan_defaults_to_a_thousand_alerts(settings):
    settings.OPSMESSAGING = {}
    assert conf.OPEN_ALERTS_SCAN == 1000
    settings.OPSMESSAGING = {"OPEN_ALERTS_SCAN": 20}
    assert conf.OPEN_ALERTS_SCAN == 20

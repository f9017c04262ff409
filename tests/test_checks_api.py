"""System checks of the API's settings (``opsmessaging.E301``-``E303``)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from opsmessaging.checks import check_settings
from opsmessaging.conf import conf


def ids(settings_value: dict) -> list[str]:
    with override_settings(OPSMESSAGING=settings_value):
        return [message.id for message in check_settings()]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"API_PAGE_SIZE": 0}, ["opsmessaging.E301"]),
        ({"API_MAX_PAGE_SIZE": "100"}, ["opsmessaging.E301"]),
        ({"API_MAX_BATCH_SIZE": True}, ["opsmessaging.E301"]),
        ({"API_PAGE_SIZE": 200, "API_MAX_PAGE_SIZE": 100}, ["opsmessaging.E302"]),
        ({"API_PAGE_SIZE": 2000}, ["opsmessaging.E302"]),
        ({"API_WRITE_THROTTLE_RATE": "fast"}, ["opsmessaging.E303"]),
        ({"API_WRITE_THROTTLE_RATE": "0/minute"}, ["opsmessaging.E303"]),
        ({"API_WRITE_THROTTLE_RATE": 10}, ["opsmessaging.E303"]),
    ],
)
def test_bad_api_values_are_reported(value, expected):
    assert ids(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"API_PAGE_SIZE": 1000, "API_MAX_PAGE_SIZE": 1000},
        {"API_WRITE_THROTTLE_RATE": None},
        {"API_WRITE_THROTTLE_RATE": "5/second"},
        {"API_WRITE_THROTTLE_RATE": "1000/day"},
        {"API_MAX_BATCH_SIZE": 1},
    ],
)
def test_good_api_values_are_clean(value):
    assert ids(value) == []


def test_api_settings_are_read_live():
    assert (conf.API_PAGE_SIZE, conf.API_MAX_PAGE_SIZE, conf.API_MAX_BATCH_SIZE) == (
        50,
        1000,
        500,
    )
    assert conf.API_WRITE_THROTTLE_RATE == "120/minute"
    with override_settings(
        OPSMESSAGING={"API_PAGE_SIZE": 10, "API_WRITE_THROTTLE_RATE": None}
    ):
        assert (conf.API_PAGE_SIZE, conf.API_WRITE_THROTTLE_RATE) == (10, None)

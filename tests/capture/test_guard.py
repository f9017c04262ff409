"""A failing capture receiver logs and returns None; it never raises into its caller."""

from __future__ import annotations

import logging

from opsmessaging.capture.guard import guarded


def test_guarded_returns_the_result():
    assert guarded(lambda a, b: a + b)(2, 3) == 5


def test_guarded_logs_and_swallows_the_error(caplog):
    @guarded
    def receiver():
        raise ValueError("bad")

    with caplog.at_level(logging.ERROR, logger="opsmessaging.capture.guard"):
        assert receiver() is None
    [record] = caplog.records
    assert record.name == "opsmessaging.capture.guard"
    assert record.getMessage() == (
        "opsmessaging capture test_guarded_logs_and_swallows_the_error.<locals>.receiver "
        "failed"
    )
    assert record.exc_info[0] is ValueError

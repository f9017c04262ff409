"""Fixtures of the catalogue tests: sample payloads, their errors, this node, a clock."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import pytest
from django.test import override_settings

from opsmessaging import timestamps
from opsmessaging.catalogue import Payload
from opsmessaging.exceptions import InvalidMessage
from tests.catalogue.reference import SAMPLES, TYPES


@pytest.fixture
def build() -> Callable[..., Payload]:
    """Return a builder of a type's sample payload: ``build("SystemAlert", node=...)``."""

    def build(name: str, **overrides: Any) -> Payload:
        """Call ``name``'s constructor with its sample arguments, ``overrides`` replacing them."""
        constructor = TYPES[name][2]
        values = {**SAMPLES[name], **overrides}
        arguments = [values.pop(field) for field in SAMPLES[name]]
        return constructor(*arguments, **values)

    return build


@pytest.fixture
def errors_of() -> Callable[[Callable[[], object]], dict[str, list[str]]]:
    """Return a function giving the ``errors`` of the ``InvalidMessage`` a call raises."""

    def errors_of(call: Callable[[], object]) -> dict[str, list[str]]:
        with pytest.raises(InvalidMessage) as excinfo:
            call()
        return excinfo.value.errors

    return errors_of


@pytest.fixture
def this_node() -> Iterator[str]:
    """Name this node ``web1@testhost`` (the NODE_NAME setting) during the test."""
    with override_settings(OPSMESSAGING={"NODE_NAME": "web1@testhost"}):
        yield "web1@testhost"


@pytest.fixture
def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every reading of the clock one millisecond later than the one before."""
    ticks = itertools.count(1)

    class TickingDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(
                milliseconds=next(ticks)
            )

    monkeypatch.setattr(timestamps, "datetime", TickingDatetime)

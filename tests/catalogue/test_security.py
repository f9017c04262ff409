"""Tests of opsmessaging.catalogue.security: the allowed values of its constructors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opsmessaging.catalogue import Payload, security


@pytest.mark.parametrize(
    ("call", "field"),
    [(lambda: security.access_violation("x", "/r", "read"), "violation_type")],
    ids=["violation-x"],
)
def test_value_outside_the_reference_list_is_rejected(
    call: Callable[[], Payload],
    field: str,
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    assert list(errors_of(call)) == [field]

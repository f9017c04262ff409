"""Tests of opsmessaging.catalogue.health: the rules of its own constructors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opsmessaging.catalogue import Payload, health


def test_cluster_health_keeps_given_node_lists_and_quorum() -> None:
    payload = health.cluster_health(
        "degraded",
        ["a@h"],
        3,
        degraded_nodes=["b@h"],
        unhealthy_nodes=["c@h"],
        quorum_status="lost",
    )
    assert (
        payload["degraded_nodes"],
        payload["unhealthy_nodes"],
        payload["quorum_status"],
    ) == (["b@h"], ["c@h"], "lost")


def test_node_health_refuses_none_as_its_node_argument(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: health.node_health(None, "healthy"))  # type: ignore[arg-type]
    assert errors == {"node": ["this field is required"]}


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: health.component_health("c", "n@h", "fine"), "status"),
        (lambda: health.component_health("c", "n@h", "unknown"), "status"),
        (lambda: health.health_check("ping", "n@h", "passed"), "result"),
    ],
    ids=["component-fine", "component-unknown", "check-passed"],
)
def test_value_outside_the_reference_list_is_rejected(
    call: Callable[[], Payload],
    field: str,
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    assert list(errors_of(call)) == [field]

"""Tests of opsmessaging.catalogue.lifecycle: cluster membership's derived fields."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opsmessaging.catalogue import lifecycle


@pytest.mark.parametrize(
    "active_nodes", [[], ["a@h"], ["a@h", "b@h", "c@h"]], ids=["0", "1", "3"]
)
def test_cluster_membership_total_nodes_is_the_number_of_active_nodes(
    active_nodes: list[str],
) -> None:
    payload = lifecycle.cluster_membership("node_removed", ["x@h"], active_nodes)
    assert payload["total_nodes"] == len(active_nodes)


def test_cluster_membership_originating_node_defaults_to_this_node(
    this_node: str,
) -> None:
    payload = lifecycle.cluster_membership("node_added", ["b@h"], ["a@h", "b@h"])
    assert payload["originating_node"] == this_node


@pytest.mark.usefixtures("this_node")
def test_cluster_membership_explicit_originating_node_wins() -> None:
    payload = lifecycle.cluster_membership(
        "node_added", ["b@h"], ["a@h", "b@h"], originating_node="a@h"
    )
    assert payload["originating_node"] == "a@h"


def test_bad_originating_node_is_rejected(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(
        lambda: lifecycle.cluster_membership(
            "node_added", [], [], originating_node="bad node"
        )
    )
    assert list(errors) == ["originating_node"]

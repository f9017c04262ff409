"""Categories, topics and channel-layer group names."""

from __future__ import annotations

import re

import pytest

from opsmessaging import categories
from opsmessaging.categories import Category
from opsmessaging.exceptions import InvalidMessage, UnknownCategory


def test_there_are_nine_operational_categories_in_order():
    assert Category.values == [
        "system",
        "health",
        "metrics",
        "security",
        "audit",
        "alerts",
        "diagnostics",
        "lifecycle",
        "logging",
    ]


def test_events_is_refused_with_a_clear_reason():
    with pytest.raises(UnknownCategory) as error:
        categories.parse_category("events")
    assert error.value.errors == {
        "category": [f"'events' is refused: {categories.EXCLUDED_CATEGORIES['events']}"]
    }
    assert "application domain events are out of scope" in str(error.value)


@pytest.mark.parametrize("value", ["orders", "", "HEALTH", None, 3])
def test_other_categories_are_unknown(value):
    with pytest.raises(UnknownCategory) as error:
        categories.parse_category(value)
    assert list(error.value.errors) == ["category"]


def test_parse_category_accepts_names_and_members():
    assert categories.parse_category("health") is Category.HEALTH
    assert categories.parse_category(Category.ALERTS) is Category.ALERTS


def test_store_and_cluster_topics():
    assert categories.store_health_topic("vehicle_store") == "vehicle_store:health"
    assert categories.CLUSTER_HEALTH_TOPIC == "cluster:health"
    assert categories.all_store_topics("s") == [
        "s:health",
        "s:lifecycle",
        "s:streams",
        "s:replicas",
        "s:events",
        "s:alerts",
        "s:performance",
        "s:subscriptions",
    ]
    assert categories.all_cluster_topics() == [
        "cluster:health",
        "cluster:topology",
        "cluster:leader",
        "cluster:discovery",
        "cluster:alerts",
        "cluster:performance",
    ]


@pytest.mark.parametrize(
    ("topic", "valid"),
    [
        ("a:b", True),
        ("too:many:colons", True),
        ("invalid", False),
        ("", False),
        (":x", False),
        (None, False),
    ],
)
def test_valid_topic_follows_the_gater_rule(topic, valid):
    assert categories.valid_topic(topic) is valid


def test_parse_topic():
    assert categories.parse_topic("cluster:x") == ("cluster", None, "x")
    assert categories.parse_topic("a:b:c") == ("store", "a", "b:c")
    with pytest.raises(InvalidMessage):
        categories.parse_topic("")


@pytest.mark.parametrize(
    ("store_id", "valid"),
    [
        ("main_store", True),
        ("s-1.a", True),
        (None, False),
        ("", False),
        ("a:b", False),
        ("a b", False),
        (12, False),
    ],
)
def test_valid_store_id(store_id, valid):
    assert categories.valid_store_id(store_id) is valid


def test_validate_topic_names_the_field_and_reason():
    with pytest.raises(InvalidMessage) as error:
        categories.validate_topic("has space")
    assert list(error.value.errors) == ["topic"]
    with pytest.raises(InvalidMessage):
        categories.validate_topic("x" * 201)


GROUP_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,99}$")


def test_group_names_of_categories():
    assert categories.group_name("health") == "opsmessaging.health"
    assert (
        categories.group_name(Category.ALERTS, "node_failure")
        == "opsmessaging.alerts.t.node__failure"
    )
    assert (
        categories.group_name("health", "cluster:health")
        == "opsmessaging.health.t.cluster_3ahealth"
    )


@pytest.mark.parametrize(
    "topic",
    [
        "cluster:health",
        "a_b",
        "a-b",
        "a.b",
        "a:b",
        "a/b",
        "a@b",
        "x" * 200,
        "main_store:health",
        "ü" if False else "q",
    ],
)
def test_group_names_are_legal(topic):
    assert GROUP_RE.match(categories.group_name("diagnostics", topic))


def test_group_names_are_distinct_for_distinct_topics():
    topics = [
        "a_3ab",
        "a:b",
        "a_b",
        "a__b",
        "a.b",
        "a-b",
        "x" * 150,
        "x" * 149 + "y",
        "x" * 200,
    ]
    names = {categories.group_name("health", t) for t in topics}
    assert len(names) == len(topics)
    assert categories.group_name("health", "a") != categories.group_name("alerts", "a")


def test_group_name_refuses_events():
    with pytest.raises(UnknownCategory):
        categories.group_name("events")


@pytest.mark.parametrize(
    ("category", "topic"),
    [("health", ["cluster:health"]), (["health"], None), ("health", ""), (7, None)],
)
def test_group_name_refuses_bad_arguments_with_invalid_message(category, topic):
    # Names are cached; an unhashable argument is refused as invalid, not a TypeError.
    with pytest.raises(InvalidMessage):
        categories.group_name(category, topic)


def test_cached_group_names_are_the_same_for_a_category_and_its_name():
    assert categories.group_name(Category.HEALTH, "x") == categories.group_name(
        "health", "x"
    )

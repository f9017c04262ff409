"""Tests of opsmessaging.catalogue: finding types, and the catalogue against the reference.

Every type's category, tag, fields, constructor arguments, defaults, allowed values and
severity field, compared with the tables of tests/catalogue/reference.py. The reference's
allowed values are enforced (the original only listed them in comments), and its struct
validators' required fields reject None.
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from collections.abc import Callable

import pytest

from opsmessaging.catalogue import (
    Kind,
    Payload,
    all_types,
    get_type,
    type_for_tag,
    types_in,
)
from opsmessaging.catalogue.base import registry
from opsmessaging.categories import Category
from opsmessaging.exceptions import InvalidMessage, UnknownCategory
from tests.catalogue.reference import (
    ALLOWED,
    DEFAULTS,
    EXTENSION_FIELDS,
    GENERATED_IDS,
    NAMES,
    NODE_ARGUMENT,
    NODELESS,
    REFERENCE_FIELDS,
    SAMPLES,
    SEVERITY_FIELDS,
    TYPES,
    VALIDATOR_REQUIRED,
)

# --- finding types --------------------------------------------------------------------------


def test_catalogue_has_exactly_36_types() -> None:
    assert len(all_types()) == 36
    assert len(registry()) == 36


def test_catalogue_type_names_are_the_reference_names() -> None:
    assert sorted(t.name for t in all_types()) == sorted(NAMES)


def test_type_names_are_unique() -> None:
    names = [t.name for t in all_types()]
    assert len(set(names)) == len(names)


def test_message_tags_are_unique() -> None:
    tags = [t.tag for t in all_types()]
    assert len(set(tags)) == len(tags) == 36


@pytest.mark.parametrize(
    ("category", "count"),
    [
        (Category.SYSTEM, 3),
        (Category.HEALTH, 4),
        (Category.METRICS, 5),
        (Category.SECURITY, 4),
        (Category.AUDIT, 4),
        (Category.ALERTS, 4),
        (Category.DIAGNOSTICS, 4),
        (Category.LIFECYCLE, 4),
        (Category.LOGGING, 4),
    ],
)
def test_category_has_its_number_of_types(category: Category, count: int) -> None:
    assert len(types_in(category)) == count


@pytest.mark.parametrize("category", list(Category))
def test_types_in_returns_the_reference_types_of_the_category(
    category: Category,
) -> None:
    expected = [name for name, (cat, _, _) in TYPES.items() if cat == category]
    assert [t.name for t in types_in(category)] == expected


def test_types_in_accepts_the_category_name_as_a_string() -> None:
    assert [t.name for t in types_in("logging")] == [
        "LogEntry",
        "LogSummary",
        "LogFilter",
        "LogRotation",
    ]


def test_all_types_are_grouped_in_category_order() -> None:
    order = list(Category)
    positions = [order.index(t.category) for t in all_types()]
    assert positions == sorted(positions)
    assert Counter(t.category for t in all_types()) == Counter(
        cat for cat, _, _ in TYPES.values()
    )


@pytest.mark.parametrize("name", NAMES)
def test_type_has_the_reference_category(name: str) -> None:
    assert get_type(name).category == TYPES[name][0]


@pytest.mark.parametrize("name", NAMES)
def test_type_has_the_reference_message_tag(name: str) -> None:
    assert get_type(name).tag == TYPES[name][1]


@pytest.mark.parametrize("name", NAMES)
def test_type_for_tag_returns_the_type_with_that_tag(name: str) -> None:
    assert type_for_tag(TYPES[name][1]).name == name


@pytest.mark.parametrize("name", NAMES)
def test_get_type_returns_the_type_of_that_name(name: str) -> None:
    payload_type = get_type(name)
    assert payload_type.name == name
    assert get_type(payload_type) is payload_type


def test_get_type_rejects_an_unknown_name(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: get_type("Nope"))
    assert list(errors) == ["type"]
    assert errors["type"][0].startswith("unknown payload type 'Nope'")


def test_get_type_names_the_given_field_in_its_error(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    assert list(errors_of(lambda: get_type("Nope", "payload_type"))) == ["payload_type"]


def test_get_type_rejects_a_non_string(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    assert list(errors_of(lambda: get_type(42))) == ["type"]


def test_type_for_tag_rejects_an_unknown_tag(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: type_for_tag("nope"))
    assert errors == {"tag": ["unknown message tag 'nope'"]}


def test_type_for_tag_does_not_accept_a_type_name() -> None:
    with pytest.raises(InvalidMessage):
        type_for_tag("SystemAlert")


def test_types_in_rejects_the_excluded_events_category() -> None:
    with pytest.raises(UnknownCategory) as excinfo:
        types_in("events")
    assert list(excinfo.value.errors) == ["category"]


def test_types_in_rejects_an_unknown_category() -> None:
    with pytest.raises(UnknownCategory):
        types_in("custom_topic")


# --- fields and constructors ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_type_has_the_reference_struct_fields_in_order(name: str) -> None:
    extensions = EXTENSION_FIELDS.get(name, set())
    field_names = get_type(name).field_names
    assert (
        tuple(f for f in field_names if f not in extensions) == REFERENCE_FIELDS[name]
    )


@pytest.mark.parametrize("name", NAMES)
def test_type_adds_only_the_known_extension_fields(name: str) -> None:
    extra = set(get_type(name).field_names) - set(REFERENCE_FIELDS[name])
    assert extra == EXTENSION_FIELDS.get(name, set())


@pytest.mark.parametrize("name", NAMES)
def test_constructor_takes_the_reference_positional_arguments(name: str) -> None:
    parameters = inspect.signature(TYPES[name][2]).parameters.values()
    positional = tuple(
        p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    )
    assert positional == tuple(SAMPLES[name])


@pytest.mark.parametrize("name", NAMES)
def test_constructor_puts_its_arguments_into_their_fields(
    name: str, build: Callable[..., Payload]
) -> None:
    payload = build(name)
    assert {field: payload[field] for field in SAMPLES[name]} == SAMPLES[name]


@pytest.mark.parametrize("name", NAMES)
def test_constructor_defaults_match_the_reference(
    name: str, build: Callable[..., Payload]
) -> None:
    payload = build(name)
    expected = DEFAULTS[name]
    assert {field: payload[field] for field in expected} == expected


@pytest.mark.parametrize("name", NAMES)
def test_constructor_function_is_the_snake_case_of_the_type_name(name: str) -> None:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    assert TYPES[name][2].__name__ == snake


# --- generated ids --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(GENERATED_IDS))
def test_constructor_generates_a_prefixed_16_hex_character_id(
    name: str, build: Callable[..., Payload]
) -> None:
    field, prefix = GENERATED_IDS[name]
    pattern = rf"^{prefix}_[0-9a-f]{{16}}$" if prefix else r"^[0-9a-f]{16}$"
    assert re.fullmatch(pattern, build(name)[field])


def test_only_the_reference_types_generate_ids() -> None:
    generated = {
        t.name
        for t in all_types()
        for f in t.fields
        if f.factory is not None and f.name.endswith("_id")
    }
    assert generated == set(GENERATED_IDS)


# --- node fields ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_type_has_a_node_field_unless_the_reference_says_otherwise(name: str) -> None:
    assert get_type(name).has_node is (name not in NODELESS)
    assert ("node" in get_type(name).field_names) is (name not in NODELESS)


def test_nodeless_types_are_the_reference_ones() -> None:
    assert {t.name for t in all_types() if not t.has_node} == NODELESS
    assert {n for n in NAMES if "node" not in REFERENCE_FIELDS[n]} == NODELESS


@pytest.mark.usefixtures("this_node")
@pytest.mark.parametrize("name", sorted(NODE_ARGUMENT))
def test_node_argument_is_the_payloads_node(
    name: str, build: Callable[..., Payload]
) -> None:
    assert build(name, node="node9@far")["node"] == "node9@far"


def test_node_is_a_constructor_argument_exactly_where_the_reference_says() -> None:
    assert {n for n in NAMES if "node" in SAMPLES[n]} == NODE_ARGUMENT


# --- timestamps -----------------------------------------------------------------------------


def test_every_defaulted_time_field_is_one_of_the_reference_ones() -> None:
    defaulted = {
        (t.name, f.name)
        for t in all_types()
        for f in t.fields
        if f.kind is Kind.DATETIME and f.factory is not None and f.name != "timestamp"
    }
    assert defaulted == {
        ("AlertAck", "ack_timestamp"),
        ("ErrorAnalysis", "first_seen"),
        ("ErrorAnalysis", "last_seen"),
    }


# --- required fields ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(VALIDATOR_REQUIRED))
def test_required_fields_are_the_validators_plus_timestamp(name: str) -> None:
    required = get_type(name).required_fields
    assert set(required) == {*VALIDATOR_REQUIRED[name], "timestamp"}


@pytest.mark.parametrize("name", NAMES)
def test_timestamp_is_required_by_every_type(name: str) -> None:
    assert "timestamp" in get_type(name).required_fields


# --- allowed values -------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_allowed_values_match_the_reference(name: str) -> None:
    assert get_type(name).allowed_values == ALLOWED.get(name, {})


# --- severity -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_severity_field_is_the_reference_one(name: str) -> None:
    assert get_type(name).severity_field == SEVERITY_FIELDS.get(name)

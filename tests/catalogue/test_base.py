"""Tests of opsmessaging.catalogue.base: fields, payload types, payloads and the registry.

The behaviour every payload type shares: defaults, generated ids, node and time fields,
validation of each kind of field, the JSON form and severities. Most tests run over every
type of the catalogue, built from the reference's sample arguments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.test import override_settings

from opsmessaging import timestamps
from opsmessaging.catalogue import (
    Kind,
    Payload,
    PayloadType,
    alerts,
    all_types,
    get_type,
    health,
    metrics,
    security,
    system,
)
from opsmessaging.catalogue.base import register, registry, to_json_value
from opsmessaging.categories import Category
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.severity import Severity
from tests.catalogue.reference import (
    ALLOWED,
    GENERATED_IDS,
    NAMES,
    NODE_FROM_OPTIONS,
    NODELESS,
    SEVERITY_FIELDS,
    SOURCE_IP_TYPES,
    TYPES,
    VALIDATOR_REQUIRED,
)

WIRE_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

#: Every (type, enum field, allowed values), read from the catalogue itself.
ENUM_FIELDS = [
    (t.name, name, choices)
    for t in all_types()
    for name, choices in t.allowed_values.items()
]
ENUM_VALUES = [
    (type_name, name, value)
    for type_name, name, choices in ENUM_FIELDS
    for value in choices
]


def now_ms() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def datetime_fields(payload_type: PayloadType) -> list[str]:
    return [f.name for f in payload_type.fields if f.kind is Kind.DATETIME]


# --- the registry ---------------------------------------------------------------------------


def test_register_refuses_a_second_type_with_the_same_name() -> None:
    with pytest.raises(ValueError, match="SystemAlert is already registered"):
        register(alerts.SystemAlert)
    assert len(registry()) == 36


def test_register_refuses_a_second_type_with_the_same_tag() -> None:
    duplicate = PayloadType("SystemAlertCopy", Category.ALERTS, "system_alert", ())
    with pytest.raises(ValueError, match="system_alert is already registered"):
        register(duplicate)
    assert "SystemAlertCopy" not in registry()


# --- fields and constructors ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_payload_holds_exactly_the_fields_of_its_type(
    name: str, build: Callable[..., Payload]
) -> None:
    payload = build(name)
    assert tuple(payload.data) == get_type(name).field_names


@pytest.mark.parametrize("name", NAMES)
def test_constructor_builds_a_payload_of_its_type(
    name: str, build: Callable[..., Payload]
) -> None:
    payload = build(name)
    assert payload.type is get_type(name)
    assert payload.tag == TYPES[name][1]
    assert payload.category == TYPES[name][0]


def test_explicit_none_for_an_optional_field_takes_its_default() -> None:
    payload = system.system_config("database", {"pool_size": 10}, changed_by=None)
    assert payload["changed_by"] == "system"


def test_explicit_option_replaces_a_default() -> None:
    payload = system.system_config(
        "database",
        {"pool_size": 10},
        previous_config={"pool_size": 5},
        changed_by="ops",
    )
    assert payload["previous_config"] == {"pool_size": 5}
    assert payload["changed_by"] == "ops"


def test_mutable_defaults_are_not_shared_between_payloads() -> None:
    first = health.node_health("node1@host", "healthy")
    first["checks"]["disk"] = "ok"
    assert health.node_health("node1@host", "healthy")["checks"] == {}


def test_payload_does_not_alias_the_callers_mapping() -> None:
    changes = {"pool_size": 10}
    payload = system.system_config("database", changes)
    changes["pool_size"] = 99
    assert payload["changes"] == {"pool_size": 10}


def test_payload_get_returns_the_default_for_a_field_it_lacks() -> None:
    payload = alerts.alert_ack("0123456789abcdef", "oncall")
    assert payload.get("node", "none") == "none"
    assert payload.get("ack_by") == "oncall"


def test_notify_contacts_tuple_is_stored_as_a_list() -> None:
    payload = alerts.alert_escalation(
        "0123456789abcdef", "level1", "level2", "late", notify_contacts=("a", "b")
    )
    assert payload["notify_contacts"] == ["a", "b"]


# --- generated ids --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(GENERATED_IDS))
def test_generated_ids_differ_between_payloads(
    name: str, build: Callable[..., Payload]
) -> None:
    field, _ = GENERATED_IDS[name]
    assert build(name)[field] != build(name)[field]


@pytest.mark.parametrize("name", list(GENERATED_IDS))
def test_explicit_id_replaces_the_generated_one(
    name: str, build: Callable[..., Payload]
) -> None:
    field, _ = GENERATED_IDS[name]
    assert build(name, **{field: "given_id"})[field] == "given_id"


# --- node fields ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NODELESS))
def test_nodeless_type_refuses_a_node_option(
    name: str,
    build: Callable[..., Payload],
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: build(name, node="node1@host"))
    assert list(errors) == ["node"]
    assert errors["node"][0].startswith(f"unknown field for {name}")


@pytest.mark.parametrize("name", NODE_FROM_OPTIONS)
def test_node_defaults_to_this_node(
    name: str, build: Callable[..., Payload], this_node: str
) -> None:
    assert build(name)["node"] == this_node


@pytest.mark.usefixtures("this_node")
@pytest.mark.parametrize("name", NODE_FROM_OPTIONS)
def test_explicit_node_wins_over_this_node(
    name: str, build: Callable[..., Payload]
) -> None:
    assert build(name, node="other@elsewhere")["node"] == "other@elsewhere"


def test_node_default_follows_the_setting_at_call_time() -> None:
    with override_settings(OPSMESSAGING={"NODE_NAME": "first@host"}):
        first = metrics.performance_metric("m", 1, "count")
    with override_settings(OPSMESSAGING={"NODE_NAME": "second@host"}):
        second = metrics.performance_metric("m", 1, "count")
    assert (first["node"], second["node"]) == ("first@host", "second@host")


@pytest.mark.parametrize(
    "node", ["bad node", "", "node@", "@host", "a@b@c", "node/1", 42]
)
def test_bad_node_name_is_rejected(
    node: object, errors_of: Callable[..., dict[str, list[str]]]
) -> None:
    errors = errors_of(lambda: metrics.performance_metric("m", 1, "count", node=node))
    assert list(errors) == ["node"]


@pytest.mark.parametrize(
    "node", ["node1", "node1@host", "web-1@10.0.0.5", "ex_esdb@db.example.com"]
)
def test_good_node_name_is_accepted(node: str) -> None:
    assert metrics.performance_metric("m", 1, "count", node=node)["node"] == node


def test_bad_node_in_a_node_list_is_named_by_its_index(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: health.cluster_health("healthy", ["a@h", "bad node"], 2))
    assert list(errors) == ["healthy_nodes[1]"]


# --- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_constructor_stamps_an_aware_utc_millisecond_timestamp_at_call_time(
    name: str,
    build: Callable[..., Payload],
) -> None:
    before = now_ms()
    payload = build(name)
    after = datetime.now(UTC)
    timestamp = payload["timestamp"]
    assert timestamp.tzinfo is UTC
    assert timestamp.microsecond % 1000 == 0
    assert before <= timestamp <= after


def test_ticking_clock_gives_distinct_timestamps(ticking_clock: None) -> None:
    assert timestamps.current_timestamp() != timestamps.current_timestamp()


def test_naive_datetime_is_rejected_for_a_datetime_field(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(
        lambda: health.component_health(
            "store", "node1@host", "healthy", last_check=datetime(2024, 1, 1, 12, 0)
        )
    )
    assert list(errors) == ["last_check"]


def test_aware_non_utc_datetime_is_converted_to_utc_and_truncated() -> None:
    plus_two = timezone(timedelta(hours=2))
    payload = health.component_health(
        "store",
        "node1@host",
        "healthy",
        last_check=datetime(2024, 1, 1, 1, 2, 3, 456789, tzinfo=plus_two),
    )
    assert payload["last_check"] == datetime(2023, 12, 31, 23, 2, 3, 456000, tzinfo=UTC)
    assert payload["last_check"].tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2024-05-06T07:08:09.123456+02:00",
            datetime(2024, 5, 6, 5, 8, 9, 123000, tzinfo=UTC),
        ),
        ("2024-05-06T07:08:09Z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        (
            "2024-05-06T07:08:09.5-01:00",
            datetime(2024, 5, 6, 8, 8, 9, 500000, tzinfo=UTC),
        ),
    ],
)
def test_rfc3339_string_is_accepted_for_a_datetime_field(
    text: str, expected: datetime
) -> None:
    payload = health.component_health("store", "node1@host", "healthy", last_check=text)
    assert payload["last_check"] == expected
    assert payload["last_check"].tzinfo is UTC


@pytest.mark.parametrize("text", ["2024-05-06T07:08:09", "yesterday", ""])
def test_string_without_offset_or_not_a_timestamp_is_rejected(
    text: str, errors_of: Callable[..., dict[str, list[str]]]
) -> None:
    errors = errors_of(
        lambda: health.component_health(
            "store", "node1@host", "healthy", last_check=text
        )
    )
    assert list(errors) == ["last_check"]


def test_non_datetime_is_rejected_for_a_datetime_field(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(
        lambda: health.component_health(
            "store", "node1@host", "healthy", last_check=1700000000
        )
    )
    assert list(errors) == ["last_check"]


# --- required fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field"),
    [(name, field) for name, fields in VALIDATOR_REQUIRED.items() for field in fields],
)
def test_none_for_a_required_field_is_rejected_naming_it(
    name: str,
    field: str,
    build: Callable[..., Payload],
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: build(name, **{field: None}))
    assert errors == {field: ["this field is required"]}


@pytest.mark.parametrize("value", ["", "   "])
def test_blank_required_string_is_rejected(
    value: str, errors_of: Callable[..., dict[str, list[str]]]
) -> None:
    errors = errors_of(lambda: metrics.performance_metric("m", 1, value))
    assert list(errors) == ["unit"]


# --- allowed values -------------------------------------------------------------------------


def test_every_enum_field_of_the_reference_is_enforced() -> None:
    assert len(ENUM_FIELDS) == sum(len(fields) for fields in ALLOWED.values()) == 37


@pytest.mark.parametrize(("name", "field", "value"), ENUM_VALUES)
def test_allowed_value_is_accepted(
    name: str, field: str, value: str, build: Callable[..., Payload]
) -> None:
    assert build(name, **{field: value})[field] == value


@pytest.mark.parametrize(("name", "field", "choices"), ENUM_FIELDS)
def test_unknown_value_of_an_enum_field_is_rejected_naming_it(
    name: str,
    field: str,
    choices: tuple[str, ...],
    build: Callable[..., Payload],
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: build(name, **{field: "not_a_choice"}))
    assert errors == {
        field: [f"'not_a_choice' is not allowed; choose one of: {', '.join(choices)}"]
    }


# --- field validation -----------------------------------------------------------------------


def test_unknown_keyword_is_rejected_naming_it(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: system.system_config("database", {}, colour="blue"))
    assert list(errors) == ["colour"]
    assert errors["colour"][0].startswith("unknown field for SystemConfig")


def test_non_json_value_inside_an_object_is_named_by_its_path(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(
        lambda: health.component_health("c", "n@h", "healthy", details={"x": object()})
    )
    assert errors == {"details.x": ["value of type object is not JSON-serialisable"]}


def test_non_json_value_inside_a_nested_list_is_named_by_its_index(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(
        lambda: system.system_config("database", {"hosts": ["a", {1, 2}]})
    )
    assert list(errors) == ["changes.hosts[1]"]


def test_non_string_object_key_is_rejected(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(
        lambda: health.component_health("c", "n@h", "healthy", details={1: "one"})
    )
    assert list(errors) == ["details"]


def test_naive_datetime_inside_an_object_is_rejected(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(
        lambda: system.system_config("database", {"at": datetime(2024, 1, 1)})
    )
    assert list(errors) == ["changes.at"]


def test_aware_datetime_inside_an_object_becomes_a_wire_timestamp() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    payload = system.system_config("database", {"at": when})
    assert payload["changes"] == {"at": "2024-01-02T03:04:05.678Z"}


@pytest.mark.parametrize("value", ["not a mapping", ["a", 1], 3])
def test_non_mapping_is_rejected_for_an_object_field(
    value: object, errors_of: Callable[..., dict[str, list[str]]]
) -> None:
    assert list(errors_of(lambda: system.system_config("database", value))) == [  # type: ignore[arg-type]
        "changes"
    ]


def test_string_is_rejected_for_a_list_field(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: health.cluster_health("healthy", "node1@host", 1))  # type: ignore[arg-type]
    assert list(errors) == ["healthy_nodes"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_number_is_rejected(
    value: float, errors_of: Callable[..., dict[str, list[str]]]
) -> None:
    errors = errors_of(lambda: health.node_health("n@h", "healthy", load_avg=value))
    assert list(errors) == ["load_avg"]


def test_nan_inside_an_object_is_rejected(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(
        lambda: health.node_health("n@h", "healthy", checks={"a": float("nan")})
    )
    assert list(errors) == ["checks.a"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: metrics.throughput_metric("op", True, 1000), "count"),
        (lambda: health.cluster_health("healthy", [], False), "total_nodes"),
        (
            lambda: alerts.notification_status(
                "a1", "sms", "+1", "sent", attempts=True
            ),
            "attempts",
        ),
        (lambda: metrics.performance_metric("m", True, "count"), "value"),
    ],
    ids=["count", "total_nodes", "attempts", "number-value"],
)
def test_bool_is_rejected_where_a_number_is_expected(
    call: Callable[[], Payload],
    field: str,
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    assert list(errors_of(call)) == [field]


def test_float_is_rejected_where_an_integer_is_expected(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: health.cluster_health("healthy", [], 2.5))  # type: ignore[arg-type]
    assert list(errors) == ["total_nodes"]


def test_string_is_rejected_where_a_bool_is_expected(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: system.feature_toggle("f", "yes", None, "admin"))  # type: ignore[arg-type]
    assert list(errors) == ["enabled"]


def test_identifier_with_a_space_is_rejected(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: health.component_health("event store", "n@h", "healthy"))
    assert list(errors) == ["component"]


@pytest.mark.parametrize("name", SOURCE_IP_TYPES)
def test_source_ip_rejects_a_non_address(
    name: str,
    build: Callable[..., Payload],
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(lambda: build(name, source_ip="not-an-ip"))
    assert errors == {"source_ip": ["'not-an-ip' is not an IPv4 or IPv6 address"]}


@pytest.mark.parametrize(
    ("address", "stored"),
    [("::1", "::1"), ("192.168.0.1", "192.168.0.1"), ("2001:DB8::0:1", "2001:db8::1")],
)
def test_source_ip_accepts_an_address_in_canonical_form(
    address: str, stored: str
) -> None:
    payload = security.auth_event("u", "logout", "token", source_ip=address)
    assert payload["source_ip"] == stored


@pytest.mark.parametrize("address", [3232235777, b"\x7f\x00\x00\x01"])
def test_source_ip_rejects_a_number_or_packed_bytes(
    address: object, errors_of: Callable[..., dict[str, list[str]]]
) -> None:
    errors = errors_of(
        lambda: security.auth_event("u", "logout", "token", source_ip=address)
    )
    assert list(errors) == ["source_ip"]


def test_source_ip_names_match_the_reference_types() -> None:
    assert set(SOURCE_IP_TYPES) == {
        "DataChange",
        "AdminAction",
        "AccessLog",
        "AuthEvent",
        "AccessViolation",
        "SecurityAlert",
        "SessionEvent",
    }
    assert all(
        get_type(name).field_map["source_ip"].kind is Kind.IP_ADDRESS
        for name in SOURCE_IP_TYPES
    )


def test_every_bad_field_is_reported_in_one_error(
    errors_of: Callable[..., dict[str, list[str]]],
) -> None:
    errors = errors_of(
        lambda: security.auth_event(
            None,  # type: ignore[arg-type]
            "hacked",
            "token",
            source_ip="not-an-ip",
            node="bad node",
            bogus=1,
        )
    )
    assert set(errors) == {"user_id", "event_type", "source_ip", "node", "bogus"}


def test_invalid_message_text_names_every_bad_field() -> None:
    with pytest.raises(InvalidMessage) as excinfo:
        metrics.resource_usage("gpu", 101, 8, 4)
    assert excinfo.value.fields == ["resource_type", "usage_percent"]
    assert "resource_type: 'gpu' is not allowed" in str(excinfo.value)
    assert "usage_percent: must be at most 100, got 101" in str(excinfo.value)


# --- JSON form ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_to_json_gives_every_time_field_as_an_rfc3339_millisecond_utc_string(
    name: str,
    build: Callable[..., Payload],
) -> None:
    data = build(name).to_json()
    fields = datetime_fields(get_type(name))
    assert "timestamp" in fields
    for field in fields:
        if data[field] is not None:
            assert WIRE_TIMESTAMP.match(data[field]), (field, data[field])


@pytest.mark.parametrize("name", NAMES)
def test_to_json_round_trips_through_the_json_module(
    name: str, build: Callable[..., Payload]
) -> None:
    data = build(name).to_json()
    assert json.loads(json.dumps(data)) == data


def test_to_json_formats_the_exact_instant() -> None:
    payload = health.component_health(
        "store",
        "n@h",
        "healthy",
        last_check=datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
    )
    assert payload.to_json()["last_check"] == "2024-02-29T23:59:59.999Z"


def test_to_json_pads_milliseconds_to_three_digits() -> None:
    payload = health.component_health(
        "store",
        "n@h",
        "healthy",
        last_check=datetime(2024, 1, 1, 0, 0, 0, 7000, tzinfo=UTC),
    )
    assert payload.to_json()["last_check"] == "2024-01-01T00:00:00.007Z"


def test_to_json_keeps_the_timestamp_instant() -> None:
    payload = metrics.performance_metric("m", 1, "count")
    wire = payload.to_json()["timestamp"]
    assert datetime.fromisoformat(wire) == payload["timestamp"]


def test_to_json_leaves_the_payload_data_untouched() -> None:
    payload = metrics.performance_metric("m", 1, "count")
    payload.to_json()
    assert isinstance(payload["timestamp"], datetime)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (1e16, 10**16),
        (-1e22, -(10**22)),
        (1e23, 10**23),  # the number its JSON text names, not the float's binary value
        (1.2345678901234568e17, 123456789012345680),
        (1.5e300, 15 * 10**299),
    ],
)
def test_floats_written_with_an_exponent_become_the_integer_they_name(value, stored):
    result = to_json_value({"v": [value]}, "payload")["v"][0]
    assert (type(result), result) == (int, stored)


@pytest.mark.parametrize("value", [2.5, 0.1, 1.0, 1e15, 1e-20, -3.75e-7])
def test_other_floats_stay_floats(value):
    assert repr(to_json_value(value, "payload")) == repr(value)


def test_negative_zero_loses_its_sign():
    assert repr(to_json_value(-0.0, "payload")) == "0.0"


# --- severity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "severity"),
    [
        ("SystemAlert", "info", Severity.INFO),
        ("SystemAlert", "warning", Severity.WARNING),
        ("SystemAlert", "error", Severity.ERROR),
        ("SystemAlert", "critical", Severity.CRITICAL),
        ("MetricAlert", "warning", Severity.WARNING),
        ("MetricAlert", "critical", Severity.CRITICAL),
        ("AccessViolation", "low", Severity.INFO),
        ("AccessViolation", "medium", Severity.WARNING),
        ("AccessViolation", "high", Severity.ERROR),
        ("AccessViolation", "critical", Severity.CRITICAL),
        ("SecurityAlert", "high", Severity.ERROR),
        ("PerformanceAnalysis", "low", Severity.INFO),
        ("LogEntry", "debug", Severity.DEBUG),
        ("LogEntry", "info", Severity.INFO),
        ("LogEntry", "warn", Severity.WARNING),
        ("LogEntry", "error", Severity.ERROR),
        ("LogEntry", "critical", Severity.CRITICAL),
    ],
)
def test_severity_of_normalises_the_types_own_scale(
    name: str, value: str, severity: Severity, build: Callable[..., Payload]
) -> None:
    payload = build(name, **{SEVERITY_FIELDS[name]: value})
    assert get_type(name).severity_of(payload.data) is severity


@pytest.mark.parametrize("name", [n for n in NAMES if n not in SEVERITY_FIELDS])
def test_severity_of_a_type_without_severity_is_none(
    name: str, build: Callable[..., Payload]
) -> None:
    payload = build(name)
    assert get_type(name).severity_of(payload.data) is None


def test_severity_of_data_without_the_field_is_none() -> None:
    assert alerts.SystemAlert.severity_of({}) is None

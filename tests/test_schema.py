"""The catalogue as JSON Schema: valid schemas that accept and refuse what the catalogue does."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from opsmessaging import schema
from opsmessaging.catalogue import PayloadType, all_types, get_type
from opsmessaging.catalogue.base import Field, Kind
from opsmessaging.exceptions import InvalidMessage

TYPES = all_types()
TIME = "2026-01-02T03:04:05.678Z"
NO_NUL = r"^[^\u0000]*$"

_SAMPLES: dict[Kind, Any] = {
    Kind.STRING: "x",
    Kind.IDENTIFIER: "store_worker",
    Kind.IP_ADDRESS: "10.0.0.1",
    Kind.NODE: "web1@app-1",
    Kind.INTEGER: 3,
    Kind.NUMBER: 2.5,
    Kind.BOOLEAN: True,
    Kind.OBJECT: {"k": 1},
    Kind.ARRAY: [],
    Kind.DATETIME: TIME,
    Kind.ANY: {"k": [1]},
}

#: Values each kind must refuse, in JSON.
_BAD: dict[Kind, list[Any]] = {
    Kind.STRING: [5, True, [], {}, "a\x00b"],
    Kind.IDENTIFIER: ["has space", "", "x" * 201, 5, "-leading"],
    Kind.IP_ADDRESS: ["999.1.1.1", "host", 5],
    Kind.NODE: ["bad node", "", "a@", "@b", 5],
    Kind.INTEGER: ["3", 1.5, True],
    Kind.NUMBER: ["3", True],
    Kind.BOOLEAN: ["yes", 1],
    Kind.OBJECT: [[], "x", 1],
    Kind.ARRAY: [{}, "x", 1],
    Kind.DATETIME: ["yesterday", "2026-01-02T03:04:05", 5],
    Kind.ANY: [],
}


def sample(field: Field) -> Any:
    """A valid JSON value of ``field``."""
    if field.choices:
        return field.choices[0]
    if field.items is not None:
        item = _SAMPLES[field.items]
        if field.minimum is not None:
            item = field.minimum
        return {"k": item} if field.kind is Kind.OBJECT else [item]
    if field.minimum is not None:
        return int(field.minimum) if field.kind is Kind.INTEGER else field.minimum
    return _SAMPLES[field.kind]


def minimal(payload_type: PayloadType) -> dict[str, Any]:
    """The fields a producer must give, with valid values."""
    required = payload_type_schema(payload_type)["required"]
    return {name: sample(payload_type.field_map[name]) for name in required}


def payload_type_schema(payload_type: PayloadType) -> dict[str, Any]:
    return schema.payload_schema(payload_type)


def validator(payload_type: PayloadType) -> Draft202012Validator:
    return Draft202012Validator(
        payload_type_schema(payload_type),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def catalogue_accepts(payload_type: PayloadType, values: dict[str, Any]) -> bool:
    try:
        payload_type.new(**values)
    except InvalidMessage:
        return False
    return True


@pytest.mark.parametrize("payload_type", TYPES, ids=lambda t: t.name)
def test_every_schema_is_a_valid_2020_12_schema(payload_type):
    Draft202012Validator.check_schema(payload_type_schema(payload_type))


@pytest.mark.parametrize("payload_type", TYPES, ids=lambda t: t.name)
def test_the_fields_a_producer_must_give_are_enough_for_the_catalogue(payload_type):
    values = minimal(payload_type)
    assert validator(payload_type).is_valid(values)
    built = payload_type.new(**values)
    # What is stored (every field, defaults filled in) is valid too.
    assert list(validator(payload_type).iter_errors(built.to_json())) == []


@pytest.mark.parametrize("payload_type", TYPES, ids=lambda t: t.name)
def test_every_field_set_to_a_sample_is_accepted_by_both(payload_type):
    values = {f.name: sample(f) for f in payload_type.fields}
    assert validator(payload_type).is_valid(values)
    assert catalogue_accepts(payload_type, values)


@pytest.mark.parametrize("payload_type", TYPES, ids=lambda t: t.name)
def test_schema_and_catalogue_refuse_the_same_bad_values(payload_type):
    check = validator(payload_type)
    base = minimal(payload_type)
    disagreements = []
    for field in payload_type.fields:
        bad_values = [*_BAD[field.kind], *([None] if field.required else [])]
        if field.choices:
            bad_values.append("not-a-choice")
        if field.minimum is not None and field.items is None:
            bad_values.append(field.minimum - 1)
        if field.items is not None:
            bad_item = _BAD[field.items][0]
            bad_values.append(
                {"k": bad_item} if field.kind is Kind.OBJECT else [bad_item]
            )
        for value in bad_values:
            values = {**base, field.name: value}
            by_schema, by_catalogue = (
                check.is_valid(values),
                catalogue_accepts(payload_type, values),
            )
            if by_schema != by_catalogue:
                disagreements.append((field.name, value, by_schema, by_catalogue))
    assert disagreements == []


@pytest.mark.parametrize("payload_type", TYPES, ids=lambda t: t.name)
def test_schema_and_catalogue_refuse_an_unknown_field(payload_type):
    values = {**minimal(payload_type), "not_a_field": 1}
    assert not validator(payload_type).is_valid(values)
    assert not catalogue_accepts(payload_type, values)


@pytest.mark.parametrize("payload_type", TYPES, ids=lambda t: t.name)
def test_a_missing_required_field_is_refused_by_both(payload_type):
    for name in payload_type_schema(payload_type)["required"]:
        values = {k: v for k, v in minimal(payload_type).items() if k != name}
        assert not validator(payload_type).is_valid(values), name
        assert not catalogue_accepts(payload_type, values), name


def test_payload_schema_of_system_alert():
    assert schema.payload_schema("SystemAlert") == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:opsmessaging:payload:SystemAlert:1",
        "title": "SystemAlert",
        "description": "Something needs attention.",
        "type": "object",
        "properties": {
            "alert_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.:@/\-]*$",
            },
            "severity": {
                "type": "string",
                "pattern": NO_NUL,
                "enum": ["info", "warning", "error", "critical"],
            },
            "category": {
                "type": "string",
                "pattern": NO_NUL,
                "enum": ["system", "performance", "security", "data", "network"],
            },
            "title": {
                "type": "string",
                "pattern": r"^[^\u0000]*[^\s\u0000][^\u0000]*$",
                "minLength": 1,
            },
            "description": {"type": ["string", "null"], "pattern": NO_NUL},
            "source": {
                "type": ["string", "null"],
                "pattern": NO_NUL,
                "default": "opsmessaging",
            },
            "node": {
                "type": ["string", "null"],
                "minLength": 1,
                "maxLength": 255,
                "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(@[A-Za-z0-9_][A-Za-z0-9_.\-]*)?$",
                "description": "The node the message is about or comes from.",
            },
            "metadata": {"type": ["object", "null"], "default": {}},
            "requires_ack": {
                "type": ["boolean", "null"],
                "description": "Defaults to severity in error/critical.",
            },
            "alert_type": {
                "type": ["string", "null"],
                "minLength": 1,
                "maxLength": 200,
                "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.:@/\-]*$",
                "description": "The kind of alert, e.g. node_failure.",
            },
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "description": "When the message was created (UTC, millisecond precision).",
            },
        },
        "required": ["severity", "category", "title"],
        "additionalProperties": False,
    }


def test_list_and_mapping_items_and_their_bounds():
    cluster = schema.payload_schema("ClusterHealth")["properties"]
    assert cluster["healthy_nodes"]["items"]["pattern"].startswith("^[A-Za-z0-9_]")
    assert cluster["total_nodes"] == {"type": "integer", "minimum": 0}
    counts = schema.payload_schema("LogSummary")["properties"]["log_counts"]
    assert counts["additionalProperties"] == {"type": "integer", "minimum": 0}


def test_describe_type_gives_the_envelope_facts():
    entry = schema.describe_type("ComponentHealth")
    assert {k: v for k, v in entry.items() if k != "schema"} == {
        "name": "ComponentHealth",
        "category": "health",
        "tag": "component_health_updated",
        "version": 2,
        "description": get_type("ComponentHealth").description,
        "default_topic": "component_health",
        "severity_field": None,
        "fields": list(get_type("ComponentHealth").field_names),
        "required_fields": list(get_type("ComponentHealth").required_fields),
        "allowed_values": {"status": ["healthy", "degraded", "unhealthy"]},
    }


def test_a_computed_default_topic_is_null():
    assert schema.describe_type("SystemAlert")["default_topic"] is None


def test_describe_catalogue_lists_every_type_in_category_order():
    assert [e["name"] for e in schema.describe_catalogue()] == [t.name for t in TYPES]


def test_schema_id_names_type_and_version():
    assert schema.schema_id("NodeHealth", 2) == "urn:opsmessaging:payload:NodeHealth:2"


# --- versions, validation on write, publication -----------------------------------------


def test_older_versions_have_their_own_schema():
    from opsmessaging.schema import payload_schema

    v1 = payload_schema("ComponentHealth", 1)
    v2 = payload_schema("ComponentHealth")
    assert v1["$id"] == "urn:opsmessaging:payload:ComponentHealth:1"
    assert v2["$id"] == "urn:opsmessaging:payload:ComponentHealth:2"
    assert set(v2["properties"]) - set(v1["properties"]) == {"store_id"}
    with pytest.raises(InvalidMessage):
        payload_schema("ComponentHealth", 3)


def test_the_schema_is_the_last_check_before_storing():
    from opsmessaging.catalogue import health
    from opsmessaging.envelope import Envelope

    payload = health.component_health("c", "n1", "healthy")
    payload.data["status"] = "fine"  # changed after the catalogue validated it
    with pytest.raises(InvalidMessage) as error:
        Envelope.from_payload(payload)
    assert list(error.value.errors) == ["status"]
    assert error.value.errors["status"][0].startswith("schema: ")


def test_validate_json_names_nested_fields():
    from opsmessaging.schema import validate_json

    with pytest.raises(InvalidMessage) as error:
        validate_json(
            "LogSummary", 1, {"time_period": "1h", "log_counts": {"error": -1}}
        )
    assert "log_counts.error" in error.value.errors


def test_opsmessaging_schemas_writes_every_type_and_version(tmp_path):
    import json

    from django.core.management import call_command

    call_command("opsmessaging_schemas", "--out", str(tmp_path / "schemas"))
    files = sorted(p.name for p in (tmp_path / "schemas").iterdir())
    assert len(files) == 38  # 37 schemas and index.json
    assert "ComponentHealth.v1.schema.json" in files
    assert "ComponentHealth.v2.schema.json" in files
    document = json.loads(
        (tmp_path / "schemas" / "SystemAlert.v1.schema.json").read_text()
    )
    assert document["$id"] == "urn:opsmessaging:payload:SystemAlert:1"
    index = json.loads((tmp_path / "schemas" / "index.json").read_text())
    assert len(index) == 36


def test_opsmessaging_schemas_reports_an_unwritable_directory(tmp_path):
    from django.core.management import CommandError, call_command

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CommandError) as error:
        call_command("opsmessaging_schemas", "--out", str(blocker / "sub"))
    assert "cannot write schemas" in str(error.value)

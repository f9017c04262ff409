"""The catalogue as JSON Schema (draft 2020-12), generated from its ``Field`` declarations.

The only place where a payload type becomes a JSON Schema: the API's ``types/`` endpoint
publishes these, and anything that validates or publishes schemas should build on them.

A payload schema describes both what a producer sends and what is stored: ``required``
lists the fields a producer must give (required, with no default); a field the catalogue
requires is never null; the others may be null or absent and take their default. No string may contain U+0000;
the schemas say so for string fields but not inside free-form objects.
"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema_rs

from opsmessaging.catalogue import PayloadType, all_types, get_type
from opsmessaging.catalogue.base import (
    IDENTIFIER_MAX_LENGTH,
    IDENTIFIER_PATTERN,
    Field,
    Kind,
)
from opsmessaging.catalogue.samples import samples
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.nodenames import NODE_NAME_MAX_LENGTH, NODE_NAME_PATTERN

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:opsmessaging:payload:"

#: No string may hold U+0000 (PostgreSQL cannot store it); a required one not only space.
_NO_NUL = r"^[^\u0000]*$"
_NOT_BLANK = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"

_KIND_SCHEMAS: dict[Kind, dict[str, Any]] = {
    Kind.STRING: {"type": "string", "pattern": _NO_NUL},
    Kind.IDENTIFIER: {
        "type": "string",
        "minLength": 1,
        "maxLength": IDENTIFIER_MAX_LENGTH,
        "pattern": IDENTIFIER_PATTERN,
    },
    Kind.IP_ADDRESS: {
        "type": "string",
        "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
    },
    Kind.NODE: {
        "type": "string",
        "minLength": 1,
        "maxLength": NODE_NAME_MAX_LENGTH,
        "pattern": NODE_NAME_PATTERN,
    },
    Kind.INTEGER: {"type": "integer"},
    Kind.NUMBER: {"type": "number"},
    Kind.BOOLEAN: {"type": "boolean"},
    Kind.OBJECT: {"type": "object"},
    Kind.ARRAY: {"type": "array"},
    Kind.DATETIME: {"type": "string", "format": "date-time"},
    Kind.ANY: {},
}


def _value_schema(kind: Kind, *, non_blank: bool) -> dict[str, Any]:
    schema = dict(_KIND_SCHEMAS[kind])
    if kind is Kind.STRING and non_blank:
        schema.update(minLength=1, pattern=_NOT_BLANK)
    return schema


def _bounds(field: Field) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    if field.minimum is not None:
        bounds["minimum"] = field.minimum
    if field.exclusive_minimum is not None:
        bounds["exclusiveMinimum"] = field.exclusive_minimum
    if field.maximum is not None:
        bounds["maximum"] = field.maximum
    return bounds


def has_default(field: Field) -> bool:
    """Tell whether ``field`` is filled in when a producer leaves it out."""
    return field.factory is not None or field.default is not None


def field_schema(field: Field) -> dict[str, Any]:
    """Return the JSON Schema of one payload field."""
    # A required string must not be blank; with choices the enum already says so.
    schema = _value_schema(field.kind, non_blank=field.required and not field.choices)
    if field.items is not None:
        # Items are always required values: a list or mapping never holds nulls.
        item = {**_value_schema(field.items, non_blank=True), **_bounds(field)}
        key = "additionalProperties" if field.kind is Kind.OBJECT else "items"
        schema[key] = item
    else:
        schema.update(_bounds(field))
    if field.choices:
        schema["enum"] = list(field.choices)
    if field.required and field.kind is Kind.ANY:
        schema["not"] = {"type": "null"}
    if not field.required and field.kind is not Kind.ANY:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    if field.description:
        schema["description"] = field.description
    if field.factory is None and field.default is not None:
        schema["default"] = field.default
    return schema


def schema_id(payload_type: str, version: int) -> str:
    """Return the ``$id`` of a payload type's schema, e.g. ``urn:opsmessaging:payload:X:1``."""
    return f"{ID_PREFIX}{payload_type}:{version}"


def payload_schema(
    payload_type: PayloadType | str, version: int | None = None
) -> dict[str, Any]:
    """Return the JSON Schema of one payload type (``"SystemAlert"`` or the type itself),
    of its current version or of an older ``version`` (fields added later left out)."""
    kind = get_type(payload_type)
    version = kind.version if version is None else version
    if not 1 <= version <= kind.version:
        raise InvalidMessage(f"{kind.name} has versions 1 to {kind.version}", "version")
    fields = [f for f in kind.fields if f.since <= version]
    return {
        "$schema": DIALECT,
        "$id": schema_id(kind.name, version),
        "title": kind.name,
        "description": kind.description,
        "type": "object",
        "properties": {f.name: field_schema(f) for f in fields},
        "required": [f.name for f in fields if f.required and not has_default(f)],
        "additionalProperties": False,
    }


@functools.cache
def _validator(payload_type: str, version: int) -> Any:
    return jsonschema_rs.validator_for(
        payload_schema(payload_type, version), validate_formats=True
    )


def validate_json(payload_type: str, version: int, data: Any) -> None:
    """Check JSON payload data against its type's schema; ``InvalidMessage`` names each
    bad field (``details.when``) when it does not conform."""
    validator = _validator(payload_type, version)
    if validator.is_valid(data):
        return
    errors: dict[str, list[str]] = {}
    for error in validator.iter_errors(data):
        path = ".".join(str(part) for part in error.instance_path) or "payload"
        errors.setdefault(path, []).append(f"schema: {error.message}")
    raise InvalidMessage(errors)


def all_schemas() -> dict[str, dict[str, Any]]:
    """Return every schema of every payload type and version, by file name stem
    (``ComponentHealth.v1``)."""
    return {
        f"{kind.name}.v{version}": payload_schema(kind, version)
        for kind in all_types()
        for version in range(1, kind.version + 1)
    }


def check_schemas() -> dict[str, Any]:
    """Compile every schema and validate one stored-shape sample of each category."""
    schemas = all_schemas()
    for kind in all_types():
        for version in range(1, kind.version + 1):
            _validator(kind.name, version)
    outcomes = {}
    for category, build in samples().items():
        payload = build()
        try:
            validate_json(payload.type.name, payload.type.version, payload.to_json())
            outcomes[category.value] = "ok"
        except InvalidMessage as exc:
            outcomes[category.value] = f"error: {exc}"
    return {
        "schemas": len(schemas),
        "payload_types": len(all_types()),
        "samples": outcomes,
    }


def describe_type(payload_type: PayloadType | str) -> dict[str, Any]:
    """Return a payload type's catalogue entry: its envelope facts plus its JSON Schema."""
    kind = get_type(payload_type)
    return {
        "name": kind.name,
        "category": kind.category.value,
        "tag": kind.tag,
        "version": kind.version,
        "description": kind.description,
        # A default topic computed from the payload (e.g. an alert's type) is null here.
        "default_topic": None if callable(kind.default_topic) else kind.default_topic,
        "severity_field": kind.severity_field,
        "fields": list(kind.field_names),
        "required_fields": list(kind.required_fields),
        "allowed_values": {
            name: list(values) for name, values in kind.allowed_values.items()
        },
        "schema": payload_schema(kind),
    }


def describe_catalogue() -> list[dict[str, Any]]:
    """Return every payload type's entry, grouped by category in the categories' order."""
    return [describe_type(kind) for kind in all_types()]

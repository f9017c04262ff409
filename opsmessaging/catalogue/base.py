"""Payload types: their fields, defaults, tags, required fields and allowed values.

A ``PayloadType`` is the declaration of one of the original's structs; ``PayloadType.new``
builds a validated ``Payload`` of it. Every rule about a payload's shape lives here.
"""

from __future__ import annotations

import copy
import decimal
import enum
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from opsmessaging.categories import Category
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.nodenames import is_node_name, this_node
from opsmessaging.severity import Severity, normalise_severity
from opsmessaging.timestamps import (
    current_timestamp,
    format_timestamp,
    parse_timestamp,
    truncate_to_milliseconds,
)

IDENTIFIER_MAX_LENGTH = 200
#: A name (component, metric, ...), also published in the JSON Schemas.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:@/\-]*$"
_IDENTIFIER_RE = re.compile(IDENTIFIER_PATTERN)


class Kind(enum.StrEnum):
    """The value kinds a payload field can hold."""

    STRING = "string"
    IDENTIFIER = "identifier"  # a name: component, metric, feature, operation
    IP_ADDRESS = "ip_address"
    NODE = "node"  # a node name, "name" or "name@host"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    OBJECT = "object"
    ARRAY = "array"
    DATETIME = "datetime"
    ANY = "any"


def to_json_value(value: Any, path: str) -> Any:
    """Return ``value`` as plain JSON data, or raise ``InvalidMessage`` naming ``path``.

    Aware datetimes become wire timestamps, enums their values, tuples lists.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text(value, path)
    if isinstance(value, enum.Enum):
        return to_json_value(value.value, path)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidMessage(
                f"{value!r} is not a finite number (JSON has no NaN/Infinity)", path
            )
        return _as_stored(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidMessage("naive datetime: give an aware datetime (UTC)", path)
        return format_timestamp(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if isinstance(key, enum.Enum):
                key = key.value
            if not isinstance(key, str):
                raise InvalidMessage(f"object keys must be strings, got {key!r}", path)
            out[_text(key, path)] = to_json_value(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [
            to_json_value(item, f"{path}[{index}]") for index, item in enumerate(value)
        ]
    raise InvalidMessage(
        f"value of type {type(value).__name__} is not JSON-serialisable", path
    )


def _as_stored(number: float) -> float | int:
    """Return ``number`` as a JSON store gives it back, so that signatures still verify.

    PostgreSQL's ``jsonb`` keeps numbers as decimals: ``1e+16`` comes back as the integer
    ``10000000000000000`` and ``-0.0`` as ``0.0``. Floats that large are whole numbers, so
    they become the integer their JSON text names; zero loses its sign.
    """
    if number == 0:
        return 0.0
    text = repr(number)
    if "e+" in text:
        return int(decimal.Decimal(text))
    return number


def _text(value: str, path: str) -> str:
    """Return ``value`` if every database can store it: UTF-8 text without NUL."""
    if "\x00" in value:
        raise InvalidMessage("must not contain the NUL character (U+0000)", path)
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise InvalidMessage(
                "contains a lone surrogate: not valid Unicode text", path
            ) from None
    return value


@dataclass(frozen=True)
class Field:
    """One field of a payload type."""

    name: str
    kind: Kind
    required: bool = False
    choices: tuple[str, ...] = ()
    items: Kind | None = None
    default: Any = None
    factory: Callable[[], Any] | None = None
    description: str = ""
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    #: The payload type version that introduced this field.
    since: int = 1

    def initial(self) -> Any:
        """Return this field's default value (a fresh copy)."""
        return self.factory() if self.factory else copy.deepcopy(self.default)

    def clean(self, value: Any, path: str) -> Any:
        """Return ``value`` validated and normalised, or raise ``InvalidMessage``."""
        if value is None:
            if self.required:
                raise InvalidMessage("this field is required", path)
            return None
        if isinstance(value, enum.Enum) and self.kind is not Kind.ANY:
            value = value.value
        value = _clean_kind(self.kind, value, path, self.required)
        if self.choices and value not in self.choices:
            raise InvalidMessage(
                f"{value!r} is not allowed; choose one of: {', '.join(self.choices)}",
                path,
            )
        if self.items is not None and isinstance(value, dict):
            value = {
                k: _clean_kind(self.items, v, f"{path}.{k}", True)
                for k, v in value.items()
            }
        elif self.items is not None:
            value = [
                _clean_kind(self.items, item, f"{path}[{i}]", True)
                for i, item in enumerate(value)
            ]
        # The bounds of a list or mapping field with ``items`` apply to each item.
        if self.items is None:
            self._check_bounds(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                self._check_bounds(item, f"{path}.{key}")
        else:
            for index, item in enumerate(value):
                self._check_bounds(item, f"{path}[{index}]")
        return value

    def _check_bounds(self, value: Any, path: str) -> None:
        if self.minimum is not None and value < self.minimum:
            raise InvalidMessage(
                f"must be at least {self.minimum:g}, got {value!r}", path
            )
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            raise InvalidMessage(
                f"must be greater than {self.exclusive_minimum:g}, got {value!r}", path
            )
        if self.maximum is not None and value > self.maximum:
            raise InvalidMessage(
                f"must be at most {self.maximum:g}, got {value!r}", path
            )


def _clean_kind(kind: Kind, value: Any, path: str, required: bool) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    if kind is Kind.STRING:
        if not isinstance(value, str):
            raise InvalidMessage(f"must be a string, got {type(value).__name__}", path)
        if required and not value.strip():
            raise InvalidMessage("must not be empty", path)
        return _text(value, path)
    if kind is Kind.IDENTIFIER:
        if (
            not isinstance(value, str)
            or len(value) > IDENTIFIER_MAX_LENGTH
            or _IDENTIFIER_RE.match(value) is None
        ):
            raise InvalidMessage(
                f"{value!r} is not a name: use 1 to {IDENTIFIER_MAX_LENGTH} letters, digits "
                "and '_', '.', ':', '@', '/', '-'",
                path,
            )
        return value
    if kind is Kind.IP_ADDRESS:
        if not isinstance(value, str | ipaddress.IPv4Address | ipaddress.IPv6Address):
            # ip_address() would also turn an int or 4 raw bytes into an address
            raise InvalidMessage(
                f"must be an IP address string, got {type(value).__name__}", path
            )
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise InvalidMessage(
                f"{value!r} is not an IPv4 or IPv6 address", path
            ) from None
    if kind is Kind.NODE:
        if not is_node_name(value):
            raise InvalidMessage(
                f"{value!r} is not a node name (non-empty; letters, digits, '_', '.', '-', "
                "optionally '@host')",
                path,
            )
        return value
    if kind is Kind.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidMessage(
                f"must be an integer, got {type(value).__name__}", path
            )
        return value
    if kind is Kind.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidMessage(f"must be a number, got {type(value).__name__}", path)
        return to_json_value(value, path)
    if kind is Kind.BOOLEAN:
        if not isinstance(value, bool):
            raise InvalidMessage(
                f"must be true or false, got {type(value).__name__}", path
            )
        return value
    if kind is Kind.OBJECT:
        if not isinstance(value, Mapping):
            raise InvalidMessage(
                f"must be an object (mapping), got {type(value).__name__}", path
            )
        return to_json_value(value, path)
    if kind is Kind.ARRAY:
        if not isinstance(value, list | tuple):
            raise InvalidMessage(f"must be a list, got {type(value).__name__}", path)
        return to_json_value(value, path)
    if kind is Kind.DATETIME:
        if isinstance(value, str):
            return parse_timestamp(value, path)
        if not isinstance(value, datetime):
            raise InvalidMessage(
                f"must be a datetime, got {type(value).__name__}", path
            )
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidMessage("naive datetime: give an aware datetime (UTC)", path)
        return truncate_to_milliseconds(value)
    return to_json_value(value, path)


def node_field(required: bool = False, description: str = "") -> Field:
    """Return the ``node`` field, defaulting to this node's name."""
    return Field(
        "node",
        Kind.NODE,
        required=required,
        factory=this_node,
        description=description or "The node the message is about or comes from.",
    )


def timestamp_field() -> Field:
    """Return the ``timestamp`` field: UTC, truncated to milliseconds, set at construction."""
    return Field(
        "timestamp",
        Kind.DATETIME,
        required=True,
        factory=current_timestamp,
        description="When the message was created (UTC, millisecond precision).",
    )


@dataclass(frozen=True)
class PayloadType:
    """The declaration of one payload type (one of the original's structs)."""

    name: str
    category: Category
    tag: str
    fields: tuple[Field, ...]
    description: str = ""
    default_topic: str | Callable[[Mapping[str, Any]], str] = ""
    severity_field: str | None = None
    # Computes fields derived from others (e.g. a rate), after validation.
    derive: Callable[[dict[str, Any]], None] | None = None
    #: The current version; changing the shape means a new version and an upcaster.
    version: int = 1
    #: ``{n: f}``: ``f`` turns the JSON payload of version ``n`` into version ``n + 1``.
    upcasters: Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]] = field(
        default_factory=dict
    )

    @cached_property
    def field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def allowed_values(self) -> dict[str, tuple[str, ...]]:
        return {f.name: f.choices for f in self.fields if f.choices}

    @property
    def has_node(self) -> bool:
        return "node" in self.field_map

    def new(self, /, **values: Any) -> Payload:
        """Build a validated payload: defaults for absent fields, ``InvalidMessage`` if bad."""
        unknown = [name for name in values if name not in self.field_map]
        now = current_timestamp()  # every defaulted time field of one payload shares it
        # An absent or None field takes its default, except that an explicit None for a
        # required field stays None and is reported missing (nil counts as missing).
        data = {
            f.name: values[f.name]
            if values.get(f.name) is not None or (f.required and f.name in values)
            else (now if f.factory is current_timestamp else f.initial())
            for f in self.fields
        }
        cleaned = self.clean(data, unknown=unknown)
        if self.derive is not None:
            self.derive(cleaned)  # fills computed fields from already validated ones
        return Payload(self, cleaned)

    def upcast(self, version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Return a stored JSON payload of ``version`` in the current version's shape."""
        if not 1 <= version <= self.version:
            raise InvalidMessage(
                f"{self.name} has versions 1 to {self.version}, not {version}",
                "version",
            )
        for step in range(version, self.version):
            data = self.upcasters[step](data)
        return data

    def topic_for(self, data: Mapping[str, Any]) -> str:
        """Return the default topic of a payload of this type."""
        if callable(self.default_topic):
            return self.default_topic(data)
        return self.default_topic

    def clean(
        self, data: Mapping[str, Any], unknown: list[str] | None = None
    ) -> dict[str, Any]:
        """Return ``data`` validated and normalised; collect every field's error."""
        errors: dict[str, list[str]] = {
            name: [
                f"unknown field for {self.name}; its fields are: {', '.join(self.field_names)}"
            ]
            for name in unknown or ()
        }
        cleaned: dict[str, Any] = {}
        for f in self.fields:
            try:
                cleaned[f.name] = f.clean(data.get(f.name), f.name)
            except InvalidMessage as exc:
                for name, reasons in exc.errors.items():
                    errors.setdefault(name, []).extend(reasons)
        if errors:
            raise InvalidMessage(errors)
        return cleaned

    def severity_of(self, data: Mapping[str, Any]) -> Severity | None:
        """Return the normalised severity of a payload of this type, if the type has one."""
        if self.severity_field is None or data.get(self.severity_field) is None:
            return None
        return normalise_severity(data[self.severity_field], self.severity_field)


@dataclass(frozen=True)
class Payload:
    """A validated payload of one catalogue type; ``data`` holds its fields."""

    type: PayloadType
    data: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.data[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)

    @property
    def tag(self) -> str:
        return self.type.tag

    @property
    def category(self) -> Category:
        return self.type.category

    def to_json(self) -> dict[str, Any]:
        """Return the payload as plain JSON data (timestamps in wire form)."""
        return to_json_value(self.data, "payload")  # type: ignore[no-any-return]


_REGISTRY: dict[str, PayloadType] = {}


def register(payload_type: PayloadType) -> PayloadType:
    """Add ``payload_type`` to the catalogue; names and tags must be unique."""
    if payload_type.name in _REGISTRY:
        raise ValueError(f"payload type {payload_type.name} is already registered")
    if any(t.tag == payload_type.tag for t in _REGISTRY.values()):
        raise ValueError(f"message tag {payload_type.tag} is already registered")
    _REGISTRY[payload_type.name] = payload_type
    return payload_type


def registry() -> dict[str, PayloadType]:
    return _REGISTRY

"""Exceptions raised by opsmessaging."""

from __future__ import annotations

from collections.abc import Mapping


class OpsMessagingError(Exception):
    """Raised when opsmessaging cannot do what was asked; base of all its errors."""


class InvalidMessage(OpsMessagingError, ValueError):
    """Raised when a message, payload or argument fails validation; nothing is stored.

    ``errors`` maps each bad field (dotted for nested ones, e.g. ``details.when`` or
    ``events[2].severity``) to the reasons it was refused.
    """

    default_detail = "Invalid operational message."
    default_code = "invalid"

    def __init__(
        self, errors: Mapping[str, str | list[str]] | str, field: str | None = None
    ):
        if isinstance(errors, str):
            errors = {field or "non_field_errors": [errors]}
        self.errors: dict[str, list[str]] = {
            name: [reasons] if isinstance(reasons, str) else list(reasons)
            for name, reasons in errors.items()
        }
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [
            f"{name}: {'; '.join(reasons)}" for name, reasons in self.errors.items()
        ]
        return f"{self.default_detail} " + " | ".join(parts)

    @property
    def fields(self) -> list[str]:
        return list(self.errors)

    def prefixed(self, prefix: str) -> InvalidMessage:
        """Return a copy whose field names are nested under ``prefix``."""
        return type(self)(
            {f"{prefix}.{name}": reasons for name, reasons in self.errors.items()}
        )


class UnknownCategory(InvalidMessage):
    """Raised when a category is not one of the nine operational categories."""

    default_detail = "Unknown or out-of-scope category."
    default_code = "unknown_category"


class ImmutableMessage(OpsMessagingError):
    """Raised when code tries to change a stored message; messages are append-only."""


class MissingFields(InvalidMessage):
    """Raised when required fields are absent or None (the original's ``missing_fields``)."""

    default_detail = "Missing required fields."
    default_code = "missing_fields"


class InvalidNodeFields(InvalidMessage):
    """Raised when a node field is not a node name (the original's ``invalid_node_fields``)."""

    default_detail = "Invalid node fields."
    default_code = "invalid_node_fields"


class InvalidTimestamp(InvalidMessage):
    """Raised when a timestamp is not an aware datetime (the original's ``invalid_timestamp``)."""

    default_detail = "Invalid timestamp."
    default_code = "invalid_timestamp"

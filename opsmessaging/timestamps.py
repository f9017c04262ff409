"""Millisecond UTC timestamps: the only form a message's time takes.

A timestamp is an aware ``datetime`` in UTC truncated to whole milliseconds; on the wire
it is RFC 3339 with three fractional digits and ``Z`` (``2026-11-27T07:19:35.486Z``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from opsmessaging.exceptions import InvalidTimestamp

# The real class, even where tests replace ``datetime`` to fake now().
_DATETIME = datetime


def current_timestamp() -> datetime:
    """Return the current UTC time as an aware datetime truncated to milliseconds."""
    return truncate_to_milliseconds(datetime.now(UTC))


def truncate_to_milliseconds(value: datetime) -> datetime:
    """Return ``value`` in UTC with its microseconds truncated to whole milliseconds."""
    if not isinstance(value, _DATETIME):
        raise InvalidTimestamp(
            f"must be a datetime, got {type(value).__name__}", "timestamp"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTimestamp(
            "naive datetime: give an aware datetime (UTC)", "timestamp"
        )
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise InvalidTimestamp(
            f"{value!r} is out of range in UTC", "timestamp"
        ) from None
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def format_timestamp(value: datetime) -> str:
    """Return the wire form of a datetime: RFC 3339, UTC, three fractional digits, ``Z``."""
    value = truncate_to_milliseconds(value)
    # isoformat, unlike strftime("%Y"), writes years before 1000 with four digits.
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_timestamp(value: str, field: str = "timestamp") -> datetime:
    """Parse an RFC 3339 timestamp with an offset into an aware UTC datetime (ms)."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidTimestamp(
            f"{value!r} is not an RFC 3339 timestamp", field
        ) from None
    if parsed.tzinfo is None:
        raise InvalidTimestamp(f"{value!r} has no UTC offset", field)
    return truncate_to_milliseconds(parsed)

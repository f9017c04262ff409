"""Millisecond UTC timestamps: the only form a message's time takes.

A timestamp is an aware ``datetime`` in UTC truncated to whole milliseconds; on the wire
it is RFC 3339 with three fractional digits and ``Z`` (``2026-11-27T07:19:35.486Z``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsmessaging.conf import conf
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


def check_clock_skew(value: datetime, field: str = "timestamp") -> datetime:
    """Return ``value`` if it lies within the accepted skew of this server's clock, else
    raise ``InvalidTimestamp`` naming ``field``: at most ``TIMESTAMP_MAX_AHEAD`` ms ahead
    and ``TIMESTAMP_MAX_AGE`` ms behind (None: no bound)."""
    now = datetime.now(UTC)
    ahead = timedelta(milliseconds=conf.TIMESTAMP_MAX_AHEAD)
    if value > now + ahead:
        raise InvalidTimestamp(
            f"{format_timestamp(value)} lies {_describe(value - now)} ahead of this "
            f"server's clock; at most {_describe(ahead)} (TIMESTAMP_MAX_AHEAD) is accepted",
            field,
        )
    max_age = conf.TIMESTAMP_MAX_AGE
    if max_age is not None and value < now - timedelta(milliseconds=max_age):
        raise InvalidTimestamp(
            f"{format_timestamp(value)} lies {_describe(now - value)} behind this "
            f"server's clock; at most {_describe(timedelta(milliseconds=max_age))} "
            "(TIMESTAMP_MAX_AGE) is accepted",
            field,
        )
    return value


def _describe(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds >= 2 * 86_400:
        return f"{seconds // 86_400:.0f} days"
    if seconds >= 120:
        return f"{seconds // 60:.0f} minutes"
    return f"{seconds:.0f} seconds"

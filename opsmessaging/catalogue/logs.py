"""Logging category: log entries, summaries, filters and rotations."""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from opsmessaging import categories as c
from opsmessaging.catalogue.base import (
    Field,
    Kind,
    Payload,
    PayloadType,
    node_field,
    register,
    timestamp_field,
)
from opsmessaging.categories import Category
from opsmessaging.nodenames import generate_hex_id, this_node

LOG_LEVELS = ("debug", "info", "warn", "error", "critical")
FILTER_TYPES = ("level", "module", "pattern", "node")
FILTER_ACTIONS = ("include", "exclude", "rate_limit")


def _total_logs(data: dict[str, Any]) -> None:
    if data.get("total_logs") is None:
        data["total_logs"] = sum(data["log_counts"].values())


LogEntry = register(
    PayloadType(
        "LogEntry",
        Category.LOGGING,
        "log_entry",
        (
            Field(
                "log_id",
                Kind.IDENTIFIER,
                required=True,
                factory=partial(generate_hex_id, "log"),
            ),
            Field("level", Kind.STRING, required=True, choices=LOG_LEVELS),
            Field("message", Kind.STRING, required=True),
            Field("module", Kind.STRING, required=True),
            Field("function", Kind.STRING),
            Field("line", Kind.INTEGER, minimum=0),
            node_field(),
            Field("pid", Kind.STRING, factory=lambda: str(os.getpid())),
            Field("metadata", Kind.OBJECT, default={}),
            timestamp_field(),
        ),
        "One log record.",
        default_topic=c.APPLICATION_LOGS_TOPIC,
        severity_field="level",
    )
)

LogSummary = register(
    PayloadType(
        "LogSummary",
        Category.LOGGING,
        "log_summary",
        (
            Field(
                "summary_id",
                Kind.IDENTIFIER,
                required=True,
                factory=partial(generate_hex_id, "summary"),
            ),
            Field("time_period", Kind.STRING, required=True),
            Field(
                "log_counts", Kind.OBJECT, required=True, items=Kind.INTEGER, minimum=0
            ),
            Field("top_errors", Kind.ARRAY, default=[]),
            Field("error_rate", Kind.NUMBER, default=0.0, minimum=0),
            Field(
                "nodes_reporting",
                Kind.ARRAY,
                items=Kind.NODE,
                factory=lambda: [this_node()],
            ),
            Field(
                "total_logs",
                Kind.INTEGER,
                minimum=0,
                description="Defaults to the sum of log_counts.",
            ),
            timestamp_field(),
        ),
        "How many log records of each level arrived in a period.",
        default_topic=c.LOG_SUMMARIES_TOPIC,
        derive=_total_logs,
    )
)

LogFilter = register(
    PayloadType(
        "LogFilter",
        Category.LOGGING,
        "log_filter_updated",
        (
            Field(
                "filter_id",
                Kind.IDENTIFIER,
                required=True,
                factory=partial(generate_hex_id, "filter"),
            ),
            Field("filter_type", Kind.STRING, required=True, choices=FILTER_TYPES),
            Field("filter_value", Kind.ANY, required=True),
            Field("action", Kind.STRING, required=True, choices=FILTER_ACTIONS),
            Field("enabled", Kind.BOOLEAN, default=True),
            Field("created_by", Kind.STRING, default="system"),
            Field("metadata", Kind.OBJECT, default={}),
            timestamp_field(),
        ),
        "A log filter was added or changed.",
        default_topic=c.LOG_FILTERS_TOPIC,
    )
)

LogRotation = register(
    PayloadType(
        "LogRotation",
        Category.LOGGING,
        "log_rotation",
        (
            Field(
                "rotation_id",
                Kind.IDENTIFIER,
                required=True,
                factory=partial(generate_hex_id, "rotation"),
            ),
            Field("log_type", Kind.IDENTIFIER, required=True),
            Field("old_file", Kind.STRING, required=True),
            Field("new_file", Kind.STRING, required=True),
            Field("file_size", Kind.INTEGER, minimum=0),
            Field("entries_count", Kind.INTEGER, minimum=0),
            node_field(),
            timestamp_field(),
        ),
        "A log file was rotated.",
        default_topic=c.LOG_ROTATION_TOPIC,
    )
)


def log_entry(level: str, message: str, module: str, **opts: Any) -> Payload:
    return LogEntry.new(level=level, message=message, module=module, **opts)


def log_summary(time_period: str, log_counts: dict[str, int], **opts: Any) -> Payload:
    return LogSummary.new(time_period=time_period, log_counts=log_counts, **opts)


def log_filter(
    filter_type: str, filter_value: Any, action: str, **opts: Any
) -> Payload:
    return LogFilter.new(
        filter_type=filter_type, filter_value=filter_value, action=action, **opts
    )


def log_rotation(log_type: str, old_file: str, new_file: str, **opts: Any) -> Payload:
    return LogRotation.new(
        log_type=log_type, old_file=old_file, new_file=new_file, **opts
    )


_LEVEL_ALIASES = {"warning": "warn", "fatal": "critical", "exception": "error"}


def log_level(level: object) -> object:
    """Map a Python logging level (number or name, any case) onto the catalogue's levels.

    Values it does not recognise are returned unchanged, so validation names them.
    """
    if isinstance(level, int) and not isinstance(level, bool):
        for threshold, name in (
            (50, "critical"),
            (40, "error"),
            (30, "warn"),
            (20, "info"),
        ):
            if level >= threshold:
                return name
        return "debug"
    if isinstance(level, str):
        lowered = level.lower()
        return _LEVEL_ALIASES.get(lowered, lowered)
    return level

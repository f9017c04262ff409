"""Export formats of messages: CSV and CloudEvents (structured JSON mode).

Each takes what the message views return (a page ``{"results": [...]}`` of wire forms, or
one wire form) and writes it in its format; error responses stay JSON (see the views).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer

from opsmessaging import cloudevents
from opsmessaging.codec import compact_json
from opsmessaging.envelope import WIRE_FIELDS


def _messages(data: Any) -> list[Mapping[str, Any]]:
    if isinstance(data, Mapping) and "results" in data:
        return list(data["results"])
    return [data]


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


class MessageCSVRenderer(BaseRenderer):
    """A page of messages as CSV: one row each, the wire fields as columns.

    ``payload`` is a JSON column, booleans are ``true``/``false`` and a missing value
    (e.g. no severity) is an empty cell.
    """

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(WIRE_FIELDS)
        for message in _messages(data):
            writer.writerow(
                [
                    compact_json(message[name])
                    if name == "payload"
                    else _cell(message[name])
                    for name in WIRE_FIELDS
                ]
            )
        return out.getvalue().encode(self.charset)


class _CloudEventsRenderer(BaseRenderer):
    format = "cloudevents"
    charset = None  # JSON is UTF-8 by definition

    def events(self, data: Any) -> Any:
        raise NotImplementedError

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        events = self.events(data)
        return compact_json(events).encode()


class CloudEventRenderer(_CloudEventsRenderer):
    """One message as a structured-mode CloudEvent."""

    media_type = cloudevents.MEDIA_TYPE

    def events(self, data: Any) -> dict[str, Any]:
        return cloudevents.to_cloudevent(data)


class CloudEventsBatchRenderer(_CloudEventsRenderer):
    """A page of messages as a CloudEvents JSON batch (an array of events)."""

    media_type = cloudevents.BATCH_MEDIA_TYPE

    def events(self, data: Any) -> list[dict[str, Any]]:
        return [cloudevents.to_cloudevent(m) for m in _messages(data)]

"""OTLP/HTTP log export: stored messages become OpenTelemetry LogRecords.

Each category is read by sequence from a durable cursor (``PeriodicRun`` state of the
``otlp-logs`` run), in batches of ``OTLP_BATCH_SIZE``, and sent by the OpenTelemetry SDK's
own ``OTLPLogExporter`` (protobuf over HTTP), which resolves the standard
``OTEL_EXPORTER_OTLP_*`` endpoint, headers and timeout and follows the OTLP retry rules:
429/502/503/504 are retried with exponential backoff and jitter, honouring
``Retry-After``; anything else (a 400 among them) is not. The cursor moves after each
batch the receiver accepted, so a restart resumes after the last accepted batch; a batch
whose answer was lost is sent again (each record carries ``opsmessaging.message_id``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from opsmessaging import __version__
from opsmessaging.categories import Category
from opsmessaging.conf import conf
from opsmessaging.models import Message, PeriodicRun
from opsmessaging.severity import Severity

logger = logging.getLogger(__name__)

#: The ``PeriodicRun`` whose state holds the cursor: ``{"cursor": {category: sequence}}``.
RUN_NAME = "otlp-logs"

#: Our severities on the OpenTelemetry scale (the first number of each range).
SEVERITY_NUMBERS = {
    Severity.DEBUG: SeverityNumber.DEBUG,
    Severity.INFO: SeverityNumber.INFO,
    Severity.WARNING: SeverityNumber.WARN,
    Severity.ERROR: SeverityNumber.ERROR,
    Severity.CRITICAL: SeverityNumber.FATAL,
}

_ENDPOINT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)

SCOPE = InstrumentationScope("opsmessaging", __version__)


class ExportRejected(Exception):
    """Raised when the receiver refused a batch, or it failed after the retries."""


def load_cursor() -> dict[str, int]:
    """Return the export cursor: the last sequence sent of each category."""
    state = (
        PeriodicRun.objects.filter(name=RUN_NAME)
        .values_list("state", flat=True)
        .first()
    )
    cursor = (state or {}).get("cursor", {})
    return {str(k): int(v) for k, v in cursor.items()}


def save_cursor(cursor: Mapping[str, int]) -> None:
    """Keep ``cursor`` in the ``otlp-logs`` run's state (the run is claimed first)."""
    PeriodicRun.objects.filter(name=RUN_NAME).update(state={"cursor": dict(cursor)})


def build_exporter() -> OTLPLogExporter:
    """Return the SDK's exporter, ``OPSMESSAGING`` values over the ``OTEL_*`` ones."""
    return OTLPLogExporter(
        endpoint=conf.OTLP_LOGS_ENDPOINT or None,
        headers=conf.OTLP_HEADERS or None,
        timeout=conf.OTLP_TIMEOUT,
    )


def _host(node: str) -> str:
    return node.partition("@")[2] or node


def _resource(node: str) -> Resource:
    return Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME") or conf.SYSTEM_NAME,
            "service.version": conf.SYSTEM_VERSION,
            "service.instance.id": node,
            "host.name": _host(node),
        }
    )


def log_record(message: Message, resource: Resource) -> ReadableLogRecord:
    """Return the LogRecord of a stored message: its payload as the body, its envelope
    as attributes, its severity mapped (unset when it has none)."""
    wire = message.to_wire()
    severity = None if message.severity is None else Severity(message.severity)
    attributes: dict[str, Any] = {
        "opsmessaging.category": wire["category"],
        "opsmessaging.topic": wire["topic"],
        "opsmessaging.tag": wire["tag"],
        "opsmessaging.payload_type": wire["payload_type"],
        "opsmessaging.version": wire["version"],
        "opsmessaging.node": wire["node"],
        "opsmessaging.source_node": wire["source_node"],
        "opsmessaging.originating_node": wire["originating_node"],
        "opsmessaging.sequence": wire["sequence"],
        "opsmessaging.message_id": wire["message_id"],
        "opsmessaging.signature_valid": wire["signature_valid"],
    }
    millis = round(message.timestamp.timestamp() * 1000)
    record = LogRecord(
        timestamp=millis * 1_000_000,
        observed_timestamp=time.time_ns(),
        severity_number=SeverityNumber.UNSPECIFIED
        if severity is None
        else SEVERITY_NUMBERS[severity],
        severity_text=None if severity is None else severity.label,
        body=wire["payload"],
        attributes=attributes,
        event_name=f"opsmessaging.{wire['payload_type']}",
    )
    return ReadableLogRecord(record, resource=resource, instrumentation_scope=SCOPE)


@dataclass
class ExportReport:
    """What one export run sent: records per category, and the cursor it reached."""

    exported: dict[str, int] = field(default_factory=dict)
    cursor: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.exported.values())


def export_pending(
    cursor: Mapping[str, int],
    exporter: LogRecordExporter,
    *,
    categories: Iterable[Category] | None = None,
    batch_size: int | None = None,
    deadline: float | None = None,
    save: Callable[[dict[str, int]], None] | None = None,
) -> ExportReport:
    """Send every sequenced message after ``cursor`` (category -> last sequence sent).

    Batches go out in sequence order; ``save`` gets the cursor after each accepted one.
    No batch starts after ``deadline`` (``time.monotonic()``). Raises ``ExportRejected``
    when a batch is refused, the cursor staying before it.
    """
    size = batch_size or conf.OTLP_BATCH_SIZE
    report = ExportReport(cursor={k: int(v) for k, v in cursor.items()})
    resources: dict[str, Resource] = {}
    for category in conf.OTLP_CATEGORIES if categories is None else categories:
        while deadline is None or time.monotonic() < deadline:
            after = report.cursor.get(category.value, 0)
            rows = list(
                Message.objects.filter(
                    category=category.value,
                    sequence__isnull=False,
                    sequence__gt=after,
                ).order_by("sequence")[:size]
            )
            if not rows:
                break
            batch = [
                log_record(m, resources.setdefault(m.node, _resource(m.node)))
                for m in rows
            ]
            if exporter.export(batch) is not LogRecordExportResult.SUCCESS:
                raise ExportRejected(
                    f"the OTLP receiver did not accept {len(batch)} {category.value} "
                    f"record(s) after sequence {after} (see the exporter's log)"
                )
            report.cursor[category.value] = rows[-1].sequence or after
            report.exported[category.value] = report.exported.get(
                category.value, 0
            ) + len(rows)
            if save is not None:
                save(dict(report.cursor))
            if len(rows) < size:
                break
    return report

"""The OTLP/HTTP log export against a real HTTP receiver that decodes the protobuf with
``opentelemetry-proto``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber

from opsmessaging import pubsub, schedule, tasks
from opsmessaging.catalogue import alerts, metrics
from opsmessaging.categories import Category
from opsmessaging.exporters import otlp
from opsmessaging.models import Message, PeriodicRun


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def decoded(self) -> ExportLogsServiceRequest:
        request = ExportLogsServiceRequest()
        request.ParseFromString(self.body)
        return request


@dataclass
class Receiver:
    """An OTLP/HTTP logs receiver: answers each request with the next planned status."""

    url: str
    planned: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def records(self) -> list[Any]:
        return [
            record
            for r in self.received
            for resource_logs in r.decoded().resource_logs
            for scope_logs in resource_logs.scope_logs
            for record in scope_logs.log_records
        ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(
                Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )
            status, headers = state.planned.pop(0) if state.planned else (200, {})
            payload = (
                ExportLogsServiceResponse().SerializeToString()
                if status == 200
                else b""
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _settings(
    settings: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
        "OTEL_SERVICE_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    settings.OPSMESSAGING = {
        **settings.OPSMESSAGING,
        "CAPTURE_AUTH": False,
        "OTLP_LOGS_ENDPOINT": f"{receiver.url}/v1/logs",
        "OTLP_HEADERS": {"x-api-key": "k1"},
        "OTLP_TIMEOUT": 5,
    }


def _attributes(record: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in record.attributes}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind)


def _alert(title: str, severity: str = "critical", **opts: Any) -> Message:
    result = pubsub.broadcast(
        alerts.system_alert(severity, "system", title, None, "test"), **opts
    )
    assert result.ok and result.message is not None
    return result.message


def _export(**kwargs: Any) -> otlp.ExportReport:
    exporter = otlp.build_exporter()
    try:
        return otlp.export_pending(otlp.load_cursor(), exporter, **kwargs)
    finally:
        exporter.shutdown()


@pytest.mark.django_db
def test_a_message_becomes_a_log_record_with_its_envelope(receiver: Receiver) -> None:
    alert = _alert("disk full", node="web1@app-3")
    report = _export(categories=[Category.ALERTS])
    assert report.exported == {"alerts": 1}
    assert report.cursor == {"alerts": alert.sequence}
    [request] = receiver.received
    assert request.path == "/v1/logs"
    assert request.headers["content-type"] == "application/x-protobuf"
    assert request.headers["x-api-key"] == "k1"
    [resource_logs] = request.decoded().resource_logs
    resource = {kv.key: _value(kv.value) for kv in resource_logs.resource.attributes}
    assert resource["service.name"] == "opsmessaging_demo"
    assert resource["host.name"] == "app-3"
    assert resource["service.instance.id"] == "web1@app-3"
    [scope_logs] = resource_logs.scope_logs
    assert scope_logs.scope.name == "opsmessaging"
    [record] = scope_logs.log_records
    assert record.severity_number == SeverityNumber.SEVERITY_NUMBER_FATAL
    assert record.severity_text == "critical"
    assert record.event_name == "opsmessaging.SystemAlert"
    assert record.time_unix_nano == round(alert.timestamp.timestamp() * 1000) * 10**6
    assert _value(record.body) == Message.objects.get(pk=alert.pk).to_wire()["payload"]
    assert _attributes(record) == {
        "opsmessaging.category": "alerts",
        "opsmessaging.topic": alert.topic,
        "opsmessaging.tag": alert.tag,
        "opsmessaging.payload_type": "SystemAlert",
        "opsmessaging.version": alert.version,
        "opsmessaging.node": "web1@app-3",
        "opsmessaging.source_node": alert.source_node,
        "opsmessaging.originating_node": alert.originating_node,
        "opsmessaging.sequence": alert.sequence,
        "opsmessaging.message_id": alert.message_id,
        "opsmessaging.signature_valid": True,
    }


@pytest.mark.django_db
def test_severities_map_onto_the_opentelemetry_scale(receiver: Receiver) -> None:
    for severity in ("info", "warning", "error", "critical"):
        _alert(severity, severity=severity)
    pubsub.broadcast(metrics.performance_metric("rps", 1.0, "1/s"))
    _export(categories=[Category.ALERTS, Category.METRICS])
    assert [(r.severity_number, r.severity_text) for r in receiver.records()] == [
        (SeverityNumber.SEVERITY_NUMBER_INFO, "info"),
        (SeverityNumber.SEVERITY_NUMBER_WARN, "warning"),
        (SeverityNumber.SEVERITY_NUMBER_ERROR, "error"),
        (SeverityNumber.SEVERITY_NUMBER_FATAL, "critical"),
        (SeverityNumber.SEVERITY_NUMBER_UNSPECIFIED, ""),
    ]


@pytest.mark.django_db
def test_batches_follow_the_sequence(receiver: Receiver) -> None:
    stored = [_alert(f"a{i}") for i in range(5)]
    saved: list[dict[str, int]] = []
    report = _export(categories=[Category.ALERTS], batch_size=2, save=saved.append)
    assert len(receiver.received) == 3
    assert [_attributes(r)["opsmessaging.sequence"] for r in receiver.records()] == [
        m.sequence for m in stored
    ]
    assert saved == [{"alerts": 2}, {"alerts": 4}, {"alerts": 5}]
    assert report.total == 5


@pytest.mark.django_db
def test_a_503_is_retried_after_its_retry_after(receiver: Receiver) -> None:
    _alert("a")
    receiver.planned = [(503, {"Retry-After": "0"})]
    started = time.monotonic()
    report = _export(categories=[Category.ALERTS])
    # Without Retry-After the first backoff is at least 0.8 s (1 s, 20% jitter).
    assert time.monotonic() - started < 0.7
    assert report.exported == {"alerts": 1}
    assert len(receiver.received) == 2
    assert receiver.received[0].body == receiver.received[1].body


@pytest.mark.django_db
@pytest.mark.parametrize("status", [400, 500])
def test_a_refused_batch_is_not_retried_and_the_cursor_stays(
    receiver: Receiver, status: int
) -> None:
    _alert("a")
    receiver.planned = [(status, {})]
    saved: list[dict[str, int]] = []
    with pytest.raises(otlp.ExportRejected, match="did not accept 1 alerts record"):
        _export(categories=[Category.ALERTS], save=saved.append)
    assert len(receiver.received) == 1
    assert saved == []


@pytest.mark.django_db
def test_standard_environment_variables_configure_the_endpoint(
    receiver: Receiver, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.OPSMESSAGING = {
        **settings.OPSMESSAGING,
        "OTLP_LOGS_ENDPOINT": None,
        "OTLP_HEADERS": {},
    }
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20t")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout")
    _alert("a")
    _export(categories=[Category.ALERTS])
    [request] = receiver.received
    assert request.path == "/v1/logs"
    assert request.headers["authorization"] == "Bearer t"
    [resource_logs] = request.decoded().resource_logs
    resource = {kv.key: _value(kv.value) for kv in resource_logs.resource.attributes}
    assert resource["service.name"] == "checkout"


def _next_period() -> None:
    PeriodicRun.objects.filter(name=otlp.RUN_NAME).update(
        last_sent_at=timezone.now() - timedelta(hours=1)
    )


@pytest.mark.django_db
def test_the_task_resumes_from_its_durable_cursor(
    receiver: Receiver, settings: Any
) -> None:
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "OTLP_CATEGORIES": ["alerts"]}
    first = [_alert(f"a{i}") for i in range(3)]
    assert tasks.export_otlp_logs.apply().get() == "ran"
    assert PeriodicRun.objects.get(name=otlp.RUN_NAME).state == {
        "cursor": {"alerts": 3}
    }
    assert tasks.export_otlp_logs.apply().get() == "duplicate"
    second = [_alert(f"b{i}") for i in range(2)]
    pubsub.broadcast(metrics.performance_metric("rps", 1.0, "1/s"))  # not chosen
    _next_period()
    assert tasks.export_otlp_logs.apply().get() == "ran"
    assert [_attributes(r)["opsmessaging.message_id"] for r in receiver.records()] == [
        m.message_id for m in first + second
    ]
    assert otlp.load_cursor() == {"alerts": 5}


@pytest.mark.django_db
def test_the_task_keeps_the_cursor_of_accepted_batches_when_one_is_refused(
    receiver: Receiver, settings: Any
) -> None:
    settings.OPSMESSAGING = {
        **settings.OPSMESSAGING,
        "OTLP_CATEGORIES": ["alerts"],
        "OTLP_BATCH_SIZE": 2,
    }
    for i in range(5):
        _alert(f"a{i}")
    receiver.planned = [(200, {}), (400, {})]
    assert tasks.export_otlp_logs.apply().get() == "ran"
    assert otlp.load_cursor() == {"alerts": 2}
    _next_period()
    assert tasks.export_otlp_logs.apply().get() == "ran"
    assert otlp.load_cursor() == {"alerts": 5}
    sequences = [_attributes(r)["opsmessaging.sequence"] for r in receiver.records()]
    # The refused batch (3, 4) was sent again, nothing else twice.
    assert sequences == [1, 2, 3, 4, 3, 4, 5]


@pytest.mark.django_db
def test_the_task_does_nothing_without_an_endpoint(settings: Any) -> None:
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "OTLP_LOGS_ENDPOINT": None}
    assert tasks.export_otlp_logs.apply().get() == "disabled"
    assert not PeriodicRun.objects.filter(name=otlp.RUN_NAME).exists()


def test_the_schedule_has_the_export_only_with_an_endpoint(settings: Any) -> None:
    entry = schedule.beat_schedule()["opsmessaging-otlp-logs"]
    assert entry["task"] == schedule.OTLP_LOGS_TASK
    assert entry["schedule"] == timedelta(seconds=30)
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "OTLP_LOGS_ENDPOINT": None}
    assert "opsmessaging-otlp-logs" not in schedule.beat_schedule()

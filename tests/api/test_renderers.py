"""CSV and CloudEvents exports of messages."""

from __future__ import annotations

import csv
import io
import json

import pytest

from opsmessaging.envelope import WIRE_FIELDS
from tests.api.conftest import NODE, URL, alert, health

pytestmark = pytest.mark.django_db

ALERT_PAYLOAD = (
    '{"alert_id":"a-one","severity":"critical","category":"network","title":"one",'
    '"description":null,"source":"opsmessaging","node":"web1@app-1",'
    '"metadata":{"disk":"/"},"requires_ack":true,"alert_type":"node_failure",'
    '"timestamp":"2026-01-02T03:04:05.678Z"}'
)


def test_csv_export_is_one_row_per_message_with_a_json_payload_column(reader):
    one = alert("one")
    status = health()
    response = reader.get(URL + "messages/?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = response.content.decode()
    assert text.endswith("\r\n")
    header, *rows = csv.reader(io.StringIO(text))
    assert header == list(WIRE_FIELDS)
    # The payload column is compact JSON (its key order is the database's).
    column = WIRE_FIELDS.index("payload")
    payloads = [json.loads(row.pop(column)) for row in rows]
    assert payloads == [status.to_wire()["payload"], json.loads(ALERT_PAYLOAD)]
    assert rows == [
        [
            str(status.id),
            status.message_id,
            "health",
            "component_health",
            "component_health_updated",
            "ComponentHealth",
            "2",
            NODE,
            NODE,
            NODE,
            "2026-01-02T03:04:05.678Z",
            "",
            "1",
            "true",
            "",
            "",
        ],
        [
            str(one.id),
            one.message_id,
            "alerts",
            "node_failure",
            "system_alert",
            "SystemAlert",
            "1",
            NODE,
            NODE,
            NODE,
            "2026-01-02T03:04:05.678Z",
            "critical",
            "1",
            "true",
            "",
            "",
        ],
    ]
    assert '"{""' in text  # JSON quotes doubled inside a quoted cell


def test_csv_export_is_also_chosen_by_the_accept_header(reader):
    alert("one")
    response = reader.get(URL + "messages/", HTTP_ACCEPT="text/csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_csv_export_of_an_empty_page_is_the_header_row(reader):
    response = reader.get(URL + "messages/?format=csv")
    assert response.content.decode() == ",".join(WIRE_FIELDS) + "\r\n"


def test_an_export_with_a_bad_filter_answers_the_error_in_json(reader):
    response = reader.get(URL + "messages/?format=csv&category=nope")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"category": ['"nope" is not a valid choice.']}


def test_cloudevents_batch_export_is_an_array_of_structured_events(reader):
    one = alert("one")
    status = health()
    response = reader.get(URL + "messages/?format=cloudevents&limit=1")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/cloudevents-batch+json"
    assert response.json() == [
        {
            "specversion": "1.0",
            "id": status.message_id,
            "source": f"/opsmessaging/{NODE}",
            "type": "opsmessaging.health.component_health_updated",
            "subject": "component_health",
            "time": "2026-01-02T03:04:05.678Z",
            "datacontenttype": "application/json",
            "dataschema": "urn:opsmessaging:payload:ComponentHealth:2",
            "category": "health",
            "payloadtype": "ComponentHealth",
            "node": NODE,
            "originatingnode": NODE,
            "sequence": "1",
            "signaturevalid": True,
            "data": status.to_wire()["payload"],
        }
    ]
    next_url = response["Link"].removeprefix("<").removesuffix('>; rel="next"')
    assert [event["id"] for event in reader.get(next_url).json()] == [one.message_id]


def test_cloudevents_batch_export_by_accept_header(reader):
    alert("one")
    response = reader.get(
        URL + "messages/", HTTP_ACCEPT="application/cloudevents-batch+json"
    )
    assert response["Content-Type"] == "application/cloudevents-batch+json"
    assert [event["type"] for event in response.json()] == [
        "opsmessaging.alerts.system_alert"
    ]


def test_cloudevent_of_one_message_carries_its_severity(reader):
    one = alert("one")
    response = reader.get(f"{URL}messages/{one.id}/?format=cloudevents")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/cloudevents+json"
    event = response.json()
    assert event["severity"] == "critical"
    assert event["data"] == json.loads(ALERT_PAYLOAD)
    assert (event["id"], event["subject"], event["sequence"]) == (
        one.message_id,
        "node_failure",
        "1",
    )


def test_an_unknown_format_is_404(reader):
    assert reader.get(URL + "messages/?format=xml").status_code == 404


def test_an_unsupported_method_is_405_whatever_the_format(admin):
    response = admin.generic("TRACE", URL + "messages/?format=cloudevents")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "TRACE" not allowed.'}

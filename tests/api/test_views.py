"""The API's endpoints: exact JSON of each, for reading, broadcasting and errors."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from opsmessaging import compatibility, pubsub, schema
from opsmessaging.categories import Category
from opsmessaging.models import CategorySequence, Message, Node
from opsmessaging.nodenames import this_node
from tests.api.conftest import (
    NODE,
    URL,
    alert,
    alert_wire,
    auth_failure,
    client_for,
    health,
    make_user,
)
from tests.tampering import set_stored_version

pytestmark = pytest.mark.django_db

ALERT_BODY = {
    "type": "SystemAlert",
    "payload": {
        "alert_id": "a-1",
        "severity": "error",
        "category": "system",
        "title": "queue stuck",
        "timestamp": "2026-01-02T03:04:05.678Z",
    },
    "topic": "queues",
    "node": NODE,
    "source_node": NODE,
    "originating_node": NODE,
}


def posted_alert_wire(message: Message) -> dict:
    return {
        "id": message.id,
        "message_id": message.message_id,
        "category": "alerts",
        "topic": "queues",
        "tag": "system_alert",
        "payload_type": "SystemAlert",
        "version": 1,
        "node": NODE,
        "source_node": NODE,
        "originating_node": NODE,
        "timestamp": "2026-01-02T03:04:05.678Z",
        "severity": "error",
        "sequence": 1,
        "payload": {
            "alert_id": "a-1",
            "severity": "error",
            "category": "system",
            "title": "queue stuck",
            "description": None,
            "source": "opsmessaging",
            "node": NODE,
            "metadata": {},
            "requires_ack": True,
            "alert_type": None,
            "timestamp": "2026-01-02T03:04:05.678Z",
        },
        "signature_valid": True,
        "sender": "writer",
        "received_by": this_node(),
    }


# --- messages/ -------------------------------------------------------------------------


def test_list_is_the_wire_form_newest_first(reader):
    first, second = alert("one"), alert("two", severity="warning")
    response = reader.get(URL + "messages/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            alert_wire(second, "two", "warning"),
            alert_wire(first, "one"),
        ],
    }


def test_list_of_an_empty_store_is_an_empty_page(reader):
    assert reader.get(URL + "messages/").json() == {
        "next": None,
        "previous": None,
        "results": [],
    }


def test_detail_is_the_wire_form(reader):
    message = alert("one")
    response = reader.get(f"{URL}messages/{message.id}/")
    assert response.status_code == 200
    assert response.json() == alert_wire(message, "one")


def test_detail_of_an_unknown_id_is_404(reader):
    response = reader.get(URL + "messages/12345/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No Message matches the given query."}


def test_detail_of_an_id_beyond_bigint_is_404_not_a_crash(reader):
    response = reader.get(URL + "messages/99999999999999999999999/")
    assert response.status_code == 404


def test_detail_ignores_list_filters(reader):
    message = alert("one")
    response = reader.get(f"{URL}messages/{message.id}/?category=nope")
    assert response.status_code == 200


def test_create_stores_through_pubsub_and_answers_201_with_the_wire_form(writer):
    response = writer.post(URL + "messages/", ALERT_BODY, format="json")
    assert response.status_code == 201
    stored = Message.objects.get()
    assert response.json() == posted_alert_wire(stored)
    assert stored.to_wire() == response.json()


def test_create_with_only_the_required_fields_takes_the_defaults(writer):
    response = writer.post(
        URL + "messages/",
        {
            "type": "ComponentHealth",
            "payload": {"component": "db", "status": "degraded"},
            "node": NODE,
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["category"], body["topic"], body["node"]) == (
        "health",
        "component_health",
        NODE,
    )
    # The envelope's node is also the payload's, as with the Python API.
    assert body["payload"]["node"] == NODE
    assert body["payload"]["status"] == "degraded"


def test_create_reports_every_bad_payload_field_and_stores_nothing(writer):
    response = writer.post(
        URL + "messages/",
        {"type": "SystemAlert", "payload": {"severity": "fatal", "title": 7}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "payload.severity": [
            "'fatal' is not allowed; choose one of: info, warning, error, critical"
        ],
        "payload.category": ["this field is required"],
        "payload.title": ["must be a string, got int"],
    }
    assert Message.objects.count() == 0


def test_create_refuses_an_unknown_payload_field(writer):
    body = {**ALERT_BODY, "payload": {**ALERT_BODY["payload"], "colour": "red"}}
    response = writer.post(URL + "messages/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["payload.colour"]
    assert response.json()["payload.colour"][0].startswith(
        "unknown field for SystemAlert; its fields are: alert_id, severity,"
    )


def test_create_refuses_an_unknown_type(writer):
    response = writer.post(
        URL + "messages/", {"type": "Nope", "payload": {}}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["type"]
    assert response.json()["type"][0].startswith(
        "unknown payload type 'Nope'; choose one of: AccessLog, AccessViolation,"
    )


def test_create_refuses_a_category_that_disagrees_with_the_type(writer):
    response = writer.post(
        URL + "messages/", {**ALERT_BODY, "category": "health"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "category": ["SystemAlert belongs to category 'alerts', not 'health'"]
    }
    assert Message.objects.count() == 0


def test_create_accepts_the_category_of_the_type(writer):
    response = writer.post(
        URL + "messages/", {**ALERT_BODY, "category": "alerts"}, format="json"
    )
    assert response.status_code == 201


def test_create_refuses_the_events_category(writer):
    response = writer.post(
        URL + "messages/", {**ALERT_BODY, "category": "events"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "category": [
            "'events' is refused: application domain events are out of scope for "
            "opsmessaging: it carries operational messages only; publish domain events "
            "through your event store"
        ]
    }


def test_create_refuses_an_events_field(writer):
    response = writer.post(
        URL + "messages/", {**ALERT_BODY, "events": [{"id": 1}]}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "events": [
            "application domain events are out of scope for opsmessaging: it carries "
            "operational messages only; publish domain events through your event store"
        ]
    }
    assert Message.objects.count() == 0


def test_create_refuses_an_unknown_body_field(writer):
    response = writer.post(
        URL + "messages/", {**ALERT_BODY, "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "colour": [
            "Unknown field; the fields are: type, payload, topic, category, node, "
            "source_node, originating_node."
        ]
    }


def test_create_refuses_a_bad_topic(writer):
    response = writer.post(
        URL + "messages/", {**ALERT_BODY, "topic": "no spaces"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "topic": [
            "invalid topic 'no spaces': use letters, digits and '_', '.', ':', '@', "
            "'/', '-'"
        ]
    }


def test_create_refuses_a_bad_node_name(writer):
    response = writer.post(
        URL + "messages/", {**ALERT_BODY, "source_node": "not a node"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "source_node": [
            "'not a node' is not a node name (non-empty; letters, digits, '_', '.', "
            "'-', optionally '@host')"
        ]
    }


def test_create_refuses_a_body_that_is_not_an_object(writer):
    response = writer.post(URL + "messages/", [ALERT_BODY], format="json")
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }


def test_create_refuses_a_payload_that_is_not_an_object(writer):
    response = writer.post(
        URL + "messages/", {"type": "SystemAlert", "payload": [1]}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "payload": ['Expected a dictionary of items but got type "list".']
    }


def test_create_refuses_a_form_body(writer):
    response = writer.post(URL + "messages/", {"type": "SystemAlert"})
    assert response.status_code == 415


def test_create_answers_503_when_broadcasting_is_disabled(writer):
    with override_settings(OPSMESSAGING={"PUBSUB_INTEGRATION": False}):
        response = writer.post(URL + "messages/", ALERT_BODY, format="json")
    assert response.status_code == 503
    assert response.json() == {
        "status": "disabled",
        "detail": "Broadcasting is disabled on this server; nothing was stored.",
    }
    assert Message.objects.count() == 0


def test_create_answers_503_without_details_when_the_store_fails(writer, monkeypatch):
    from django.db import DatabaseError

    def fail(envelope):
        raise DatabaseError("disk on fire")

    monkeypatch.setattr(Message.objects, "append", fail)
    response = writer.post(URL + "messages/", ALERT_BODY, format="json")
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "detail": "The store failed; nothing was stored (the reason is in the server "
        "log).",
    }


def test_create_needs_the_add_permission(reader):
    response = reader.post(URL + "messages/", ALERT_BODY, format="json")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You do not have permission to see or broadcast operational messages."
    }


def test_create_of_a_security_message_needs_the_security_add_permission(writer):
    body = {
        "type": "AuthEvent",
        "payload": {
            "user_id": "bob",
            "event_type": "logout",
            "auth_method": "token",
        },
    }
    response = writer.post(URL + "messages/", body, format="json")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You do not have permission to broadcast security messages."
    }
    allowed = client_for(make_user("add_message", "add_security_messages"))
    assert allowed.post(URL + "messages/", body, format="json").status_code == 201


def test_create_anonymous_is_401(client):
    response = client.post(
        URL + "messages/", ALERT_BODY, content_type="application/json"
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


# --- messages/batch/ ---------------------------------------------------------------------


def test_batch_stores_every_event_and_answers_one_result_each(writer):
    second = {
        "type": "ComponentHealth",
        "payload": {"component": "db", "status": "healthy"},
        "node": NODE,
    }
    response = writer.post(
        URL + "messages/batch/", {"events": [ALERT_BODY, second]}, format="json"
    )
    assert response.status_code == 201
    stored = list(Message.objects.order_by("id"))
    assert response.json() == {
        "success": 2,
        "errors": 0,
        "disabled": False,
        "results": [
            {"status": "ok", "message": posted_alert_wire(stored[0]), "error": None},
            {"status": "ok", "message": stored[1].to_wire(), "error": None},
        ],
    }
    assert [m.category for m in stored] == ["alerts", "health"]


def test_batch_is_all_or_nothing(writer):
    bad = {"type": "SystemAlert", "payload": {**ALERT_BODY["payload"], "severity": 3}}
    response = writer.post(
        URL + "messages/batch/", {"events": [ALERT_BODY, bad]}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "events[1].payload.severity": ["must be a string, got int"]
    }
    assert Message.objects.count() == 0


def test_batch_names_the_event_with_an_unknown_type(writer):
    response = writer.post(
        URL + "messages/batch/",
        {"events": [ALERT_BODY, {"type": "Nope"}]},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["events[1].type"]


def test_batch_names_the_event_with_a_bad_body(writer):
    response = writer.post(
        URL + "messages/batch/",
        {"events": [{"payload": {}}, {**ALERT_BODY, "events": []}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "events[0].type": ["This field is required."],
        "events[1].events": [
            "application domain events are out of scope for opsmessaging: it carries "
            "operational messages only; publish domain events through your event store"
        ],
    }


def test_batch_refuses_an_empty_list(writer):
    response = writer.post(URL + "messages/batch/", {"events": []}, format="json")
    assert response.status_code == 400
    assert response.json() == {"events": ["This list may not be empty."]}


def test_batch_refuses_more_than_the_maximum(writer):
    with override_settings(OPSMESSAGING={"API_MAX_BATCH_SIZE": 2}):
        response = writer.post(
            URL + "messages/batch/", {"events": [ALERT_BODY] * 3}, format="json"
        )
    assert response.status_code == 400
    assert response.json() == {"events": ["At most 2 events per batch, got 3."]}


def test_batch_with_a_category_the_user_may_not_add_is_403_and_stores_nothing(
    writer,
):
    audit = {
        "type": "DataChange",
        "payload": {
            "user_id": "bob",
            "resource_type": "record",
            "resource_id": "1",
            "action": "read",
        },
    }
    response = writer.post(
        URL + "messages/batch/", {"events": [ALERT_BODY, audit]}, format="json"
    )
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You do not have permission to broadcast audit messages."
    }
    # Nothing of the batch is stored; the refusal itself is captured as a violation.
    assert list(Message.objects.values_list("payload_type", flat=True)) == [
        "AccessViolation"
    ]


def test_batch_answers_503_when_broadcasting_is_disabled(writer):
    with override_settings(OPSMESSAGING={"PUBSUB_INTEGRATION": False}):
        response = writer.post(
            URL + "messages/batch/", {"events": [ALERT_BODY]}, format="json"
        )
    assert response.status_code == 503
    assert response.json()["status"] == "disabled"


# --- categories/ --------------------------------------------------------------------------


def test_categories_list_topics_counts_and_last_time_of_visible_categories(reader):
    alert("one", alert_type="node_failure")
    alert("two", alert_type="disk_full")
    last = health()
    auth_failure()
    response = reader.get(URL + "categories/")
    assert response.status_code == 200
    empty = {
        "topics": [],
        "topics_truncated": False,
        "count": 0,
        "first_sequence": None,
        "last_sequence": None,
        "last_message_at": None,
    }
    epochs = {c: CategorySequence.epoch_of(c) for c in Category.values}
    assert all(len(e) == 16 for e in epochs.values())
    assert len(set(epochs.values())) == len(epochs)  # one log, one epoch, per category
    without_epochs = [
        {k: v for k, v in row.items() if k != "epoch"} for row in response.json()
    ]
    assert without_epochs == [
        {"category": "system", "label": "System lifecycle", **empty},
        {
            "category": "health",
            "label": "Health monitoring",
            "topics": ["component_health"],
            "topics_truncated": False,
            "count": 1,
            "first_sequence": last.sequence,
            "last_sequence": last.sequence,
            "last_message_at": "2026-01-02T03:04:05.678Z",
        },
        {"category": "metrics", "label": "Performance metrics", **empty},
        {
            "category": "alerts",
            "label": "Critical alerts",
            "topics": ["disk_full", "node_failure"],
            "topics_truncated": False,
            "count": 2,
            "first_sequence": 1,
            "last_sequence": 2,
            "last_message_at": "2026-01-02T03:04:05.678Z",
        },
        {"category": "diagnostics", "label": "Diagnostic information", **empty},
        {"category": "lifecycle", "label": "Process lifecycle", **empty},
        {"category": "logging", "label": "Log aggregation", **empty},
    ]
    assert {row["category"]: row["epoch"] for row in response.json()} == {
        c: epochs[c] for c in epochs if c not in ("security", "audit")
    }


def test_categories_count_the_remaining_range_after_the_oldest_are_pruned(admin):
    messages = [alert(f"n{i}") for i in range(5)]
    # Retention removes the oldest first (there is no retention yet: delete by hand).
    Message.objects.filter(id__in=[m.id for m in messages[:2]]).delete()
    row = next(
        c for c in admin.get(URL + "categories/").json() if c["category"] == "alerts"
    )
    assert (row["count"], row["first_sequence"], row["last_sequence"]) == (3, 3, 5)


def test_categories_truncate_a_long_topic_list(admin, monkeypatch):
    from opsmessaging.api import views

    monkeypatch.setattr(views, "TOPICS_LISTED", 2)
    for topic in ("a1", "a2", "a3"):
        alert(topic, alert_type=topic)
    row = next(
        c for c in admin.get(URL + "categories/").json() if c["category"] == "alerts"
    )
    assert (row["topics"], row["topics_truncated"]) == (["a1", "a2"], True)


# --- nodes/ ----------------------------------------------------------------------------


def test_nodes_list_the_registry_and_the_cluster_context(reader):
    with override_settings(OPSMESSAGING={"NODE_NAME": "web1@app-1"}):
        Node.heartbeat("web2@app-2", role="worker")
        Node.objects.create(name="old@app-9", role="web")
        response = reader.get(URL + "nodes/")
    assert response.status_code == 200
    body = response.json()
    web2 = Node.objects.get(name="web2@app-2")
    assert body == {
        "cluster": {
            "node_name": "web1@app-1",
            "connected_nodes": ["web2@app-2"],
            "cluster_size": 2,
            "node_type": "combined_node",
        },
        "nodes": [
            {
                "name": "old@app-9",
                "role": "web",
                "status": "unknown",
                "started_at": None,
                "last_heartbeat_at": None,
                "is_connected": False,
                "metadata": {},
            },
            {
                "name": "web2@app-2",
                "role": "worker",
                "status": "healthy",
                "started_at": body["nodes"][1]["started_at"],
                "last_heartbeat_at": body["nodes"][1]["last_heartbeat_at"],
                "is_connected": True,
                "metadata": {},
            },
        ],
    }
    from opsmessaging.helpers import format_timestamp

    assert body["nodes"][1]["last_heartbeat_at"] == format_timestamp(
        web2.last_heartbeat_at
    )


def test_nodes_need_a_read_permission(writer):
    assert writer.get(URL + "nodes/").status_code == 403


# --- compatibility/ --------------------------------------------------------------------------


def test_compatibility_gives_readers_the_report_and_the_checks(reader):
    response = reader.get(URL + "compatibility/")
    assert response.status_code == 200
    body = response.json()
    assert body["compatible"] is True
    assert body["checks"] == []
    assert sorted(body["report"]) == sorted(pubsub.validate_messaging_compatibility())
    assert "gater_integration" in body["report"]
    assert body["report"]["gater_integration"]["tests"]["alerts_messages"] == "ok"


def test_compatibility_gives_anyone_the_status_only(client):
    response = client.get(URL + "compatibility/")
    assert response.status_code == 200
    assert response.json() == {"compatible": True}


def test_compatibility_is_503_when_a_check_fails(client, reader):
    with override_settings(OPSMESSAGING={"API_PAGE_SIZE": 0}):
        anonymous = client.get(URL + "compatibility/")
        full = reader.get(URL + "compatibility/")
    assert anonymous.status_code == 503
    assert anonymous.json() == {"compatible": False}
    assert full.status_code == 503
    assert full.json()["checks"] == [
        {
            "id": "opsmessaging.E301",
            "level": "error",
            "message": "OPSMESSAGING['API_PAGE_SIZE'] must be a positive integer, not 0.",
            "hint": "The default is 50.",
        }
    ]


def test_compatibility_is_503_when_the_report_is_not_compatible(reader, monkeypatch):
    real = pubsub.validate_messaging_compatibility

    def broken():
        report = real()
        report["node_consistency"]["system_has_node"] = False
        return report

    monkeypatch.setattr(compatibility, "validate_messaging_compatibility", broken)
    response = reader.get(URL + "compatibility/")
    assert response.status_code == 503
    assert response.json()["compatible"] is False
    assert response.json()["report"]["node_consistency"]["system_has_node"] is False


# --- types/ ----------------------------------------------------------------------------


def test_types_list_the_whole_catalogue_with_schemas(reader):
    response = reader.get(URL + "types/")
    assert response.status_code == 200
    assert response.json() == schema.describe_catalogue()
    assert len(response.json()) == 36


def test_type_detail_is_one_entry(writer):
    response = writer.get(URL + "types/ClusterHealth/")
    assert response.status_code == 200
    assert response.json() == schema.describe_type("ClusterHealth")


def test_type_detail_of_an_unknown_type_is_404(reader):
    response = reader.get(URL + "types/Nope/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No payload type 'Nope'."}


def test_types_need_authentication(client):
    assert client.get(URL + "types/").status_code == 401


def test_a_body_that_is_not_json_is_a_400_like_the_others(writer):
    response = writer.post(URL + "messages/", b"\x00", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": [
            "JSON parse error - Expecting value: line 1 column 1 (char 0)"
        ]
    }


def test_a_detail_path_that_is_not_a_number_is_a_json_404(reader):
    response = reader.get(URL + "messages/null,null/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No Message matches the given query."}


# --- checkins/ -------------------------------------------------------------------------


def test_checkins_list_monitors_and_their_latest_runs(reader):
    from opsmessaging import checkins

    spec = checkins.MonitorSpec("backup", interval_ms=60_000, margin_ms=1_000)
    checkins.run_checked(spec, lambda: "ran")
    [row] = reader.get(URL + "checkins/").json()
    assert {k: row[k] for k in ("name", "status", "interval_ms", "margin_ms")} == {
        "name": "backup",
        "status": "ok",
        "interval_ms": 60_000,
        "margin_ms": 1_000,
    }
    assert [c["status"] for c in row["checkins"]] == ["ok"]


def test_checkins_need_a_read_permission(writer):
    assert writer.get(URL + "checkins/").status_code == 403


def test_a_lone_surrogate_in_a_payload_key_is_a_400_quoting_it_escaped(admin):
    body = (
        '{"type": "SystemAlert", "payload": {"\\ud800": 1, "alert_id": "a-1", '
        '"severity": "error", "category": "system", "title": "t"}}'
    )
    response = admin.post(URL + "messages/", body, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == ["payload.\\ud800"]


def test_a_row_in_an_unknown_payload_version_is_listed_with_a_null_payload(reader):
    first, second = alert("one"), alert("from a newer node")
    set_stored_version(second, 99)
    response = reader.get(URL + "messages/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(m["id"], m["version"], m["payload"]) for m in results] == [
        (second.id, 99, None),
        (first.id, 1, alert_wire(first, "one")["payload"]),
    ]


def test_compatibility_is_computed_at_most_once_per_cache_ttl(client, monkeypatch):
    calls = []
    real = compatibility.compatibility_status

    def counted():
        calls.append(1)
        return real()

    monkeypatch.setattr(compatibility, "compatibility_status", counted)
    with override_settings(OPSMESSAGING={"COMPATIBILITY_CACHE_TTL": 60_000}):
        for _ in range(3):
            assert client.get(URL + "compatibility/").json() == {"compatible": True}
    with override_settings(OPSMESSAGING={"COMPATIBILITY_CACHE_TTL": 0}):
        client.get(URL + "compatibility/")
    assert len(calls) == 2


def test_compatibility_is_throttled_per_address(client, reader):
    with override_settings(OPSMESSAGING={"COMPATIBILITY_THROTTLE_RATE": "2/minute"}):
        codes = [client.get(URL + "compatibility/").status_code for _ in range(3)]
        throttled = client.get(URL + "compatibility/")
    assert codes == [200, 200, 429]
    assert throttled.json()["detail"].startswith("Request was throttled.")


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        (
            "9999-01-01T00:00:00.000Z",
            "9999-01-01T00:00:00.000Z lies {days} days ahead of this server's clock; at "
            "most 5 minutes (TIMESTAMP_MAX_AHEAD) is accepted",
        ),
        (
            "1970-01-01T00:00:00.000Z",
            "1970-01-01T00:00:00.000Z lies {days} days behind this server's clock; at "
            "most 3650 days (TIMESTAMP_MAX_AGE) is accepted",
        ),
    ],
    ids=["future", "1970"],
)
def test_a_timestamp_far_from_the_server_s_clock_is_refused_naming_it(
    admin, timestamp, reason
):
    from datetime import UTC, datetime

    days = abs(datetime.fromisoformat(timestamp) - datetime.now(UTC)).days
    body = {**ALERT_BODY, "payload": {**ALERT_BODY["payload"], "timestamp": timestamp}}
    single = admin.post(URL + "messages/", body, format="json")
    batch = admin.post(URL + "messages/batch/", {"events": [body]}, format="json")
    assert (single.status_code, batch.status_code) == (400, 400)
    assert single.json() == {"payload.timestamp": [reason.format(days=days)]}
    assert batch.json() == {"events[0].payload.timestamp": [reason.format(days=days)]}
    assert not Message.objects.exists()


def test_a_timestamp_within_the_accepted_skew_is_stored(admin):
    with override_settings(OPSMESSAGING={"TIMESTAMP_MAX_AGE": None}):
        body = {
            **ALERT_BODY,
            "payload": {**ALERT_BODY["payload"], "timestamp": "1970-01-01T00:00:00Z"},
        }
        assert admin.post(URL + "messages/", body, format="json").status_code == 201


def test_compatibility_names_and_counts_no_message_of_a_hidden_category(reader, admin):
    visible = alert("one")
    hidden = pubsub.broadcast_audit_event("export", "u1", "payroll", "read").message
    set_stored_version(hidden, 99)  # tampered: its signature no longer verifies
    restricted = reader.get(URL + "compatibility/")
    full = admin.get(URL + "compatibility/")
    # A stored signature that fails is reported, and does not make the node unhealthy.
    assert (restricted.status_code, full.status_code) == (200, 200)
    assert restricted.json()["report"]["signing"]["stored"] == {
        "checked": 1,
        "outcomes": {"secured": 1},
        "invalid": 0,
        "invalid_message_ids": [],
    }
    assert full.json()["report"]["signing"]["stored"]["invalid_message_ids"] == [
        hidden.message_id
    ]
    assert visible.signature_valid


def test_the_api_takes_a_token_without_any_rest_framework_setting(settings):
    settings.REST_FRAMEWORK = {}
    user = make_user("view_message")
    token = Token.objects.create(user=user)
    client = APIClient()
    assert client.get(f"{URL}categories/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(f"{URL}categories/").status_code == 200

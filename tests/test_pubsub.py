"""The public broadcast API: exact fields, the upstream defects as regressions, bad input."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db import DatabaseError
from django.test import override_settings

from opsmessaging import compatibility, pubsub
from opsmessaging.catalogue import alerts, health, metrics, samples
from opsmessaging.categories import Category
from opsmessaging.exceptions import InvalidMessage, UnknownCategory
from opsmessaging.models import Message

NODE = "web1@testhost"
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("named_node")]


@pytest.fixture
def named_node():
    with override_settings(OPSMESSAGING={"NODE_NAME": NODE}):
        yield


def wire(result: pubsub.BroadcastResult) -> dict:
    assert result.status == "ok", result.error
    assert result.error is None
    assert result.message is not None
    stored = Message.objects.get(pk=result.message.pk)
    assert stored.to_wire() == result.message.to_wire()
    return stored.to_wire()


def assert_envelope(data: dict, **expected: object) -> None:
    for key, value in expected.items():
        assert data[key] == value, key
    assert data["timestamp"] == data["payload"]["timestamp"]
    assert data["timestamp"].endswith("Z") and len(data["timestamp"]) == 24
    assert data["message_id"].startswith("msg_")


def test_broadcast_system_lifecycle_stores_exact_fields():
    data = wire(pubsub.broadcast_system_lifecycle("started", "ex_esdb", "1.0.0"))
    assert_envelope(
        data,
        category="system",
        topic="lifecycle",
        tag="system_lifecycle_event",
        payload_type="SystemLifecycle",
        node=NODE,
        source_node=NODE,
        originating_node=NODE,
        severity=None,
        sequence=1,
        version=1,
    )
    payload = dict(data["payload"])
    del payload["timestamp"]
    assert payload == {
        "event": "started",
        "system_name": "ex_esdb",
        "version": "1.0.0",
        "node": NODE,
    }


def test_broadcast_system_config_keeps_previous_config_and_changed_by():
    data = wire(
        pubsub.broadcast_system_config(
            "database",
            {"pool_size": 10},
            previous_config={"pool_size": 5},
            changed_by="ops",
        )
    )
    assert (data["category"], data["topic"], data["tag"]) == (
        "system",
        "config",
        "system_config_changed",
    )
    payload = data["payload"]
    assert payload["component"] == "database"
    assert payload["changes"] == {"pool_size": 10}
    assert payload["previous_config"] == {"pool_size": 5}
    assert payload["changed_by"] == "ops"
    assert payload["node"] == NODE


def test_broadcast_system_config_defaults_changed_by_to_system():
    data = wire(pubsub.broadcast_system_config("database", {"pool_size": 10}))
    assert data["payload"]["changed_by"] == "system"
    assert data["payload"]["previous_config"] is None


def test_broadcast_store_health_keeps_details_and_store_id():
    # Upstream defect 6: details became %{} and store_id was lost.
    data = wire(
        pubsub.broadcast_store_health(
            "main_store",
            "khepri_store",
            "degraded",
            {"event": "probe_failed", "failure_count": 2},
        )
    )
    assert (data["category"], data["topic"], data["tag"], data["payload_type"]) == (
        "health",
        "main_store:health",
        "component_health_updated",
        "ComponentHealth",
    )
    assert data["payload"]["details"] == {"event": "probe_failed", "failure_count": 2}
    assert data["payload"]["store_id"] == "main_store"
    assert data["payload"]["component"] == "khepri_store"
    assert data["payload"]["status"] == "degraded"
    assert data["payload"]["node"] == NODE


@pytest.mark.parametrize("store_id", [None, "", "bad store", "a:b", 123, "x" * 101])
def test_broadcast_store_health_rejects_invalid_store_id(store_id):
    with pytest.raises(InvalidMessage) as error:
        pubsub.broadcast_store_health(store_id, "khepri_store", "healthy")
    assert "store_id" in error.value.errors
    assert Message.objects.count() == 0


def test_broadcast_store_health_rejects_invalid_store_id_even_when_disabled():
    pubsub.disable()
    with pytest.raises(InvalidMessage):
        pubsub.broadcast_store_health(None, "khepri_store", "healthy")


def test_broadcast_cluster_health_maps_arguments_and_keeps_originating_node():
    # Upstream defect 4: nodes became status, failed_nodes became healthy_nodes, ...
    data = wire(
        pubsub.broadcast_cluster_health(
            ["node1", "node2"],
            ["node3"],
            "node_failure",
            originating_node="management_node",
        )
    )
    assert (data["category"], data["topic"], data["tag"]) == (
        "health",
        "cluster:health",
        "cluster_health_updated",
    )
    assert data["originating_node"] == "management_node"
    assert data["node"] == NODE
    payload = dict(data["payload"])
    del payload["timestamp"]
    assert payload == {
        "status": "degraded",
        "healthy_nodes": ["node1", "node2"],
        "total_nodes": 3,
        "degraded_nodes": [],
        "unhealthy_nodes": ["node3"],
        "quorum_status": "available",
        "event_type": "node_failure",
    }


def test_broadcast_cluster_health_counts_failed_nodes_once_when_listed_in_both():
    # Upstream defect 8: failed nodes were counted twice.
    data = wire(
        pubsub.broadcast_cluster_health(
            ["n1", "n2", "n3"], ["n3"], "probe_cycle_degraded"
        )
    )
    assert data["payload"]["total_nodes"] == 3
    assert data["payload"]["healthy_nodes"] == ["n1", "n2"]


def test_broadcast_cluster_health_loses_quorum_without_a_majority():
    data = wire(pubsub.broadcast_cluster_health(["n1"], ["n2", "n3"], "node_failure"))
    assert data["payload"]["status"] == "unhealthy"
    assert data["payload"]["quorum_status"] == "lost"


def test_broadcast_cluster_health_is_healthy_without_failures():
    data = wire(pubsub.broadcast_cluster_health(["n1", "n2"], [], "node_reconnected"))
    assert data["payload"]["status"] == "healthy"
    assert data["payload"]["unhealthy_nodes"] == []


def test_broadcast_cluster_health_rejects_a_string_for_the_node_list():
    with pytest.raises(InvalidMessage) as error:
        pubsub.broadcast_cluster_health("n1", [], "node_failure")
    assert list(error.value.errors) == ["nodes"]


def test_broadcast_health_update_is_component_health_with_details():
    # Upstream defect 2: sent a ComponentHealth to the NodeHealth broadcaster and raised.
    data = wire(
        pubsub.broadcast_health_update(
            "store_worker", "healthy", {"store_id": "main_store"}
        )
    )
    assert (data["category"], data["topic"], data["tag"], data["payload_type"]) == (
        "health",
        "component_health",
        "component_health_updated",
        "ComponentHealth",
    )
    assert data["payload"]["details"] == {"store_id": "main_store"}
    assert data["payload"]["store_id"] == "main_store"
    assert data["payload"]["component"] == "store_worker"


def test_broadcast_health_update_with_node_option_sets_payload_and_envelope_node():
    data = wire(
        pubsub.broadcast_health_update(
            "component", "degraded", {"reason": "high_load"}, node="custom_node"
        )
    )
    assert data["node"] == "custom_node"
    assert data["payload"]["node"] == "custom_node"
    assert data["source_node"] == NODE


def test_broadcast_health_update_topic_can_be_overridden():
    data = wire(pubsub.broadcast_health_update("c", "healthy", topic="workers:health"))
    assert data["topic"] == "workers:health"


def test_broadcast_metrics_persistence_value_is_not_always_zero():
    # Upstream defect 7: value was always 0 and `forced` was dropped.
    data = wire(
        pubsub.broadcast_metrics(
            "persistence",
            {
                "stores_count": 2,
                "duration_ms": 12,
                "success_count": 5,
                "error_count": 1,
                "forced": True,
            },
        )
    )
    assert (data["category"], data["topic"], data["tag"], data["payload_type"]) == (
        "metrics",
        "persistence",
        "performance_metric",
        "PerformanceMetric",
    )
    payload = data["payload"]
    assert payload["metric_name"] == "persistence_operation"
    assert payload["value"] == 6
    assert payload["unit"] == "operations"
    assert payload["component"] == "persistence"
    assert payload["tags"]["forced"] is True
    assert payload["tags"]["stores_count"] == 2


def test_broadcast_metrics_persistence_prefers_operations_count():
    data = wire(
        pubsub.broadcast_metrics(
            "persistence", {"operations_count": 100, "duration_ms": 1500}
        )
    )
    assert data["payload"]["value"] == 100


def test_broadcast_metrics_emitter_is_throughput():
    data = wire(
        pubsub.broadcast_metrics("emitter", {"events_emitted": 50, "duration_ms": 500})
    )
    assert (data["topic"], data["tag"]) == ("emitter", "throughput_metric")
    payload = data["payload"]
    assert payload["operation"] == "event_emission"
    assert payload["count"] == 50
    assert payload["duration_ms"] == 500
    assert payload["rate_per_sec"] == 100.0


def test_broadcast_metrics_emitter_with_zero_duration_is_invalid_not_a_crash():
    with pytest.raises(InvalidMessage) as error:
        pubsub.broadcast_metrics("emitter", {"events_emitted": 5, "duration_ms": 0})
    assert list(error.value.errors) == ["duration_ms"]


def test_broadcast_metrics_other_component_keeps_the_whole_map_in_tags():
    data = wire(
        pubsub.broadcast_metrics(
            "cluster_health", {"value": 3, "unit": "nodes", "failed_nodes": 1}
        )
    )
    payload = data["payload"]
    assert (
        payload["metric_name"],
        payload["value"],
        payload["unit"],
        payload["component"],
    ) == (
        "cluster_health",
        3,
        "nodes",
        "cluster_health",
    )
    assert payload["tags"] == {"value": 3, "unit": "nodes", "failed_nodes": 1}


def test_broadcast_alert_puts_each_argument_in_its_field():
    # Upstream defect 3: severity := alert_type, category := severity, description := context.
    data = wire(
        pubsub.broadcast_alert(
            "node_failure", "critical", "Node down", {"affected_node": "node1"}
        )
    )
    assert (data["category"], data["topic"], data["tag"], data["severity"]) == (
        "alerts",
        "node_failure",
        "system_alert",
        "critical",
    )
    payload = data["payload"]
    assert payload["severity"] == "critical"
    assert payload["alert_type"] == "node_failure"
    assert payload["title"] == "Node down"
    assert payload["metadata"] == {"affected_node": "node1"}
    assert payload["category"] == "network"
    assert payload["requires_ack"] is True
    assert len(payload["alert_id"]) == 16


def test_broadcast_alert_warning_needs_no_ack_and_maps_resource_alerts_to_performance():
    data = wire(
        pubsub.broadcast_alert("resource_warning", "warning", "High resource usage")
    )
    assert data["payload"]["requires_ack"] is False
    assert data["payload"]["category"] == "performance"
    assert data["severity"] == "warning"


def test_broadcast_alert_rejects_unknown_severity():
    with pytest.raises(InvalidMessage) as error:
        pubsub.broadcast_alert("node_failure", "urgent", "Node down")
    assert list(error.value.errors) == ["severity"]
    assert Message.objects.count() == 0


def test_broadcast_audit_event_maps_actor_resource_and_action():
    # Upstream defect 5: resource_type := action, action := the enriched map.
    data = wire(
        pubsub.broadcast_audit_event(
            "data_change",
            "alice",
            "orders/42",
            "update",
            {"reason": "refund"},
            resource_type="order",
        )
    )
    assert (data["category"], data["topic"], data["tag"]) == (
        "audit",
        "data_change",
        "data_change",
    )
    payload = data["payload"]
    assert payload["user_id"] == "alice"
    assert payload["resource_id"] == "orders/42"
    assert payload["resource_type"] == "order"
    assert payload["action"] == "update"
    assert payload["metadata"] == {"reason": "refund"}
    assert payload["event_type"] == "data_change"
    assert payload["node"] == NODE


def test_broadcast_audit_event_keeps_the_node_option():
    data = wire(
        pubsub.broadcast_audit_event("access", "bob", "r1", "read", node="web2@h")
    )
    assert data["payload"]["node"] == "web2@h"
    assert data["node"] == "web2@h"


def test_broadcast_lifecycle_event_maps_component_to_module_and_keeps_details():
    data = wire(
        pubsub.broadcast_lifecycle_event(
            "crashed",
            "persistence_worker_main",
            {
                "component": "persistence_worker",
                "reason": "boom",
                "restart_count": 2,
                "extra": 1,
            },
        )
    )
    assert (data["category"], data["topic"], data["tag"]) == (
        "lifecycle",
        "process_lifecycle",
        "process_lifecycle_event",
    )
    payload = data["payload"]
    assert payload["name"] == "persistence_worker_main"
    assert payload["pid"] == "persistence_worker_main"
    assert payload["module"] == "persistence_worker"
    assert payload["event"] == "crashed"
    assert payload["reason"] == "boom"
    assert payload["restart_count"] == 2
    assert payload["details"]["extra"] == 1


def test_broadcast_lifecycle_event_without_component_has_unknown_module():
    data = wire(pubsub.broadcast_lifecycle_event("started", "worker-1"))
    assert data["payload"]["module"] == "unknown"
    assert data["payload"]["restart_count"] == 0


def test_broadcast_diagnostic_is_a_debug_trace_with_data_intact():
    data = wire(
        pubsub.broadcast_diagnostic("slow_query", "store", {"ms": 120, "query": "q"})
    )
    assert (data["category"], data["topic"], data["tag"]) == (
        "diagnostics",
        "diagnostics",
        "debug_trace",
    )
    payload = data["payload"]
    assert payload["operation"] == "slow_query"
    assert payload["component"] == "store"
    assert payload["trace_data"] == {"ms": 120, "query": "q"}
    assert payload["trace_id"].startswith("trace_") and len(payload["trace_id"]) == 22


def test_broadcast_security_event_auth_event():
    data = wire(
        pubsub.broadcast_security_event(
            "auth_event",
            user_id="alice",
            event_type="login_failure",
            auth_method="password",
            source_ip="10.0.0.7",
        )
    )
    assert (data["category"], data["topic"], data["tag"]) == (
        "security",
        "auth_events",
        "auth_event",
    )
    assert data["payload"]["source_ip"] == "10.0.0.7"
    assert data["payload"]["node"] == NODE


def test_broadcast_security_event_access_violation_has_severity_and_no_payload_node():
    data = wire(
        pubsub.broadcast_security_event(
            "access_violation",
            violation_type="permission_denied",
            resource="/admin/",
            action="GET",
            severity="high",
        )
    )
    assert data["severity"] == "error"
    assert "node" not in data["payload"]
    assert data["node"] == NODE


def test_broadcast_security_event_rejects_unknown_kind():
    with pytest.raises(InvalidMessage) as error:
        pubsub.broadcast_security_event("hack", user_id="x")
    assert list(error.value.errors) == ["kind"]


def test_broadcast_log_entry_accepts_python_levels():
    data = wire(
        pubsub.broadcast_log_entry(
            logging.WARNING, "disk almost full", "app.disk", line=12, function="check"
        )
    )
    assert (data["category"], data["topic"], data["tag"], data["severity"]) == (
        "logging",
        "application_logs",
        "log_entry",
        "warning",
    )
    payload = data["payload"]
    assert (
        payload["level"],
        payload["message"],
        payload["module"],
        payload["line"],
        payload["function"],
    ) == (
        "warn",
        "disk almost full",
        "app.disk",
        12,
        "check",
    )


def test_broadcast_generic_payload_uses_the_type_default_topic():
    data = wire(pubsub.broadcast(metrics.latency_metric("broadcast", 1.5, "p99", 200)))
    assert (data["category"], data["topic"], data["tag"]) == (
        "metrics",
        "latency",
        "latency_metric",
    )


def test_broadcast_rejects_a_category_that_disagrees_with_the_type():
    with pytest.raises(InvalidMessage) as error:
        pubsub.broadcast(health.node_health(NODE, "healthy"), category="metrics")
    assert list(error.value.errors) == ["category"]


def test_broadcast_refuses_the_events_category():
    with pytest.raises(UnknownCategory) as error:
        pubsub.broadcast(health.node_health(NODE, "healthy"), category="events")
    assert "application domain events are out of scope" in str(error.value)


def test_broadcast_refuses_anything_but_a_payload():
    with pytest.raises(InvalidMessage) as error:
        pubsub.broadcast({"event": "started"})  # type: ignore[arg-type]
    assert list(error.value.errors) == ["payload"]


# --- bad input: InvalidMessage naming the field, and nothing stored -----------------------

BAD_INPUTS = [
    (
        "unknown enum (status)",
        lambda: pubsub.broadcast_health_update("c", "fine"),
        "status",
    ),
    (
        "unknown lifecycle event",
        lambda: pubsub.broadcast_system_lifecycle("exploded", "s", "1"),
        "event",
    ),
    (
        "missing required field",
        lambda: pubsub.broadcast_system_lifecycle("started", None, "1"),
        "system_name",
    ),
    (
        "missing config changes",
        lambda: pubsub.broadcast_system_config("db", None),
        "changes",
    ),
    (
        "non-JSON-serialisable payload",
        lambda: pubsub.broadcast_health_update("c", "healthy", {"when": object()}),
        "details.when",
    ),
    (
        "naive datetime",
        lambda: pubsub.broadcast(
            health.component_health(
                "c", NODE, "healthy", last_check=datetime(2026, 1, 1)
            )
        ),
        "last_check",
    ),
    (
        "empty node name",
        lambda: pubsub.broadcast_health_update("c", "healthy", node=""),
        "node",
    ),
    (
        "non-identifier node name",
        lambda: pubsub.broadcast_health_update("c", "healthy", node="my node!"),
        "node",
    ),
    (
        "integer node name",
        lambda: pubsub.broadcast_health_update("c", "healthy", node=7),
        "node",
    ),
    (
        "bad source node",
        lambda: pubsub.broadcast_health_update("c", "healthy", source_node="a b"),
        "source_node",
    ),
    (
        "bad originating node",
        lambda: pubsub.broadcast_cluster_health([], [], "x", originating_node=""),
        "originating_node",
    ),
    (
        "invalid store id",
        lambda: pubsub.broadcast_store_health("no good", "c", "healthy"),
        "store_id",
    ),
    (
        "oversized payload",
        lambda: pubsub.broadcast_health_update("c", "healthy", {"blob": "x" * 70_000}),
        "payload",
    ),
    (
        "bad topic",
        lambda: pubsub.broadcast_health_update("c", "healthy", topic="has space"),
        "topic",
    ),
    (
        "empty topic",
        lambda: pubsub.broadcast_health_update("c", "healthy", topic=""),
        "topic",
    ),
    (
        "NaN metric",
        lambda: pubsub.broadcast_metrics("x", {"value": float("nan")}),
        "value",
    ),
    (
        "details not a mapping",
        lambda: pubsub.broadcast_health_update("c", "healthy", ["a"]),
        "details",
    ),
    (
        "unknown option",
        lambda: pubsub.broadcast_alert("x", "info", "m", colour="red"),
        "colour",
    ),
]


@pytest.mark.parametrize(
    ("case", "call", "field"), BAD_INPUTS, ids=[case for case, _, _ in BAD_INPUTS]
)
def test_bad_input_raises_invalid_message_naming_the_field_and_stores_nothing(
    case, call, field
):
    pubsub.broadcast_system_lifecycle("started", "baseline", "1")
    with pytest.raises(InvalidMessage) as error:
        call()
    assert field in error.value.errors, error.value.errors
    assert field in str(error.value)
    assert isinstance(error.value, ValueError)
    assert Message.objects.count() == 1


def test_oversized_limit_follows_the_setting():
    with override_settings(
        OPSMESSAGING={"NODE_NAME": NODE, "MAX_PAYLOAD_BYTES": 100_000}
    ):
        wire(pubsub.broadcast_health_update("c", "healthy", {"blob": "x" * 70_000}))


# --- enabled / disabled ------------------------------------------------------------------


def test_disabled_stores_nothing_and_says_disabled():
    pubsub.disable()
    assert pubsub.enabled() is False
    results = [
        pubsub.broadcast_system_lifecycle("started", "s", "1"),
        pubsub.broadcast_system_config("db", {"a": 1}),
        pubsub.broadcast_cluster_health(["n1"], [], "node_reconnected"),
        pubsub.broadcast_health_update("c", "healthy", {"test": True}),
    ]
    assert [(r.status, r.message, r.error) for r in results] == [
        ("disabled", None, None)
    ] * 4
    assert Message.objects.count() == 0


def test_enable_overrides_the_setting():
    with override_settings(OPSMESSAGING={"PUBSUB_INTEGRATION": False}):
        assert pubsub.enabled() is False
        pubsub.enable()
        assert pubsub.enabled() is True
        assert pubsub.broadcast_health_update("c", "healthy").status == "ok"


@pytest.mark.parametrize("value", ["true", 1, None, "yes"])
def test_only_true_enables(value):
    with override_settings(OPSMESSAGING={"PUBSUB_INTEGRATION": value}):
        assert pubsub.enabled() is False


def test_intervals_default_and_follow_settings_live():
    assert (
        pubsub.health_broadcast_interval(),
        pubsub.metrics_broadcast_interval(),
    ) == (30_000, 60_000)
    with override_settings(
        OPSMESSAGING={
            "HEALTH_BROADCAST_INTERVAL": 45_000,
            "METRICS_BROADCAST_INTERVAL": 90_000,
        }
    ):
        assert (
            pubsub.health_broadcast_interval(),
            pubsub.metrics_broadcast_interval(),
        ) == (45_000, 90_000)


# --- store failures ----------------------------------------------------------------------


def test_store_failure_returns_error_and_logs_failed_to_broadcast(monkeypatch, caplog):
    def broken(envelope):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(Message.objects, "append", broken)
    with caplog.at_level(logging.WARNING, logger="opsmessaging.publishing"):
        result = pubsub.broadcast_system_lifecycle("started", "s", "1")
    assert result.status == "error"
    assert result.message is None
    assert result.error == "DatabaseError: connection refused"
    assert (
        "Failed to broadcast SystemLifecycle to system/lifecycle: DatabaseError: connection refused"
        in caplog.text
    )


# --- sequences and batches ---------------------------------------------------------------


def test_sequences_are_per_category_and_contiguous():
    results = [
        pubsub.broadcast_health_update("a", "healthy"),
        pubsub.broadcast_alert("x", "info", "m"),
        pubsub.broadcast_health_update("b", "healthy"),
        pubsub.broadcast_alert("y", "info", "m"),
        pubsub.broadcast_health_update("c", "healthy"),
    ]
    assert [(r.message.category, r.message.sequence) for r in results] == [
        ("health", 1),
        ("alerts", 1),
        ("health", 2),
        ("alerts", 2),
        ("health", 3),
    ]


def test_broadcast_batch_stores_every_kind_with_contiguous_sequences():
    pubsub.broadcast_alert("first", "info", "m")
    batch = pubsub.broadcast_batch(
        [
            ("system_lifecycle", "started", "s", "1"),
            ("health_update", "c", "healthy", {"x": 1}),
            ("metrics", "persistence", {"operations_count": 4}),
            ("alert", "node_failure", "critical", "Node down", {"n": 1}),
            ("alert", "other", "warning", "w", None),
            alerts.alert_ack("abc123", "ops"),
        ]
    )
    assert batch.as_dict() == {"success": 6, "errors": 0}
    assert [
        (r.status, r.message.category, r.message.sequence) for r in batch.results
    ] == [
        ("ok", "system", 1),
        ("ok", "health", 1),
        ("ok", "metrics", 1),
        ("ok", "alerts", 2),
        ("ok", "alerts", 3),
        ("ok", "alerts", 4),
    ]
    assert Message.objects.count() == 7
    assert Message.objects.get(category="alerts", sequence=2).payload["metadata"] == {
        "n": 1
    }


def test_broadcast_batch_is_all_or_nothing_on_validation():
    with pytest.raises(InvalidMessage) as error:
        pubsub.broadcast_batch(
            [
                ("health_update", "c", "healthy", {}),
                ("unknown_event_type", "invalid", "data"),
                ("alert", "x", "urgent", "m", {}),
            ]
        )
    assert set(error.value.errors) == {"events[1].kind", "events[2].severity"}
    assert Message.objects.count() == 0


def test_broadcast_batch_reports_wrong_arity():
    with pytest.raises(InvalidMessage) as error:
        pubsub.broadcast_batch([("metrics", "x")])
    assert list(error.value.errors) == ["events[0].arguments"]


def test_broadcast_batch_disabled_summary():
    pubsub.disable()
    batch = pubsub.broadcast_batch([("health_update", "c", "healthy", {})])
    assert batch.as_dict() == {"success": 0, "errors": 0, "disabled": True}
    assert Message.objects.count() == 0


def test_broadcast_batch_store_failure_counts_every_event_as_error(monkeypatch, caplog):
    def broken(envelopes):
        raise DatabaseError("disk full")

    monkeypatch.setattr(Message.objects, "append_many", broken)
    with caplog.at_level(logging.WARNING, logger="opsmessaging.publishing"):
        batch = pubsub.broadcast_batch(
            [("health_update", "c", "healthy", {}), ("alert", "a", "info", "m", {})]
        )
    assert batch.as_dict() == {"success": 0, "errors": 2}
    assert [r.status for r in batch.results] == ["error", "error"]
    assert "Batch broadcast: 0 succeeded, 2 failed" in caplog.text


def test_broadcast_batch_applies_shared_options():
    batch = pubsub.broadcast_batch(
        [("health_update", "c", "healthy", {})], node="web9@h"
    )
    assert batch.results[0].message.node == "web9@h"


# --- compatibility report ----------------------------------------------------------------


def test_compatibility_report_has_the_seed_sections_plus_ours_and_passes():
    report = pubsub.validate_messaging_compatibility()
    assert list(report) == [
        "operational_helpers",
        "gater_integration",
        "node_consistency",
        "timestamp_precision",
        "delivery",
        "signing",
        "encryption",
        "schemas",
    ]
    assert report["schemas"]["schemas"] == 37  # 36 types, ComponentHealth in 2 versions
    assert set(report["schemas"]["samples"].values()) == {"ok"}
    delivery = report["delivery"]
    assert delivery["configured"] is True
    assert delivery["round_trip"] == "ok"
    assert delivery["backend"] == settings.CHANNEL_LAYERS["default"]["BACKEND"]
    helpers = report["operational_helpers"]
    assert helpers["node_helper"] is True
    assert helpers["cluster_context"] == {
        "node_name": NODE,
        "connected_nodes": [],
        "cluster_size": 1,
        "node_type": "combined_node",
    }
    assert helpers["timestamp_helper"].tzinfo is UTC
    gater = report["gater_integration"]
    assert gater["gater_available"] is True
    assert gater["payload_types"] == 36
    assert gater["tests"] == {
        f"{c}_messages": "ok"
        for c in (
            "system",
            "health",
            "metrics",
            "security",
            "audit",
            "alerts",
            "diagnostics",
            "lifecycle",
            "logging",
        )
    }
    assert report["node_consistency"] == {
        "system_has_node": True,
        "health_has_node": True,
        "all_categories_have_node_fields": True,
    }
    precision = report["timestamp_precision"]
    assert precision["millisecond_truncated"] is True
    assert precision["has_precision"] is True
    assert precision["wire_format_valid"] is True
    assert pubsub.is_compatible(report) is True
    assert Message.objects.count() == 0


def test_compatibility_report_really_checks_truncation(monkeypatch):
    # Upstream: millisecond_truncated was `microsecond != nil`, always true.
    monkeypatch.setattr(
        compatibility,
        "current_timestamp",
        lambda: datetime.now(UTC).replace(microsecond=123_456),
    )
    report = pubsub.validate_messaging_compatibility()
    assert report["timestamp_precision"]["millisecond_truncated"] is False
    assert pubsub.is_compatible(report) is False


def test_compatibility_report_flags_a_broken_category(monkeypatch):
    def broken():
        raise RuntimeError("catalogue broken")

    monkeypatch.setitem(samples.SAMPLES, Category.AUDIT, broken)
    report = pubsub.validate_messaging_compatibility()
    assert (
        report["gater_integration"]["tests"]["audit_messages"]
        == "error: RuntimeError: catalogue broken"
    )
    assert pubsub.is_compatible(report) is False


def test_compatibility_report_section_failure_is_reported_not_raised(monkeypatch):
    def boom():
        raise RuntimeError("no cluster")

    monkeypatch.setattr(compatibility, "cluster_context", boom)
    report = pubsub.validate_messaging_compatibility()
    assert report["operational_helpers"] == {
        "error": "operational_helpers_failure: RuntimeError: no cluster"
    }
    assert pubsub.is_compatible(report) is False


def test_broadcast_from_inside_a_failed_transaction_keeps_the_callers_work_consistent():
    from django.db import transaction

    with transaction.atomic():
        first = pubsub.broadcast_health_update("a", "healthy")
        second = pubsub.broadcast_health_update("b", "healthy")
    assert (first.message.sequence, second.message.sequence) == (1, 2)
    with pytest.raises(RuntimeError), transaction.atomic():
        pubsub.broadcast_health_update("rolled_back", "healthy")
        raise RuntimeError("caller fails")
    assert pubsub.broadcast_health_update("c", "healthy").message.sequence == 3


def test_node_option_none_means_this_node():
    data = wire(
        pubsub.broadcast_system_lifecycle("started", "s", "1", node=None, topic=None)
    )
    assert (data["node"], data["payload"]["node"], data["topic"]) == (
        NODE,
        NODE,
        "lifecycle",
    )

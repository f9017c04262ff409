from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families

from opsmessaging import fanout, pubsub
from opsmessaging.catalogue import alerts, metrics
from opsmessaging.models import ComponentStatus, Node

URL = "/opsmessaging/prometheus/metrics"
TOKEN = "s3cret-token-of-32-characters-xx"
NODE = "web1@test"


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.OPSMESSAGING = {
        **settings.OPSMESSAGING,
        "CAPTURE_AUTH": False,
        "METRICS_TOKEN": TOKEN,
        "NODE_NAME": NODE,
    }


@pytest.fixture(autouse=True)
def _fresh_delivery_stats() -> Iterator[None]:
    saved = fanout.stats.delivered, fanout.stats.failed
    fanout.stats.delivered = fanout.stats.failed = 0
    fanout.stats.latencies_ms.clear()
    yield
    fanout.stats.delivered, fanout.stats.failed = saved


def _scrape(accept: str = "") -> tuple[str, dict[tuple[str, tuple[Any, ...]], float]]:
    response = Client().get(
        URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_ACCEPT=accept
    )
    assert response.status_code == 200, response.content
    text = response.content.decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return response["Content-Type"], samples


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def _names(samples: dict[Any, float], prefix: str) -> set[tuple[Any, ...]]:
    return {labels for name, labels in samples if name == prefix}


@pytest.mark.django_db
def test_messages_stored_and_last_sequence_count_the_broadcasts() -> None:
    for value in (1.0, 2.0, 3.0):
        pubsub.broadcast(metrics.performance_metric("rps", value, "1/s"))
    pubsub.broadcast(metrics.latency_metric("query", 12.5, "p95", 40))
    _, samples = _scrape()
    assert (
        _value(
            samples,
            "opsmessaging_messages_stored",
            category="metrics",
            payload_type="PerformanceMetric",
        )
        == 3
    )
    assert (
        _value(
            samples,
            "opsmessaging_messages_stored",
            category="metrics",
            payload_type="LatencyMetric",
        )
        == 1
    )
    assert (
        _value(samples, "opsmessaging_category_last_sequence", category="metrics") == 4
    )
    assert _value(samples, "opsmessaging_category_last_sequence", category="audit") == 0


@pytest.mark.django_db
def test_latest_measurements_become_gauges_by_node() -> None:
    pubsub.broadcast(metrics.resource_usage("cpu", 10.0, 8, 0.8, node="a@h"))
    pubsub.broadcast(metrics.resource_usage("cpu", 55.0, 8, 4.4, node="a@h"))
    pubsub.broadcast(metrics.resource_usage("memory", 25.0, 16, 4, node="b@h"))
    pubsub.broadcast(metrics.latency_metric("query", 12.5, "p95", 40, node="a@h"))
    pubsub.broadcast(
        metrics.performance_metric("rps", 7.0, "1/s", component="api", node="a@h")
    )
    _, samples = _scrape()
    assert _names(samples, "opsmessaging_resource_usage_ratio") == {
        (("node", "a@h"), ("resource", "cpu")),
        (("node", "b@h"), ("resource", "memory")),
    }
    assert (
        _value(samples, "opsmessaging_resource_usage_ratio", node="a@h", resource="cpu")
        == 0.55
    )
    assert (
        _value(
            samples,
            "opsmessaging_operation_latency_seconds",
            node="a@h",
            operation="query",
            percentile="p95",
        )
        == 0.0125
    )
    assert (
        _value(
            samples,
            "opsmessaging_performance_metric",
            node="a@h",
            component="api",
            metric="rps",
            unit="1/s",
        )
        == 7.0
    )


@pytest.mark.django_db
def test_open_alerts_by_severity_and_nodes_by_status() -> None:
    pubsub.broadcast(alerts.system_alert("critical", "system", "disk", None, "t"))
    pubsub.broadcast(alerts.system_alert("critical", "system", "cpu", None, "t"))
    pubsub.broadcast(
        alerts.system_alert("info", "system", "fyi", None, "t", requires_ack=False)
    )
    Node.heartbeat("a@h", role="web")
    Node.heartbeat("b@h", role="worker")
    Node.objects.filter(name="b@h").update(status=Node.Status.FAILED)
    _, samples = _scrape()
    assert _value(samples, "opsmessaging_open_alerts", severity="critical") == 2
    assert _value(samples, "opsmessaging_open_alerts", severity="info") == 0
    assert _value(samples, "opsmessaging_nodes", status="healthy") == 1
    assert _value(samples, "opsmessaging_nodes", status="failed") == 1
    assert _value(samples, "opsmessaging_nodes", status="stopped") == 0
    heartbeat = Node.objects.get(name="a@h").last_heartbeat_at
    assert heartbeat is not None
    assert _value(
        samples,
        "opsmessaging_node_last_heartbeat_timestamp_seconds",
        node="a@h",
        role="web",
    ) == pytest.approx(heartbeat.timestamp())


@pytest.mark.django_db
def test_component_status_is_one_for_the_current_status() -> None:
    ComponentStatus.record("a@h", "database", "healthy")
    ComponentStatus.record("a@h", "database", "degraded")
    _, samples = _scrape()
    assert {
        status: _value(
            samples,
            "opsmessaging_component_status",
            node="a@h",
            component="database",
            status=status,
        )
        for status in ("healthy", "degraded", "unhealthy")
    } == {"healthy": 0, "degraded": 1, "unhealthy": 0}


@pytest.mark.django_db
def test_delivery_counters_are_labelled_by_this_node() -> None:
    fanout.stats.record(5, None, 2.0)
    fanout.stats.record(2, "delivery failed: boom", 0.0)
    _, samples = _scrape()
    assert (
        _value(samples, "opsmessaging_fanout_delivered_messages_total", node=NODE) == 5
    )
    assert _value(samples, "opsmessaging_fanout_failed_messages_total", node=NODE) == 2
    assert (
        _value(
            samples, "opsmessaging_fanout_latency_seconds", node=NODE, quantile="0.5"
        )
        == 0.002
    )


@pytest.mark.django_db
def test_spool_depth_is_reported_when_a_spool_is_configured(
    settings: Any, tmp_path: Any
) -> None:
    _, samples = _scrape()
    assert _names(samples, "opsmessaging_spool_messages") == set()
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "SPOOL_DIR": str(tmp_path)}
    _, samples = _scrape()
    assert _value(samples, "opsmessaging_spool_messages", node=NODE) == 0
    assert _value(samples, "opsmessaging_spool_size_bytes", node=NODE) == 0


@pytest.mark.django_db
def test_prometheus_text_format_by_default() -> None:
    content_type, _ = _scrape()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"


@pytest.mark.django_db
def test_openmetrics_when_accepted() -> None:
    pubsub.broadcast(metrics.performance_metric("rps", 1.0, "1/s"))
    response = Client().get(
        URL,
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
        HTTP_ACCEPT="application/openmetrics-text; version=1.0.0",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    text = response.content.decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parse_openmetrics(text)}
    assert families["opsmessaging_fanout_delivered_messages"].type == "counter"
    stored = families["opsmessaging_messages_stored"]
    assert [
        (s.labels, s.value)
        for s in stored.samples
        if s.labels["payload_type"] == "PerformanceMetric"
    ] == [({"category": "metrics", "payload_type": "PerformanceMetric"}, 1.0)]


@pytest.mark.django_db
def test_anonymous_scrape_is_refused_with_a_bearer_challenge() -> None:
    response = Client().get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="opsmessaging"'


@pytest.mark.django_db
def test_wrong_token_is_refused() -> None:
    response = Client().get(URL, HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


@pytest.mark.django_db
def test_no_token_configured_refuses_every_bearer(settings: Any) -> None:
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "METRICS_TOKEN": None}
    response = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 401


@pytest.mark.django_db
def test_user_needs_view_permission() -> None:
    client = Client()
    user = User.objects.create_user("nobody")
    client.force_login(user)
    assert client.get(URL).status_code == 403
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="opsmessaging", codename="view_message"
        )
    )
    user = User.objects.get(pk=user.pk)
    client.force_login(user)
    assert client.get(URL).status_code == 200


@pytest.mark.django_db
def test_only_get_is_allowed() -> None:
    response = Client().post(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


def test_without_prometheus_client_the_route_is_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib
    import importlib.util

    from opsmessaging import urls

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "prometheus_client" else real(name, *a),
    )
    try:
        names = [p.name for p in importlib.reload(urls).urlpatterns]
        assert "prometheus-metrics" not in names
        assert "stream" in names
    finally:
        monkeypatch.undo()
        importlib.reload(urls)
    assert "prometheus-metrics" in [p.name for p in urls.urlpatterns]

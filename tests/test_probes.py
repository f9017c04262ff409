"""Health probes of this node's real components, and the health run that broadcasts them."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from opsmessaging import probes
from opsmessaging.models import ComponentStatus, Message

NODE = "web1@h"
# A port nothing listens on: the cache behind it fails for real.
BROKEN_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


@pytest.fixture(autouse=True)
def node(settings):
    settings.OPSMESSAGING = {
        "NODE_NAME": NODE,
        "HEALTH_PROBE_TIMEOUT": 200,
        "HEALTH_PROBE_SLOW": 1000,
    }


@pytest.mark.django_db
def test_database_probe_makes_a_round_trip():
    probe = probes.probe_database()
    assert (probe.component, probe.status, probe.error) == ("database", "healthy", None)
    assert probe.details == {
        "alias": "default",
        "vendor": probes.connections["default"].vendor,
    }
    assert 0 < probe.duration_ms < 1000


def test_cache_probe_reads_back_what_it_wrote():
    probe = probes.probe_cache()
    assert (probe.status, probe.error) == ("healthy", None)
    assert probe.details["backend"] == "django.core.cache.backends.locmem.LocMemCache"


def test_cache_probe_reports_an_unreachable_cache_with_its_reason():
    with override_settings(CACHES=BROKEN_CACHE):
        probe = probes.probe_cache()
    assert probe.status == "unhealthy"
    assert probe.error.startswith("ConnectionError: ")


def test_channel_layer_probe_round_trips_through_the_layer():
    probe = probes.probe_channel_layer()
    assert (probe.component, probe.status) == ("channel_layer", "healthy")
    assert probe.details["backend"].startswith("channels")
    assert probe.duration_ms > 0


def test_channel_layer_probe_is_skipped_without_a_layer():
    with override_settings(CHANNEL_LAYERS={}):
        assert probes.probe_channel_layer() is None


def test_a_successful_but_slow_probe_is_degraded(settings):
    settings.OPSMESSAGING = {"HEALTH_PROBE_SLOW": 5}
    probe = probes._timed("disk", lambda: time.sleep(0.02) or {})
    assert probe.status == "degraded"
    assert probe.error == f"slow: {probe.duration_ms:g} ms (HEALTH_PROBE_SLOW is 5 ms)"


@pytest.mark.django_db
def test_workers_probe_without_a_worker_is_unhealthy():
    from project.celery import app

    probe = probes.probe_workers(app)
    assert probe.status == "unhealthy"
    assert probe.error == "no worker answered a ping within 0.2 s"


@pytest.mark.django_db
def test_broker_probe_connects_to_the_broker():
    from project.celery import app

    probe = probes.probe_broker(app)
    assert (probe.status, probe.error) == ("healthy", None)
    assert probe.details["transport"] in ("memory", "redis")


@pytest.mark.django_db
def test_health_run_broadcasts_each_component_and_the_node():
    probes.run_health()
    components = Message.objects.filter(payload_type="ComponentHealth").order_by("id")
    assert [m.payload["component"] for m in components] == [
        "database",
        "cache",
        "channel_layer",
    ]
    for message in components:
        assert (message.topic, message.node) == ("component_health", NODE)
        assert message.payload["status"] == "healthy"
        assert message.payload["details"]["error"] is None
        assert message.payload["details"]["duration_ms"] > 0
        assert message.payload["last_check"] is not None
    node = Message.objects.get(payload_type="NodeHealth")
    assert (node.topic, node.payload["node"], node.payload["status"]) == (
        "node_health",
        NODE,
        "healthy",
    )
    assert set(node.payload["checks"]) == {"database", "cache", "channel_layer"}
    assert node.payload["load_avg"] >= 0
    assert 0 < node.payload["memory_usage"] <= 100
    assert 0 < node.payload["disk_usage"] <= 100
    assert not Message.objects.filter(category="alerts").exists()


@pytest.mark.django_db
def test_a_failing_component_raises_one_critical_alert_then_recovery():
    with override_settings(CACHES=BROKEN_CACHE):
        probes.run_health()
        probes.run_health()
    node = Message.objects.filter(payload_type="NodeHealth").order_by("id").first()
    assert node.payload["status"] == "unhealthy"
    assert node.payload["checks"]["cache"]["error"].startswith("ConnectionError")
    [alert] = Message.objects.filter(category="alerts")
    assert (alert.topic, alert.payload["severity"]) == ("health_critical", "critical")
    assert alert.payload["title"].startswith(
        f"cache on {NODE} is unhealthy: ConnectionError"
    )
    assert alert.payload["metadata"]["previous_status"] is None
    probes.run_health()
    recovered = Message.objects.filter(category="alerts").order_by("id").last()
    assert (recovered.topic, recovered.payload["severity"]) == (
        "health_recovered",
        "info",
    )
    assert recovered.payload["title"] == f"cache on {NODE} recovered (was unhealthy)"
    assert ComponentStatus.objects.get(node=NODE, component="cache").status == "healthy"


@pytest.mark.django_db
def test_health_run_with_celery_probes_broker_and_workers():
    from project.celery import app

    result = {p.component: p for p in probes.run_health(app)}
    assert set(result) == {
        "database",
        "cache",
        "channel_layer",
        "celery_broker",
        "celery_workers",
    }
    assert result["celery_workers"].status == "unhealthy"
    alert = Message.objects.get(category="alerts")
    assert alert.payload["metadata"]["component"] == "celery_workers"

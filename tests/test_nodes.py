"""Node membership: heartbeats, failure detection reported once, return, clean leave."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from opsmessaging import nodes
from opsmessaging.models import Message, Node
from tests import celery_live
from tests.celery_live import CeleryProcesses, wait_for
from tests.concurrency import run_together

celery_processes = celery_live.celery_processes

ME = "n1@h"


@pytest.fixture
def me(settings):
    settings.OPSMESSAGING = {
        "NODE_NAME": ME,
        "HEARTBEAT_INTERVAL": 1000,
        "NODE_FAILURE_THRESHOLD": 3,
    }
    return ME


def _silence(name: str, seconds: float = 10) -> None:
    Node.objects.filter(name=name).update(
        last_heartbeat_at=timezone.now() - timedelta(seconds=seconds)
    )


def _membership() -> list[tuple[str, list[str], list[str], str]]:
    return [
        (
            m.payload["event"],
            m.payload["affected_nodes"],
            m.payload["active_nodes"],
            m.originating_node,
        )
        for m in Message.objects.filter(payload_type="ClusterMembership").order_by("id")
    ]


@pytest.mark.django_db
def test_first_heartbeat_registers_the_node_and_announces_it_once(me):
    nodes.heartbeat("web")
    nodes.heartbeat("web")
    node = Node.objects.get(name=ME)
    assert (node.role, node.status, node.metadata["pid"] > 0) == (
        "web",
        "healthy",
        True,
    )
    assert _membership() == [("node_added", [ME], [ME], ME)]


@pytest.mark.django_db
def test_a_silent_node_is_declared_failed_once_with_health_alert_and_membership(me):
    nodes.heartbeat("web")
    Node.heartbeat("n2@h", role="worker")
    Node.heartbeat("n3@h", role="worker")
    _silence("n3@h")
    Message.objects.all().delete()
    assert nodes.check_cluster() == ["n3@h"]
    assert nodes.check_cluster() == []
    cluster = Message.objects.get(payload_type="ClusterHealth")
    assert (cluster.topic, cluster.originating_node) == ("cluster:health", ME)
    assert {
        key: cluster.payload[key]
        for key in (
            "status",
            "healthy_nodes",
            "unhealthy_nodes",
            "total_nodes",
            "quorum_status",
            "event_type",
        )
    } == {
        "status": "degraded",
        "healthy_nodes": [ME, "n2@h"],
        "unhealthy_nodes": ["n3@h"],
        "total_nodes": 3,
        "quorum_status": "available",
        "event_type": "node_failure",
    }
    alert = Message.objects.get(category="alerts")
    assert (alert.topic, alert.payload["severity"], alert.originating_node) == (
        "node_failure",
        "critical",
        ME,
    )
    assert alert.payload["title"] == "Node n3@h missed 3 heartbeats"
    assert alert.payload["metadata"]["affected_node"] == "n3@h"
    assert alert.payload["metadata"]["role"] == "worker"
    assert _membership() == [("node_removed", ["n3@h"], [ME, "n2@h"], ME)]
    membership = Message.objects.get(payload_type="ClusterMembership").payload
    assert (membership["total_nodes"], membership["quorum_status"]) == (3, "available")
    assert Node.objects.get(name="n3@h").status == "failed"


@pytest.mark.django_db
def test_a_node_within_its_missed_heartbeats_is_not_failed(me):
    Node.heartbeat("n2@h")
    _silence("n2@h", 2.5)  # 3 heartbeats of 1 s may be missed
    assert nodes.check_cluster() == []
    assert Node.objects.get(name="n2@h").status == "healthy"


@pytest.mark.django_db
def test_a_node_never_declares_itself_failed(me):
    nodes.heartbeat("web")
    _silence(ME)
    assert nodes.check_cluster() == []


@pytest.mark.django_db
def test_losing_the_majority_makes_the_cluster_unhealthy(me):
    nodes.heartbeat("web")
    for name in ("n2@h", "n3@h"):
        Node.heartbeat(name)
        _silence(name)
    assert nodes.check_cluster() == ["n2@h", "n3@h"]
    last = Message.objects.filter(payload_type="ClusterHealth").order_by("id").last()
    assert (last.payload["status"], last.payload["quorum_status"]) == (
        "unhealthy",
        "lost",
    )
    assert last.payload["unhealthy_nodes"] == ["n2@h", "n3@h"]


@pytest.mark.django_db
def test_a_failed_node_that_heartbeats_again_is_announced_back(me, settings):
    nodes.heartbeat("web")
    Node.heartbeat("n2@h", role="worker")
    _silence("n2@h")
    nodes.check_cluster()
    Message.objects.all().delete()
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "NODE_NAME": "n2@h"}
    nodes.heartbeat("worker")
    nodes.heartbeat("worker")
    cluster = Message.objects.get(payload_type="ClusterHealth")
    assert (cluster.payload["event_type"], cluster.payload["status"]) == (
        "node_reconnected",
        "healthy",
    )
    assert cluster.payload["healthy_nodes"] == [ME, "n2@h"]
    assert _membership() == [("node_added", ["n2@h"], [ME, "n2@h"], "n2@h")]
    assert Node.objects.get(name="n2@h").status == "healthy"


@pytest.mark.django_db
def test_a_node_that_leaves_is_stopped_not_failed(me, settings):
    nodes.heartbeat("web")
    Node.heartbeat("n2@h")
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "NODE_NAME": "n2@h"}
    assert nodes.leave() is True
    assert nodes.leave() is False
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "NODE_NAME": ME}
    _silence("n2@h")
    assert nodes.check_cluster() == []
    assert Node.objects.get(name="n2@h").status == "stopped"
    assert Node.objects.connected_names() == [ME]
    assert not Message.objects.filter(category="alerts").exists()
    assert _membership()[-1] == ("node_removed", ["n2@h"], [ME], "n2@h")
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "NODE_NAME": "n2@h"}
    nodes.heartbeat("worker")
    assert _membership()[-1] == ("node_added", ["n2@h"], [ME, "n2@h"], "n2@h")
    assert not Message.objects.filter(payload__event_type="node_reconnected").exists()


@pytest.mark.django_db(transaction=True)
def test_heartbeat_thread_heartbeats_and_leaves_when_stopped(me):
    thread = nodes.start_heartbeat("web")
    try:
        assert nodes.start_heartbeat("web") is thread
        assert nodes.current_role("worker") == "web"
        first = wait_for(
            lambda: Node.objects.filter(name=ME).first(), 5, "the first heartbeat"
        )
        wait_for(
            lambda: (
                Node.objects.get(name=ME).last_heartbeat_at > first.last_heartbeat_at
            ),
            5,
            "a second heartbeat",
        )
    finally:
        nodes.stop_heartbeat()
    assert not thread.is_alive()
    assert Node.objects.get(name=ME).status == "stopped"
    assert nodes.current_role("worker") == "worker"


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_checkers_report_a_failure_once(me):
    nodes.heartbeat("web")
    Node.heartbeat("n2@h")
    _silence("n2@h")
    declared = run_together(6, nodes.check_cluster)
    assert sorted(declared) == [[]] * 5 + [["n2@h"]]
    assert Message.objects.filter(payload__event_type="node_failure").count() == 1
    assert Message.objects.filter(category="alerts").count() == 1
    assert Message.objects.filter(payload__event="node_removed").count() == 1


# --- live: three node processes on PostgreSQL and Redis --------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_a_killed_node_is_reported_failed_once_by_a_survivor_then_back(
    celery_processes: CeleryProcesses,
):
    timing = {"HEARTBEAT_INTERVAL": 500, "NODE_FAILURE_THRESHOLD": 3}
    window = 1.5  # seconds: 3 missed heartbeats of 0.5 s
    workers = {
        name: celery_processes.worker(name, **timing)
        for name in ("n1@live", "n2@live", "n3@live")
    }
    wait_for(lambda: Node.objects.alive().count() == 3, 30, "three nodes heartbeating")
    workers["n3@live"].kill()
    killed_at = timezone.now()

    def failure() -> Message | None:
        return Message.objects.filter(payload__event_type="node_failure").first()

    reported = wait_for(failure, 10, "the node_failure report")
    assert (reported.timestamp - killed_at).total_seconds() <= window + 1.5
    time.sleep(2 * window)  # every survivor checked again meanwhile
    cluster = Message.objects.get(payload__event_type="node_failure")
    alert = Message.objects.get(category="alerts", topic="node_failure")
    removed = Message.objects.get(payload__event="node_removed")
    noticer = cluster.originating_node
    assert noticer in {"n1@live", "n2@live"}
    assert alert.originating_node == removed.originating_node == noticer
    assert removed.payload["originating_node"] == noticer
    assert cluster.payload["unhealthy_nodes"] == ["n3@live"]
    assert cluster.payload["healthy_nodes"] == ["n1@live", "n2@live"]
    assert alert.payload["metadata"]["affected_node"] == "n3@live"
    assert removed.payload["affected_nodes"] == ["n3@live"]

    celery_processes.worker("n3@live", **timing)
    back = wait_for(
        lambda: Message.objects.filter(payload__event_type="node_reconnected").first(),
        30,
        "the node_reconnected report",
    )
    time.sleep(2 * window)
    assert Message.objects.filter(payload__event_type="node_reconnected").count() == 1
    added = Message.objects.filter(
        payload__event="node_added", payload__affected_nodes=["n3@live"]
    ).order_by("id")
    assert [m.timestamp >= back.timestamp for m in added] == [False, True]
    assert back.payload["healthy_nodes"] == ["n1@live", "n2@live", "n3@live"]
    assert Message.objects.filter(payload__event_type="node_failure").count() == 1
    assert Node.objects.get(name="n3@live").status == "healthy"


@pytest.mark.django_db
def test_failure_reports_name_who_declared_each_node_failed(me):
    nodes.heartbeat("web")
    Node.heartbeat("w2@h", role="worker")
    Node.heartbeat("w3@h", role="worker")
    _silence("w2@h")
    _silence("w3@h")
    nodes.check_cluster()
    alerts = {
        m.payload["metadata"]["affected_node"]: m
        for m in Message.objects.filter(topic=nodes.NODE_FAILURE)
    }

    reports = nodes.failure_reports()

    assert reports == {
        name: {
            "reported_by": ME,
            "reported_at": alerts[name].timestamp,
            "alert_id": alerts[name].payload["alert_id"],
        }
        for name in ("w2@h", "w3@h")
    }


@pytest.mark.django_db
def test_failure_reports_keep_the_newest_report_of_a_node(me, settings):
    nodes.heartbeat("web")
    Node.heartbeat("w2@h", role="worker")
    _silence("w2@h")
    nodes.check_cluster()
    Node.heartbeat("w2@h", role="worker")
    Node.objects.filter(name="w2@h").update(status=Node.Status.HEALTHY)
    _silence("w2@h")
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "NODE_NAME": "n2@h"}
    nodes.check_cluster()
    newest = Message.objects.filter(topic=nodes.NODE_FAILURE).order_by("-id").first()

    assert nodes.failure_reports()["w2@h"]["reported_by"] == "n2@h"
    assert nodes.failure_reports()["w2@h"]["alert_id"] == newest.payload["alert_id"]


@pytest.mark.django_db
def test_cluster_view_gives_a_failure_only_while_the_node_is_failed(me):
    nodes.heartbeat("web")
    Node.heartbeat("w2@h", role="worker")
    _silence("w2@h")
    nodes.check_cluster()

    view = nodes.cluster_view(with_failures=True)
    failed = Node.objects.get(name="w2@h")
    failed.status = Node.Status.HEALTHY  # came back, as far as this row says

    assert view.alive == frozenset({ME})
    assert view.failure_of(Node.objects.get(name="w2@h"))["reported_by"] == ME
    assert view.failure_of(failed) is None
    assert nodes.cluster_view(with_failures=False).failures == {}

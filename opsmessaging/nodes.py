"""Node membership: every process heartbeats, and silent nodes are declared failed.

Each process that serves (web, worker, beat) starts ``start_heartbeat(role)`` by itself
(``opsmessaging.capture.lifecycle`` and the Celery signals; ``HEARTBEAT_AUTOSTART``): a
daemon thread records a heartbeat every ``HEARTBEAT_INTERVAL`` and runs ``check_cluster``,
which declares failed every other node silent for ``NODE_FAILURE_THRESHOLD`` intervals. A
change of status is taken with a conditional UPDATE inside the transaction that stores
its messages, so exactly one process reports it, however many are checking.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections, router, transaction
from django.utils import timezone

from opsmessaging import checkins, codec, notifications, pubsub
from opsmessaging.catalogue import lifecycle
from opsmessaging.categories import Category
from opsmessaging.conf import conf
from opsmessaging.models import GONE, Message, Node, heartbeat_window
from opsmessaging.nodenames import process_role, set_process_role, this_node

logger = logging.getLogger(__name__)

#: The alert type (and so the alerts topic) of a node declared failed.
NODE_FAILURE = "node_failure"
#: Newest ``node_failure`` alerts read by ``failure_reports``.
FAILURE_REPORTS_READ = 100


def _membership(event: str, name: str, me: str) -> None:
    """Broadcast a ``ClusterMembership`` change of ``name``, noticed by ``me``."""
    active = Node.objects.connected_names()
    failed = list(
        Node.objects.filter(status=Node.Status.FAILED).values_list("name", flat=True)
    )
    total = len(active) + len(failed)
    pubsub.broadcast(
        lifecycle.cluster_membership(
            event,
            [name],
            active,
            total_nodes=total,
            quorum_status=pubsub.quorum_status(total, len(failed)),
            originating_node=me,
        )
    )


def _cluster_health(event_type: str, me: str) -> None:
    failed = Node.objects.filter(status=Node.Status.FAILED)
    pubsub.broadcast_cluster_health(
        Node.objects.connected_names(),
        list(failed.values_list("name", flat=True)),
        event_type,
        originating_node=me,
    )


def heartbeat(role: str, **metadata: Any) -> Node:
    """Record this node's heartbeat (merging ``metadata``); announce it if it joins, or
    comes back. Every registration of this node goes through here.

    A node seen for the first time is ``node_added``; one that had failed or stopped is
    ``node_added`` again, and a failed one also gets a ``node_reconnected`` cluster health.
    """
    me = this_node()
    is_new = not Node.objects.filter(name=me).exists()
    node = Node.heartbeat(me, role=role, pid=os.getpid(), **metadata)
    if is_new:
        _membership("node_added", me, me)
    elif node.status in GONE:
        with transaction.atomic(using=router.db_for_write(Node)):
            if Node.objects.filter(pk=node.pk, status=node.status).update(
                status=Node.Status.HEALTHY, status_changed_at=timezone.now()
            ):
                logger.info("Node %s is back (was %s)", me, node.status)
                if node.status == Node.Status.FAILED:
                    _cluster_health("node_reconnected", me)
                _membership("node_added", me, me)
    return node


def check_cluster() -> list[str]:
    """Declare failed each other node silent for longer than the heartbeat window.

    For each, exactly one checking process broadcasts a ``node_failure`` cluster health, a
    critical ``node_failure`` alert and a ``node_removed`` membership change, all with
    ``originating_node`` set to itself. Returns the names this process declared failed.
    """
    me = this_node()
    cutoff = timezone.now() - heartbeat_window()
    silent = (
        Node.objects.filter(last_heartbeat_at__lt=cutoff)
        .exclude(status__in=GONE)
        .exclude(name=me)
    )
    declared = []
    for node in silent:
        with transaction.atomic(using=router.db_for_write(Node)):
            if not silent.filter(pk=node.pk).update(
                status=Node.Status.FAILED, status_changed_at=timezone.now()
            ):
                continue  # another process declared it first
            logger.warning(
                "Node %s missed its heartbeats since %s",
                node.name,
                node.last_heartbeat_at,
            )
            _cluster_health(NODE_FAILURE, me)
            pubsub.broadcast_alert(
                NODE_FAILURE,
                "critical",
                f"Node {node.name} missed {conf.NODE_FAILURE_THRESHOLD} heartbeats",
                {
                    "affected_node": node.name,
                    "role": node.role,
                    "last_heartbeat_at": node.last_heartbeat_at,
                    "heartbeat_interval_ms": conf.HEARTBEAT_INTERVAL,
                    "missed_heartbeats": conf.NODE_FAILURE_THRESHOLD,
                },
                originating_node=me,
            )
            _membership("node_removed", node.name, me)
        declared.append(node.name)
    return declared


def failure_reports() -> dict[str, dict[str, Any]]:
    """Return, per node named by a recent ``node_failure`` alert, who declared it failed.

    Each entry (from the newest alert naming the node) has ``reported_by`` (the alert's
    ``originating_node``), ``reported_at`` and ``alert_id``. One index range scan of the
    newest ``FAILURE_REPORTS_READ`` alerts of the topic.
    """
    rows = Message.objects.filter(
        category=Category.ALERTS.value, topic=NODE_FAILURE
    ).order_by("-sequence")[:FAILURE_REPORTS_READ]
    reports: dict[str, dict[str, Any]] = {}
    for row in rows:
        try:
            payload = row.envelope.payload
        except codec.UnreadablePayload:
            continue
        affected = (payload.get("metadata") or {}).get("affected_node")
        if isinstance(affected, str) and affected not in reports:
            reports[affected] = {
                "reported_by": row.originating_node,
                "reported_at": row.timestamp,
                "alert_id": payload.get("alert_id"),
            }
    return reports


@dataclass(frozen=True)
class ClusterView:
    """The nodes alive now, and who declared each failed node failed."""

    alive: frozenset[str]
    failures: dict[str, dict[str, Any]]

    def failure_of(self, node: Node) -> dict[str, Any] | None:
        """Return who declared ``node`` failed, while it is failed."""
        if node.status != Node.Status.FAILED:
            return None
        return self.failures.get(node.name)


def cluster_view(with_failures: bool) -> ClusterView:
    """Return the alive nodes and, if ``with_failures``, the failure reports."""
    return ClusterView(
        frozenset(Node.objects.alive().values_list("name", flat=True)),
        failure_reports() if with_failures else {},
    )


def leave() -> bool:
    """Mark this node stopped (a clean shutdown, not a failure) and announce it.

    Returns whether this call made the change.
    """
    me = this_node()
    with transaction.atomic(using=router.db_for_write(Node)):
        if not (
            Node.objects.filter(name=me)
            .exclude(status__in=GONE)
            .update(status=Node.Status.STOPPED, status_changed_at=timezone.now())
        ):
            return False
        _membership("node_removed", me, me)
    return True


class HeartbeatThread(threading.Thread):
    """Heartbeats this node and checks the cluster every ``HEARTBEAT_INTERVAL``."""

    def __init__(self, role: str) -> None:
        super().__init__(name="opsmessaging-heartbeat", daemon=True)
        self.role = role
        self.pid = os.getpid()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.tick()
            self.stopping.wait(conf.HEARTBEAT_INTERVAL / 1000)
        close_old_connections()

    def tick(self) -> None:
        close_old_connections()  # a connection broken by a database outage is replaced
        try:
            heartbeat(self.role)
            check_cluster()
            # Whichever process looks first finds a silent job (a dead beat included).
            checkins.detect_missed()
            notifications.dispatch()
        except Exception as exc:  # the loop must survive outages; each one is logged
            logger.warning(
                "Heartbeat of %s failed: %s: %s", this_node(), type(exc).__name__, exc
            )


_thread: HeartbeatThread | None = None
_lock = threading.Lock()
_leaves_at_exit = False


def current_role(default: str) -> str:
    """Return the role this process heartbeats as, or ``default`` if it does not."""
    current = _thread
    if current is not None and current.pid == os.getpid() and current.is_alive():
        return current.role
    return default


def start_heartbeat(role: str) -> HeartbeatThread:
    """Start this process's heartbeat thread (once per process) and return it.

    The first role a process heartbeats as is its role for good (``set_process_role``).
    On a clean exit of the interpreter the node leaves the cluster (``leave``) instead of
    being declared failed.
    """
    global _thread, _leaves_at_exit
    set_process_role(role)
    role = process_role()
    with _lock:
        current = _thread
        if current is not None and current.pid == os.getpid() and current.is_alive():
            return current
        _thread = HeartbeatThread(role)
        _thread.start()
        if not _leaves_at_exit:
            atexit.register(stop_heartbeat)
            _leaves_at_exit = True
        return _thread


def stop_heartbeat(*args: Any, leave_cluster: bool = True, **kwargs: Any) -> None:
    """Stop the heartbeat thread of this process and, by default, leave the cluster.

    Accepts and ignores signal arguments, so it can be connected to ``worker_shutdown``.
    """
    global _thread
    with _lock:
        current, _thread = _thread, None
    if current is None or current.pid != os.getpid():
        return
    current.stopping.set()
    current.join(conf.HEARTBEAT_INTERVAL / 1000 + 5)
    if leave_cluster:
        try:
            leave()
        except Exception:  # shutting down: report and go on
            logger.exception("Node %s could not leave the cluster", this_node())
        finally:
            close_old_connections()

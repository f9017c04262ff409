"""Health of this node: real probes of its components, broadcast as health messages.

``run_health`` probes the database (a round trip), the cache (set, get, delete), the
channel layer (a round trip through it), the Celery broker (a connection) and the Celery
workers (a ping) (``probe_all``), then broadcasts one ``ComponentHealth`` per component and
a ``NodeHealth``, and raises an alert when a component changes status (``report_health``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.db import DatabaseError, connections, router

from opsmessaging import fanout, pubsub, status_changes
from opsmessaging.catalogue import health
from opsmessaging.conf import conf
from opsmessaging.models import GONE, Message, Node
from opsmessaging.nodenames import this_node
from opsmessaging.timestamps import current_timestamp

#: A Celery application (celery ships no type information).
CeleryApp = Any


@dataclass
class Probe:
    """The outcome of probing one component."""

    component: str
    status: str
    duration_ms: float
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_details(self) -> dict[str, Any]:
        """Return the ``ComponentHealth.details`` of this outcome."""
        return {"duration_ms": self.duration_ms, "error": self.error, **self.details}


class ProbeFailed(Exception):
    """Raised when a probed component answers wrongly or not enough (not for errors)."""

    def __init__(self, reason: str, status: str = status_changes.UNHEALTHY) -> None:
        super().__init__(reason)
        self.status = status


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _timed(
    component: str,
    check: Callable[[], dict[str, Any]],
    *,
    judge_speed: bool = True,
) -> Probe:
    """Run ``check`` and classify it: failed is unhealthy, slow is degraded.

    ``check`` returns the probe's details; a ``duration_ms`` among them replaces the
    measured time (for a probe that measures its own round trip).
    """
    started = time.perf_counter()
    try:
        details = check()
    except ProbeFailed as exc:
        return Probe(component, exc.status, _elapsed_ms(started), str(exc))
    except Exception as exc:  # any failure of the component is its health
        return Probe(
            component,
            status_changes.UNHEALTHY,
            _elapsed_ms(started),
            f"{type(exc).__name__}: {exc}",
        )
    duration = details.pop("duration_ms", None) or _elapsed_ms(started)
    probe = Probe(component, status_changes.HEALTHY, duration, None, details)
    if judge_speed and duration > conf.HEALTH_PROBE_SLOW:
        probe.status = status_changes.DEGRADED
        probe.error = (
            f"slow: {duration:g} ms (HEALTH_PROBE_SLOW is {conf.HEALTH_PROBE_SLOW} ms)"
        )
    return probe


def probe_database() -> Probe:
    """Run ``SELECT 1`` on the database that stores messages."""
    alias = router.db_for_write(Message)

    def check() -> dict[str, Any]:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            row = cursor.fetchone()
        if row is None or row[0] != 1:
            raise ProbeFailed(f"SELECT 1 returned {row!r}")
        return {"alias": alias, "vendor": connections[alias].vendor}

    return _timed("database", check)


def probe_cache() -> Probe:
    """Set, read back and delete a unique key in the default cache."""

    def check() -> dict[str, Any]:
        cache = caches[DEFAULT_CACHE_ALIAS]
        key = f"opsmessaging:health:{uuid.uuid4().hex}"
        cache.set(key, key, 30)
        try:
            value = cache.get(key)
        finally:
            cache.delete(key)
        if value != key:
            raise ProbeFailed(f"read back {value!r} instead of the value just set")
        return {"backend": f"{type(cache).__module__}.{type(cache).__name__}"}

    return _timed("cache", check)


def probe_channel_layer() -> Probe | None:
    """Send an event through the channel layer and receive it; None without a layer."""
    if fanout.get_layer() is None:
        return None

    def check() -> dict[str, Any]:
        report = fanout.check_round_trip()
        if report["round_trip"] != "ok":
            raise ProbeFailed(report["round_trip"])
        return {"backend": report["backend"], "duration_ms": report["round_trip_ms"]}

    return _timed("channel_layer", check)


def probe_broker(app: CeleryApp) -> Probe:
    """Open a new connection to the Celery broker (a round trip to it)."""
    timeout = conf.HEALTH_PROBE_TIMEOUT / 1000

    def check() -> dict[str, Any]:
        with app.connection_for_write(connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            return {"transport": connection.transport_cls}

    return _timed("celery_broker", check)


def probe_workers(app: CeleryApp) -> Probe:
    """Ping the Celery workers; degraded if fewer answer than worker nodes are alive."""
    timeout = conf.HEALTH_PROBE_TIMEOUT / 1000
    try:
        expected = max(1, Node.objects.alive().filter(role="worker").count())
    except DatabaseError:  # reported by the database probe; expect one worker
        expected = 1

    def check() -> dict[str, Any]:
        replies = app.control.ping(timeout=timeout, limit=expected) or []
        workers = sorted(name for reply in replies for name in reply)
        details = {"workers": workers, "expected": expected}
        if not workers:
            raise ProbeFailed(f"no worker answered a ping within {timeout:g} s")
        if len(workers) < expected:
            raise ProbeFailed(
                f"{len(workers)} of {expected} workers answered a ping within {timeout:g} s",
                status_changes.DEGRADED,
            )
        return details

    # Waiting for the replies is part of a ping: only a missing answer counts.
    return _timed("celery_workers", check, judge_speed=False)


def probe_all(app: CeleryApp | None) -> list[Probe]:
    """Probe every component of this node; the Celery ones only with an app."""
    probes = [probe_database(), probe_cache()]
    layer = probe_channel_layer()
    if layer is not None:
        probes.append(layer)
    if app is not None:
        probes += [probe_broker(app), probe_workers(app)]
    return probes


def _node_figures() -> dict[str, float]:
    return {
        "load_avg": round(os.getloadavg()[0], 3),
        "memory_usage": psutil.virtual_memory().percent,
        "disk_usage": psutil.disk_usage(os.getcwd()).percent,
    }


def run_health(app: CeleryApp | None = None) -> list[Probe]:
    """Probe this node, broadcast its health, alert on changes; return the probes."""
    return report_health(probe_all(app))


def report_health(probes: list[Probe]) -> list[Probe]:
    """Broadcast the health ``probes`` found, alert on changes; return them.

    Only this part writes, so a periodic run stores it in the transaction of its claim
    while the probing (which can take seconds) holds no lock.
    """
    node = this_node()
    now = current_timestamp()
    status = status_changes.worst([probe.status for probe in probes])
    checks = {
        probe.component: {
            "status": probe.status,
            "duration_ms": probe.duration_ms,
            "error": probe.error,
        }
        for probe in probes
    }
    events = [
        health.component_health(
            probe.component,
            node,
            probe.status,
            details=probe.as_details(),
            last_check=now,
        )
        for probe in probes
    ]
    events.append(health.node_health(node, status, checks=checks, **_node_figures()))
    # The node row before the health counter: the order the heartbeat locks them in.
    Node.objects.filter(name=node).exclude(status__in=GONE).update(status=status)
    pubsub.broadcast_batch(events)
    for probe in probes:
        status_changes.record_and_alert(
            node,
            probe.component,
            probe.status,
            status_changes.HEALTH_ALERTS,
            probe.error,
            {"duration_ms": probe.duration_ms},
        )
    return probes

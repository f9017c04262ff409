"""Changes of a node component's status, detected across processes and raised as alerts.

The last status of each node and component is kept in ``ComponentStatus``, so a change is
seen by whichever process measures next, and announced once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opsmessaging import pubsub
from opsmessaging.models import ComponentStatus

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
_RANK = {HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 2}


@dataclass(frozen=True)
class AlertKinds:
    """The alert types of a family of statuses: for degraded, unhealthy and recovered."""

    degraded: str
    unhealthy: str
    recovered: str


HEALTH_ALERTS = AlertKinds("health_degraded", "health_critical", "health_recovered")
RESOURCE_ALERTS = AlertKinds(
    "resource_warning", "resource_critical", "resource_recovered"
)


def worst(statuses: list[str]) -> str:
    """Return the worst of ``statuses`` (healthy < degraded < unhealthy)."""
    return max(statuses, key=_RANK.__getitem__, default=HEALTHY)


def record_and_alert(
    node: str,
    component: str,
    status: str,
    kinds: AlertKinds,
    reason: str | None,
    context: Mapping[str, Any],
) -> pubsub.BroadcastResult | None:
    """Keep ``status``; when it changed, broadcast the alert of the change and return it.

    ``reason`` says why the component is not healthy; ``context`` goes to the metadata.
    Turning degraded raises a ``warning``, turning unhealthy a ``critical`` alert, and
    returning to healthy from either an ``info`` recovery alert. A component first seen
    healthy raises nothing.
    """
    change = ComponentStatus.record(node, component, status)
    if change is None:
        return None
    previous, current = change
    if current == HEALTHY:
        if previous is None or previous == HEALTHY:
            return None
        alert_type, severity = kinds.recovered, "info"
        title = f"{component} on {node} recovered (was {previous})"
    else:
        if current == DEGRADED:
            alert_type, severity = kinds.degraded, "warning"
        else:
            alert_type, severity = kinds.unhealthy, "critical"
        title = f"{component} on {node} is {current}: {reason or 'no reason given'}"
    return pubsub.broadcast_alert(
        alert_type,
        severity,
        title,
        {
            "node": node,
            "component": component,
            "previous_status": previous,
            "status": current,
            **context,
        },
    )

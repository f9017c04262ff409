"""A small cluster for tests: this node, and another one it declared failed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from opsmessaging.models import Message, Node
from opsmessaging.nodes import NODE_FAILURE, check_cluster


def declare_failed(
    settings: Any, me: str = "web1@a", other: str = "worker1@b"
) -> tuple[Message, datetime]:
    """Register ``me`` and ``other``, silence ``other`` and let ``me`` declare it failed.

    Returns the ``node_failure`` alert and ``other``'s last heartbeat.
    """
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "NODE_NAME": me}
    Node.heartbeat(me, role="web")
    Node.heartbeat(other, role="worker")
    silent_since = timezone.now() - timedelta(minutes=5)
    Node.objects.filter(name=other).update(last_heartbeat_at=silent_since)
    assert check_cluster() == [other]
    return Message.objects.get(category="alerts", topic=NODE_FAILURE), silent_since

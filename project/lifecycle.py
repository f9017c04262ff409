"""Announce the demo server's start as a ``system`` message."""

from __future__ import annotations

import logging

import opsmessaging
from opsmessaging import pubsub
from opsmessaging.helpers import this_node
from opsmessaging.models import Node

logger = logging.getLogger(__name__)


def announce_started(role: str) -> pubsub.BroadcastResult:
    """Register this node and broadcast ``SystemLifecycle`` ``started``."""
    Node.heartbeat(this_node(), role=role)
    result = pubsub.broadcast_system_lifecycle(
        "started", "opsmessaging_demo", opsmessaging.__version__
    )
    if result.message is not None:
        logger.info(
            "Broadcast system started: %s #%s from %s",
            result.message.category,
            result.message.sequence,
            result.message.node,
        )
    return result

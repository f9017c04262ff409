"""Announce the demo server's start as a ``system`` message, and keep its node alive."""

from __future__ import annotations

import logging
import os

import opsmessaging
from opsmessaging import nodes, pubsub

logger = logging.getLogger(__name__)


def background_threads() -> bool:
    """Tell whether the server may start background threads (not under the tests)."""
    return os.environ.get("DEMO_BACKGROUND_THREADS", "1") == "1"


def announce_started(role: str) -> pubsub.BroadcastResult:
    """Register this node, broadcast ``SystemLifecycle`` ``started`` and heartbeat.

    The heartbeat thread is not started under ``DEMO_BACKGROUND_THREADS=0`` (the tests).
    """
    nodes.heartbeat(role)
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
    if background_threads():
        nodes.start_heartbeat(role)
    return result

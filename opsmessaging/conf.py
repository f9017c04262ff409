"""The ``OPSMESSAGING`` settings dict, its defaults and a typed accessor.

Values are read fresh on every access, so ``override_settings`` works; bad values are
reported by the system checks in ``opsmessaging.checks``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from opsmessaging.categories import Category

DEFAULTS: dict[str, Any] = {
    # Master switch of the original (``:pubsub_integration``).
    "PUBSUB_INTEGRATION": True,
    # Milliseconds between scheduled health and metrics broadcasts.
    "HEALTH_BROADCAST_INTERVAL": 30_000,
    "METRICS_BROADCAST_INTERVAL": 60_000,
    # This node's name; None means "django@<hostname>".
    "NODE_NAME": None,
    # Reported as cluster_context()["node_type"].
    "NODE_TYPE": "combined_node",
    # Largest accepted payload, in bytes of its JSON encoding.
    "MAX_PAYLOAD_BYTES": 64 * 1024,
    # Milliseconds a broadcast may wait for the channel layer before reporting failure.
    "FANOUT_TIMEOUT": 500,
    # WebSocket: largest accepted client frame (bytes), messages queued per connection
    # before a slow client is told it fell behind, and rows per replay query.
    "WS_MAX_FRAME_BYTES": 16 * 1024,
    "WS_BUFFER_SIZE": 1000,
    "WS_REPLAY_BATCH": 500,
    # Nodes: milliseconds between heartbeats of every process, and how many missed
    # heartbeats make a node failed.
    "HEARTBEAT_INTERVAL": 5_000,
    "NODE_FAILURE_THRESHOLD": 3,
    # Health probes: a probe of the broker or the workers gives up after
    # HEALTH_PROBE_TIMEOUT ms; a successful probe slower than HEALTH_PROBE_SLOW ms is
    # "degraded".
    "HEALTH_PROBE_TIMEOUT": 1_000,
    "HEALTH_PROBE_SLOW": 250,
    # Retention: days each category is kept (None keeps it forever; the user's dict is
    # merged over this one), rows deleted per statement, ms between scheduled prunes.
    "RETENTION_DAYS": {
        Category.METRICS.value: 7,
        Category.DIAGNOSTICS.value: 7,
        Category.HEALTH.value: 14,
        Category.LOGGING.value: 30,
        Category.SYSTEM.value: 90,
        Category.LIFECYCLE.value: 90,
        Category.ALERTS.value: 90,
        Category.SECURITY.value: 365,
        Category.AUDIT.value: 365,
    },
    "RETENTION_BATCH_SIZE": 1_000,
    "RETENTION_INTERVAL": 3_600_000,
}


class Settings:
    """Typed, uncached view of ``settings.OPSMESSAGING`` over ``DEFAULTS``."""

    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, "OPSMESSAGING", {})
        return value if isinstance(value, dict) else {}

    def get(self, name: str) -> Any:
        return self.user_settings().get(name, DEFAULTS[name])

    @property
    def PUBSUB_INTEGRATION(self) -> bool:
        return self.get("PUBSUB_INTEGRATION") is True

    @property
    def HEALTH_BROADCAST_INTERVAL(self) -> int:
        return int(self.get("HEALTH_BROADCAST_INTERVAL"))

    @property
    def METRICS_BROADCAST_INTERVAL(self) -> int:
        return int(self.get("METRICS_BROADCAST_INTERVAL"))

    @property
    def NODE_NAME(self) -> str | None:
        value = self.get("NODE_NAME")
        return value if value is None else str(value)

    @property
    def NODE_TYPE(self) -> str:
        return str(self.get("NODE_TYPE"))

    @property
    def MAX_PAYLOAD_BYTES(self) -> int:
        return int(self.get("MAX_PAYLOAD_BYTES"))

    @property
    def FANOUT_TIMEOUT(self) -> int:
        return int(self.get("FANOUT_TIMEOUT"))

    @property
    def WS_MAX_FRAME_BYTES(self) -> int:
        return int(self.get("WS_MAX_FRAME_BYTES"))

    @property
    def WS_BUFFER_SIZE(self) -> int:
        return int(self.get("WS_BUFFER_SIZE"))

    @property
    def WS_REPLAY_BATCH(self) -> int:
        return int(self.get("WS_REPLAY_BATCH"))

    @property
    def HEARTBEAT_INTERVAL(self) -> int:
        return int(self.get("HEARTBEAT_INTERVAL"))

    @property
    def NODE_FAILURE_THRESHOLD(self) -> int:
        return int(self.get("NODE_FAILURE_THRESHOLD"))

    @property
    def HEALTH_PROBE_TIMEOUT(self) -> int:
        return int(self.get("HEALTH_PROBE_TIMEOUT"))

    @property
    def HEALTH_PROBE_SLOW(self) -> int:
        return int(self.get("HEALTH_PROBE_SLOW"))

    @property
    def RETENTION_DAYS(self) -> dict[str, float | None]:
        """Days kept per category: the defaults with the user's entries merged over them."""
        user = self.user_settings().get("RETENTION_DAYS") or {}
        return {**DEFAULTS["RETENTION_DAYS"], **user}

    @property
    def RETENTION_BATCH_SIZE(self) -> int:
        return int(self.get("RETENTION_BATCH_SIZE"))

    @property
    def RETENTION_INTERVAL(self) -> int:
        return int(self.get("RETENTION_INTERVAL"))


conf = Settings()

"""The ``OPSMESSAGING`` settings dict, its defaults and a typed accessor.

Values are read fresh on every access, so ``override_settings`` works; bad values are
reported by the system checks in ``opsmessaging.checks``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

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
    # HTTP API (opsmessaging.api): messages per page by default and at most (``limit``).
    "API_PAGE_SIZE": 50,
    "API_MAX_PAGE_SIZE": 1000,
    # Most events in one ``POST messages/batch/``.
    "API_MAX_BATCH_SIZE": 500,
    # Broadcasts (POST) per user, as "<count>/<second|minute|hour|day>"; None: no limit.
    "API_WRITE_THROTTLE_RATE": "120/minute",
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
    def API_PAGE_SIZE(self) -> int:
        return int(self.get("API_PAGE_SIZE"))

    @property
    def API_MAX_PAGE_SIZE(self) -> int:
        return int(self.get("API_MAX_PAGE_SIZE"))

    @property
    def API_MAX_BATCH_SIZE(self) -> int:
        return int(self.get("API_MAX_BATCH_SIZE"))

    @property
    def API_WRITE_THROTTLE_RATE(self) -> str | None:
        value = self.get("API_WRITE_THROTTLE_RATE")
        return value if value is None else str(value)


conf = Settings()

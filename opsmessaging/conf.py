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
    # Milliseconds a broadcast may wait for the channel layer before reporting failure.
    "FANOUT_TIMEOUT": 500,
    # WebSocket: largest accepted client frame (bytes), messages queued per connection
    # before a slow client is told it fell behind, and rows per replay query.
    "WS_MAX_FRAME_BYTES": 16 * 1024,
    "WS_BUFFER_SIZE": 1000,
    "WS_REPLAY_BATCH": 500,
    # Milliseconds between a connection's checks of the store for messages it missed
    # (lost or cross-process deliveries); 0 turns the check off.
    "WS_POLL_INTERVAL": 1000,
    # Signing keys, current first: [{"id": "k2", "secret": "..."}, ...]; empty means one
    # derived from SECRET_KEY (and SECRET_KEY_FALLBACKS) with its own salt.
    "SIGNING_KEYS": [],
    # Fernet keys, current first; empty means derived from SECRET_KEY with its own salt.
    "ENCRYPTION_KEYS": [],
    # Categories whose payloads are encrypted at rest.
    "ENCRYPTED_CATEGORIES": ["security", "audit"],
    # Payloads of at least this many bytes of JSON are stored compressed; 0 never.
    "COMPRESS_MIN_BYTES": 4096,
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
    def WS_POLL_INTERVAL(self) -> int:
        return int(self.get("WS_POLL_INTERVAL"))

    @property
    def SIGNING_KEYS(self) -> list[dict[str, str]]:
        return list(self.get("SIGNING_KEYS"))

    @property
    def ENCRYPTION_KEYS(self) -> list[str]:
        return list(self.get("ENCRYPTION_KEYS"))

    @property
    def ENCRYPTED_CATEGORIES(self) -> frozenset[str]:
        return frozenset(self.get("ENCRYPTED_CATEGORIES"))

    @property
    def COMPRESS_MIN_BYTES(self) -> int:
        return int(self.get("COMPRESS_MIN_BYTES"))


conf = Settings()

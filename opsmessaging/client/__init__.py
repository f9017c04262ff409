"""Clients of the WebSocket endpoint and the HTTP API (the ``client`` extra).

``subscribe``/``asubscribe`` yield every message of a subscription exactly once, in
sequence order, across disconnects, server restarts, ``behind`` and ``resume`` frames;
``Client`` reads the history and broadcasts over the HTTP API. Nothing here imports Django
or the server side of the app: only ``opsmessaging.protocol``, the wire contract.
"""

from __future__ import annotations

from opsmessaging.client.http import ApiError, Client
from opsmessaging.client.messages import (
    ClientError,
    EpochChanged,
    NotAuthenticated,
    Reset,
    SubscriptionRefused,
    WireMessage,
)
from opsmessaging.client.subscribe import (
    AsyncSubscription,
    Subscription,
    asubscribe,
    subscribe,
)

__all__ = [
    "ApiError",
    "AsyncSubscription",
    "Client",
    "ClientError",
    "EpochChanged",
    "NotAuthenticated",
    "Reset",
    "Subscription",
    "SubscriptionRefused",
    "WireMessage",
    "asubscribe",
    "subscribe",
]

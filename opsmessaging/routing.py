"""WebSocket routes: ``websocket_urlpatterns`` and a ready-made, protected application."""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from django.urls import path

from opsmessaging.consumers import SubscriptionConsumer
from opsmessaging.protocol import WEBSOCKET_PATH
from opsmessaging.websocket_auth import BrowserOriginValidator, session_or_token_auth

websocket_urlpatterns = [
    path(
        WEBSOCKET_PATH.removeprefix("/"),
        SubscriptionConsumer.as_asgi(),
        name="opsmessaging-ws",
    ),
]


def websocket_application() -> Any:
    """Return the WebSocket app: origin check, session or token auth, then the routes."""
    return BrowserOriginValidator(
        session_or_token_auth(URLRouter(websocket_urlpatterns))
    )

"""WebSocket authentication (session cookie or DRF token) and origin validation."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

ASGIApp = Any


def _token_user(key: str) -> Any:
    if not apps.is_installed("rest_framework.authtoken"):
        return AnonymousUser()
    from rest_framework.authtoken.models import Token  # type: ignore[import-not-found,unused-ignore]

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class TokenAuthMiddleware(BaseMiddleware):  # type: ignore[misc]
    """Authenticates ``Authorization: Token <key>`` (DRF tokens); a bad token is anonymous."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                kind, _, key = value.decode("latin1").partition(" ")
                if kind == "Token" and key:
                    scope = {
                        **scope,
                        "user": await database_sync_to_async(_token_user)(key.strip()),
                    }
                else:
                    scope = {**scope, "user": AnonymousUser()}
                break
        return await super().__call__(scope, receive, send)


class BrowserOriginValidator(OriginValidator):  # type: ignore[misc]
    """Checks the ``Origin`` of browsers against ``ALLOWED_HOSTS``; refused ones get a 403.

    Browsers always send ``Origin`` on a WebSocket handshake, so a missing one means a
    non-browser client (which cannot be the victim of cross-site hijacking) and is allowed.
    """

    def __init__(self, application: ASGIApp) -> None:
        allowed = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed:
            allowed = ["localhost", "127.0.0.1", "[::1]"]
        super().__init__(application, allowed)

    def valid_origin(self, parsed_origin: Any) -> bool:
        return parsed_origin is None or bool(self.validate_origin(parsed_origin))


def session_or_token_auth(inner: ASGIApp) -> ASGIApp:
    """Wrap ``inner`` with session-cookie auth, then token auth when a header is given."""
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))

"""WebSocket authentication (session cookie or DRF token), its re-check, and origin validation."""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

ASGIApp = Any


def _token_user(key: str) -> Any:
    if not apps.is_installed("rest_framework.authtoken"):
        return AnonymousUser()
    from rest_framework.authtoken.models import Token  # type: ignore[import-not-found,unused-ignore]

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


#: Where ``TokenAuthMiddleware`` leaves the token a connection authenticated with.
TOKEN_SCOPE_KEY = "opsmessaging.token"


def current_user(scope: dict[str, Any]) -> Any:
    """Return the connection's user as the database knows it now, permissions unread.

    ``AnonymousUser`` once access is gone: its token was deleted, its session ended
    (logout, expiry, flushed, a password change) or the user was deactivated. A connection
    authenticates once, at its handshake; this is how it learns that it no longer would.
    """
    key = scope.get(TOKEN_SCOPE_KEY)
    if key is not None:
        return _token_user(key)
    session = scope.get("session")
    session_key = getattr(session, "session_key", None)
    if session_key is None:
        return AnonymousUser()
    engine = import_module(settings.SESSION_ENGINE)
    fresh = SimpleNamespace(session=engine.SessionStore(session_key))
    user = get_user(fresh)  # type: ignore[arg-type]  # it only reads .session
    if not user.is_authenticated or user.pk != getattr(scope.get("user"), "pk", None):
        return AnonymousUser()
    return user


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
                        TOKEN_SCOPE_KEY: key.strip(),
                    }
                else:
                    scope = {**scope, "user": AnonymousUser()}
                break
        return await super().__call__(scope, receive, send)


class BrowserOriginValidator:
    """Checks the full ``Origin`` (scheme, host and port) of browsers; refused ones get a 403.

    An origin is accepted when it is the connection's own (``http://`` or ``https://`` for
    ``ws://`` or ``wss://``, and the ``Host`` it connected to, which must be in
    ``ALLOWED_HOSTS``), or one the deployment declares in ``CSRF_TRUSTED_ORIGINS``
    (``https://*.example.com`` for subdomains): the rules of Django's CSRF origin check.
    Another port or scheme on an allowed host (``http://127.0.0.1:9999``) is refused.

    Browsers always send ``Origin`` on a WebSocket handshake, so a missing one means a
    non-browser client (which cannot be the victim of cross-site hijacking) and is allowed.
    """

    def __init__(self, application: ASGIApp) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("BrowserOriginValidator only guards WebSocket connections")
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin")
        if origin is None or origin_allowed(
            origin.decode("latin1"), headers.get(b"host", b"").decode("latin1"), scope
        ):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def _allowed_hosts() -> list[str]:
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # as Django's get_host() does
    return allowed


def origin_allowed(origin: str, host: str, scope: dict[str, Any]) -> bool:
    """Tell whether a browser at ``origin`` may open this connection to ``host``."""
    secure = scope.get("scheme") == "wss"
    own = f"{'https' if secure else 'http'}://{host}"
    domain, _port = split_domain_port(host)
    if origin == own and domain and validate_host(domain, _allowed_hosts()):
        return True
    trusted = list(getattr(settings, "CSRF_TRUSTED_ORIGINS", []))
    if origin in trusted:
        return True
    parsed = urlsplit(origin)
    return any(
        parsed.scheme == pattern.split("://", 1)[0]
        and is_same_domain(parsed.netloc, pattern.split("://", 1)[1].removeprefix("*"))
        for pattern in trusted
        if "://*." in pattern
    )


def session_or_token_auth(inner: ASGIApp) -> ASGIApp:
    """Wrap ``inner`` with session-cookie auth, then token auth when a header is given."""
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))

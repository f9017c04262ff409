"""Security capture: logins, logouts, failed logins and brute-force detection.

Never stores a password, a session key or any other credential: failed logins keep only
the attempted username (in encrypted ``AuthEvent``s, and encrypted in the brute-force
window: a mistyped username is often a password), sessions are named by a one-way digest
of their key.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth import signals as auth_signals
from django.http import HttpRequest

from opsmessaging import codec, pubsub
from opsmessaging.capture.guard import guarded
from opsmessaging.capture.request import client_ip, user_agent, user_id_of
from opsmessaging.conf import conf
from opsmessaging.models import OccurrenceWindow

# Session key under which the login time is kept, for the logout's session duration.
LOGIN_AT_SESSION_KEY = "_opsmessaging_login_at_ms"
USERNAME_MAX_LENGTH = 150
AFFECTED_USERS_MAX = 20
UNKNOWN_SOURCE = "unknown"
#: The brute-force window's details key of its usernames, encrypted (``codec.encrypt_json``).
USERNAMES_KEY = "usernames_encrypted"


def connect() -> None:
    """Connect the authentication signals."""
    auth_signals.user_logged_in.connect(
        on_user_logged_in, dispatch_uid="opsmessaging.capture.logins.logged_in"
    )
    auth_signals.user_logged_out.connect(
        on_user_logged_out, dispatch_uid="opsmessaging.capture.logins.logged_out"
    )
    auth_signals.user_login_failed.connect(
        on_user_login_failed, dispatch_uid="opsmessaging.capture.logins.login_failed"
    )


def session_digest(request: HttpRequest | None) -> str | None:
    """Return a one-way digest naming the request's session, or None without a session.

    The session key itself is a bearer credential and is never stored.
    """
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if not key:
        return None
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:32]


def auth_method(user: Any) -> str:
    """Guess the catalogue auth method from the backend that authenticated ``user``."""
    backend = str(getattr(user, "backend", "") or "").lower()
    if "token" in backend or "jwt" in backend:
        return "token"
    if "oauth" in backend or "social" in backend or "oidc" in backend:
        return "oauth"
    if "remoteuser" in backend or "certificate" in backend:
        return "certificate"
    return "password"


def _auth_event(
    event_type: str,
    user_id: str,
    method: str,
    username: str,
    request: HttpRequest | None,
) -> None:
    pubsub.broadcast_security_event(
        "auth_event",
        user_id=user_id,
        event_type=event_type,
        auth_method=method,
        source_ip=client_ip(request),
        user_agent=user_agent(request),
        metadata={"username": username},
    )


def _session_event(
    event_type: str, user_id: str, request: HttpRequest | None, **fields: Any
) -> None:
    digest = session_digest(request)
    if digest is None:
        return
    pubsub.broadcast_security_event(
        "session_event",
        session_id=digest,
        user_id=user_id,
        event_type=event_type,
        source_ip=client_ip(request),
        **fields,
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


@guarded
def on_user_logged_in(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    if not conf.CAPTURE_AUTH:
        return
    user_id = user_id_of(user) or str(getattr(user, "pk", UNKNOWN_SOURCE))
    _auth_event(
        "login_success", user_id, auth_method(user), user.get_username(), request
    )
    session = getattr(request, "session", None)
    if session is not None:
        session[LOGIN_AT_SESSION_KEY] = _now_ms()
    _session_event("created", user_id, request)


@guarded
def on_user_logged_out(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    user_id = user_id_of(user)
    if not conf.CAPTURE_AUTH or user_id is None:
        return  # logging out an anonymous visitor ends nothing
    _auth_event("logout", user_id, auth_method(user), user.get_username(), request)
    session = getattr(request, "session", None)
    login_at = session.get(LOGIN_AT_SESSION_KEY) if session is not None else None
    duration = max(0, _now_ms() - login_at) if isinstance(login_at, int) else None
    _session_event("destroyed", user_id, request, duration_ms=duration)


def attempted_username(credentials: Any) -> str:
    """Return the username a failed login tried, never any other credential."""
    if not isinstance(credentials, dict):
        return UNKNOWN_SOURCE
    field = get_user_model().USERNAME_FIELD
    value = credentials.get(field, credentials.get("username"))
    if not isinstance(value, str) or not value.strip():
        return UNKNOWN_SOURCE
    return value.strip()[:USERNAME_MAX_LENGTH]


@guarded
def on_user_login_failed(
    sender: Any, credentials: Any, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if not conf.CAPTURE_AUTH:
        return
    username = attempted_username(credentials)
    _auth_event("login_failure", username, "password", username, request)
    record_failure_for_brute_force(client_ip(request), username)


def window_usernames(details: dict[str, Any]) -> list[str]:
    """Return the usernames kept in a brute-force window's details (decrypted; an
    unreadable list, after a change of keys, is started anew)."""
    token = details.get(USERNAMES_KEY)
    if isinstance(token, str):
        try:
            users = codec.decrypt_json(token)
        except codec.UnreadablePayload:
            return []
        return (
            [u for u in users if isinstance(u, str)] if isinstance(users, list) else []
        )
    legacy = details.get("usernames")  # plain text, kept by earlier versions
    return [u for u in legacy if isinstance(u, str)] if isinstance(legacy, list) else []


def record_failure_for_brute_force(ip: str | None, username: str) -> None:
    """Count a failed login from ``ip``; at the threshold, broadcast a ``brute_force`` alert.

    The count is shared by every process through the database and resets when the window
    ends; the alert is sent once per window.
    """
    source = ip or UNKNOWN_SOURCE

    def remember_user(details: dict[str, Any]) -> dict[str, Any]:
        users = window_usernames(details)
        if username not in users and len(users) < AFFECTED_USERS_MAX:
            users.append(username)
        rest = {k: v for k, v in details.items() if k != "usernames"}
        return {**rest, USERNAMES_KEY: codec.encrypt_json(users)}

    window = conf.BRUTE_FORCE_WINDOW
    threshold = conf.BRUTE_FORCE_THRESHOLD
    seen = OccurrenceWindow.objects.record(
        f"login_failure:{source}", window, threshold, remember_user
    )
    if not seen.is_threshold_crossed:
        return
    pubsub.broadcast_security_event(
        "security_alert",
        alert_type="brute_force",
        severity="high",
        description=(
            f"{seen.count} failed logins from {source} within {window / 1000:g} s "
            f"(threshold {threshold})"
        ),
        affected_users=window_usernames(seen.details),
        source_ip=ip,
        metadata={
            "failures": seen.count,
            "threshold": threshold,
            "window_ms": window,
            "first_seen": seen.first_seen_at,
            "last_seen": seen.last_seen_at,
        },
    )

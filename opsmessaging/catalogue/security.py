"""Security category: authentication, access violations, security alerts, sessions."""

from __future__ import annotations

from typing import Any

from opsmessaging import categories as c
from opsmessaging.catalogue.base import (
    Field,
    Kind,
    Payload,
    PayloadType,
    node_field,
    register,
    timestamp_field,
)
from opsmessaging.categories import Category

AUTH_EVENT_TYPES = ("login_success", "login_failure", "logout", "token_refresh")
AUTH_METHODS = ("password", "token", "certificate", "oauth")
VIOLATION_TYPES = (
    "unauthorized_access",
    "permission_denied",
    "rate_limit_exceeded",
    "invalid_token",
)
SECURITY_SEVERITIES = ("low", "medium", "high", "critical")
SECURITY_ALERT_TYPES = (
    "brute_force",
    "suspicious_activity",
    "policy_violation",
    "data_breach",
)
SESSION_EVENT_TYPES = ("created", "destroyed", "expired", "invalidated")

AuthEvent = register(
    PayloadType(
        "AuthEvent",
        Category.SECURITY,
        "auth_event",
        (
            Field("user_id", Kind.STRING, required=True),
            Field("event_type", Kind.STRING, required=True, choices=AUTH_EVENT_TYPES),
            Field("auth_method", Kind.STRING, required=True, choices=AUTH_METHODS),
            Field("source_ip", Kind.IP_ADDRESS),
            Field("user_agent", Kind.STRING),
            node_field(),
            Field("metadata", Kind.OBJECT, default={}),
            timestamp_field(),
        ),
        "A login, logout, failed login or token refresh.",
        default_topic=c.AUTH_EVENTS_TOPIC,
    )
)

AccessViolation = register(
    PayloadType(
        "AccessViolation",
        Category.SECURITY,
        "access_violation",
        (
            Field("user_id", Kind.STRING),
            Field(
                "violation_type", Kind.STRING, required=True, choices=VIOLATION_TYPES
            ),
            Field("resource", Kind.STRING, required=True),
            Field("action", Kind.STRING, required=True),
            Field("source_ip", Kind.IP_ADDRESS),
            Field(
                "severity", Kind.STRING, choices=SECURITY_SEVERITIES, default="medium"
            ),
            Field("metadata", Kind.OBJECT, default={}),
            timestamp_field(),
        ),
        "Someone tried something they may not do.",
        default_topic=c.ACCESS_VIOLATIONS_TOPIC,
        severity_field="severity",
    )
)

SecurityAlert = register(
    PayloadType(
        "SecurityAlert",
        Category.SECURITY,
        "security_alert",
        (
            Field(
                "alert_type", Kind.STRING, required=True, choices=SECURITY_ALERT_TYPES
            ),
            Field("severity", Kind.STRING, required=True, choices=SECURITY_SEVERITIES),
            Field("description", Kind.STRING, required=True),
            Field("affected_users", Kind.ARRAY, items=Kind.STRING, default=[]),
            Field("source_ip", Kind.IP_ADDRESS),
            node_field(),
            Field("metadata", Kind.OBJECT, default={}),
            timestamp_field(),
        ),
        "A suspected attack or policy breach.",
        default_topic=c.SECURITY_ALERTS_TOPIC,
        severity_field="severity",
    )
)

SessionEvent = register(
    PayloadType(
        "SessionEvent",
        Category.SECURITY,
        "session_event",
        (
            Field("session_id", Kind.STRING, required=True),
            Field("user_id", Kind.STRING, required=True),
            Field(
                "event_type", Kind.STRING, required=True, choices=SESSION_EVENT_TYPES
            ),
            Field("duration_ms", Kind.NUMBER, minimum=0),
            Field("source_ip", Kind.IP_ADDRESS),
            node_field(),
            timestamp_field(),
        ),
        "A session was created, destroyed, expired or invalidated.",
        default_topic=c.SESSION_EVENTS_TOPIC,
    )
)


def auth_event(user_id: str, event_type: str, auth_method: str, **opts: Any) -> Payload:
    return AuthEvent.new(
        user_id=user_id, event_type=event_type, auth_method=auth_method, **opts
    )


def access_violation(
    violation_type: str, resource: str, action: str, **opts: Any
) -> Payload:
    return AccessViolation.new(
        violation_type=violation_type, resource=resource, action=action, **opts
    )


def security_alert(
    alert_type: str, severity: str, description: str, **opts: Any
) -> Payload:
    return SecurityAlert.new(
        alert_type=alert_type, severity=severity, description=description, **opts
    )


def session_event(
    session_id: str, user_id: str, event_type: str, **opts: Any
) -> Payload:
    return SessionEvent.new(
        session_id=session_id, user_id=user_id, event_type=event_type, **opts
    )
